"""Environment construction, space checks and wrappers."""
from keelrl.envs.make import check_env_id, env_label, make_env, make_vector_env

__all__ = ["check_env_id", "env_label", "make_env", "make_vector_env"]
