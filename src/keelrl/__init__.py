"""keelrl: readable, tested, fast PyTorch reinforcement learning."""
from keelrl.version import __version__  # noqa: E402

import keelrl.envs.probes  # noqa: E402,F401  (registers the probe environments keel/Probe*-v0)
import keelrl.envs.hybrid  # noqa: E402,F401  (registers the hybrid-action environments keel/Platform-v0, ...)
from keelrl.algos import AlgoSpec, register_algo  # noqa: E402
from keelrl.algos.sac import SACAgent, SACConfig  # noqa: E402
from keelrl import train  # noqa: E402  (the package keelrl.train, which calling runs train.dispatch.train)
from keelrl.train.callbacks import RunView, SaveBestAgent, StopOnReturn  # noqa: E402
from keelrl.train.checkpoint import load_agent, save_agent  # noqa: E402
from keelrl.train.config import OfflineRunConfig, RunConfig  # noqa: E402
from keelrl.train.dispatch import resume  # noqa: E402
from keelrl.types import Spaces  # noqa: E402

__all__ = ["SACAgent", "SACConfig", "RunConfig", "OfflineRunConfig", "train", "resume", "save_agent", "load_agent",
           "register_algo", "AlgoSpec", "Spaces", "RunView", "StopOnReturn", "SaveBestAgent", "__version__"]
