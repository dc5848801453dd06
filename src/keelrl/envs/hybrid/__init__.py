"""Parameterized-action (hybrid) environments: a discrete action and its continuous parameters,
gymnasium Tuple(Discrete(K), Box(P)) spaces. Registered on `import keelrl`:

    keel/Platform-v0    Masson, Ranchod & Konidaris 2016 (platform.py)
"""
import gymnasium as gym


def register_hybrid() -> None:
    if "keel/Platform-v0" not in gym.registry:
        gym.register("keel/Platform-v0", entry_point="keelrl.envs.hybrid.platform:PlatformEnv", max_episode_steps=200)


register_hybrid()
