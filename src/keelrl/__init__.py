"""keelrl: readable, tested, fast PyTorch reinforcement learning."""
__version__ = "0.1.0"

from keelrl.algos.sac import SACAgent, SACConfig  # noqa: E402
from keelrl.train.checkpoint import load_agent, save_agent  # noqa: E402
from keelrl.train.config import RunConfig  # noqa: E402
from keelrl.train.online import resume, train  # noqa: E402

__all__ = ["SACAgent", "SACConfig", "RunConfig", "train", "resume", "save_agent", "load_agent", "__version__"]
