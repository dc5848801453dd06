"""Environment construction and wrappers."""
from keelrl.envs.make import check_env_id, make_env, make_vector_env, require_continuous, require_discrete, require_flat_obs

__all__ = ["check_env_id", "make_env", "make_vector_env", "require_continuous", "require_discrete", "require_flat_obs"]
