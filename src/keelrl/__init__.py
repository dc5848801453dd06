"""keelrl: readable, tested, fast PyTorch reinforcement learning."""
__version__ = "0.1.0"

from keelrl.algos.sac import SACAgent, SACConfig  # noqa: E402
from keelrl.train.config import RunConfig  # noqa: E402
from keelrl.train.online import resume, train  # noqa: E402

__all__ = ["SACAgent", "SACConfig", "RunConfig", "train", "resume", "__version__"]
