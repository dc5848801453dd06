"""Parameterized-action (hybrid) environments: a discrete action and its continuous parameters,
gymnasium Tuple(Discrete(K), Box(P)) spaces. Registered on `import keelrl`:

    keel/Platform-v0     Masson, Ranchod & Konidaris 2016 (platform.py)
    keel/Goal-v0         Masson, Ranchod & Konidaris 2016, robot soccer (goal.py)
    keel/HardGoal-v0     Li et al. 2022 (HyAR): Goal with each shot split into five (goal.py)
    keel/CatchPoint-v0   Li et al. 2022 (HyAR): move, or try to catch a point (catch_point.py)
    keel/HardMove-v0     Li et al. 2022 (HyAR): n on/off actuators, 2^n actions; kwarg n in 4, 6, 8, 10 (hard_move.py)
"""
import gymnasium as gym

HYBRID_ENVS = {
    "keel/Platform-v0": ("keelrl.envs.hybrid.platform:PlatformEnv", 200),
    "keel/Goal-v0": ("keelrl.envs.hybrid.goal:GoalEnv", None),           # ends itself at its 100th action
    "keel/HardGoal-v0": ("keelrl.envs.hybrid.goal:HardGoalEnv", None),
    "keel/CatchPoint-v0": ("keelrl.envs.hybrid.catch_point:CatchPointEnv", 25),
    "keel/HardMove-v0": ("keelrl.envs.hybrid.hard_move:HardMoveEnv", 30),
}
"""id -> (entry point, max_episode_steps: the reference's episode length)."""


def register_hybrid() -> None:
    for env_id, (entry_point, steps) in HYBRID_ENVS.items():
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=entry_point, max_episode_steps=steps)


register_hybrid()
