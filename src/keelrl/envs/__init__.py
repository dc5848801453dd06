"""Environment construction, space checks and wrappers."""
from keelrl.envs.make import check_env_id, env_label, make_env, make_vector_env
import keelrl.envs.pixel_point  # noqa: F401  (registers keel/PixelPoint-v0)
import keelrl.envs.tree  # noqa: F401  (registers keel/Tree-v0)

__all__ = ["check_env_id", "env_label", "make_env", "make_vector_env"]
