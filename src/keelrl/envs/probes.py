"""Probe environments: tiny tasks whose value function and best action are known, so that a run on
them checks an algorithm's wiring (targets, terminations, discounting, which network bootstraps,
signs of log-probabilities), not only that it runs. Registered on `import keelrl`, each in a
continuous-action version (Box(-1, 1, (1,))), a discrete one (`...Discrete-v0`, Discrete(2)) and a
hybrid one (`...Hybrid-v0`, Tuple(Discrete(2), Box(-1, 1, (2,))), action k reading parameter k;
a pixel one (`...Pixels-v0`: continuous actions, the observation s drawn as a uint8 frame [1, 8, 8]
of the grey level round(127.5 (1 + s)), for the agents that learn from pixels);
where the action matters, a hybrid action (k, x) earns the continuous reward of x_k when k is the
discrete version's best action and -1 otherwise).

Observations are Box(-1, 1, (1,)). Each class states its answer as `q_value(obs, action, gamma)`
(the optimal action value; on a one-step probe also the value of every action) and, where the
best action depends on it, `best_action(obs)`.

    keel/ProbeConstant-v0       one step, reward 1                            Q = 1
    keel/ProbeObsReward-v0      one step, obs ±1 at random, reward = obs      Q(s, ·) = s
    keel/ProbeTwoStep-v0        obs 0 then 1, reward 0 then 1                 Q(0) = γ, Q(1) = 1
    keel/ProbeActionReward-v0   one step; continuous r = 1 - (a - ½)², discrete r = +1 for a = 1, -1 for a = 0
    keel/ProbeObsAction-v0      one step, obs ±1; continuous r = 1 - (a - s/2)², discrete r = +1 when a = (s > 0), else -1
    keel/ProbeTruncation-v0     reward 1 every step, never terminates, truncated after 5 steps:
                                Q = 1 / (1 - γ) (bootstrapping through the time limit; a loop that
                                stored `done` for `terminated` learns 1 / (1 - γ (1 - 1/5)) instead)
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

TRUNCATION_STEPS = 5


class _Probe(gym.Env):
    """One observation in [-1, 1]; `discrete` picks Discrete(2) actions instead of Box(-1, 1, (1,)),
    `hybrid` Tuple(Discrete(2), Box(-1, 1, (2,))) with action k reading parameter k."""

    metadata = {"render_modes": []}
    param_slices = ((0, 1), (1, 2))

    def __init__(self, discrete: bool = False, hybrid: bool = False, image: bool = False) -> None:
        if discrete and hybrid:
            raise ValueError("a probe is discrete, hybrid or neither, not both")
        self.discrete, self.hybrid, self.image = discrete, hybrid, image
        self.observation_space = (gym.spaces.Box(0, 255, (1, 8, 8), np.uint8) if image else
                                  gym.spaces.Box(-1.0, 1.0, (1,), np.float32))
        box = gym.spaces.Box(-1.0, 1.0, (2 if hybrid else 1,), np.float32)
        self.action_space = (gym.spaces.Discrete(2) if discrete else
                             gym.spaces.Tuple((gym.spaces.Discrete(2), box)) if hybrid else box)
        self.obs = 0.0

    def _obs(self) -> np.ndarray:
        if self.image:
            return np.full((1, 8, 8), round(127.5 * (1.0 + self.obs)), dtype=np.uint8)
        return np.array([self.obs], dtype=np.float32)

    def _a(self, action):
        """The action as a float (continuous), an int (discrete) or (k, x_k) (hybrid)."""
        if self.hybrid:
            k = int(action[0])
            return k, float(np.asarray(action[1], np.float32).reshape(-1)[k])
        return float(action) if self.discrete else float(np.asarray(action, np.float32).reshape(-1)[0])

    def _hybrid_value(self, action, discrete_best: int, continuous_value) -> float:
        """A hybrid action's reward: the continuous reward of its parameter when its index is the best one, else -1."""
        k, x = action
        return continuous_value(x) if k == discrete_best else -1.0

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        self.obs = self._first_obs()
        return self._obs(), {}

    def _first_obs(self) -> float:
        return 0.0


class ProbeConstant(_Probe):
    """One step, reward 1, then the episode terminates: Q(s, a) = 1 for every action."""

    def step(self, action):
        return self._obs(), 1.0, True, False, {}

    @staticmethod
    def q_value(obs: float, action: float, gamma: float) -> float:
        return 1.0


class ProbeObsReward(_Probe):
    """One step from obs ±1 (drawn at reset), reward = obs: Q(s, a) = s."""

    def _first_obs(self) -> float:
        return float(self.np_random.choice([-1.0, 1.0]))

    def step(self, action):
        return self._obs(), self.obs, True, False, {}

    @staticmethod
    def q_value(obs: float, action: float, gamma: float) -> float:
        return obs


class ProbeTwoStep(_Probe):
    """obs 0, reward 0, then obs 1, reward 1, then terminated: Q(0, a) = γ, Q(1, a) = 1."""

    def step(self, action):
        if self.obs == 0.0:
            self.obs = 1.0
            return self._obs(), 0.0, False, False, {}
        return self._obs(), 1.0, True, False, {}

    @staticmethod
    def q_value(obs: float, action: float, gamma: float) -> float:
        return gamma if obs == 0.0 else 1.0


class ProbeActionReward(_Probe):
    """One step from obs 0. Continuous: r = 1 - (a - ½)², best a = ½. Discrete: r = +1 for a = 1, -1 for a = 0.
    (The best value is 1, not 0: TD3+BC's λ = α / mean|Q| would blow up at a best value of 0.)"""

    def step(self, action):
        return self._obs(), self.q_value(self.obs, self._a(action), 0.0), True, False, {}

    def q_value(self, obs: float, action, gamma: float) -> float:
        if self.hybrid:
            return self._hybrid_value(action, 1, lambda x: 1.0 - (x - 0.5) ** 2)
        return (1.0 if action == 1 else -1.0) if self.discrete else 1.0 - (action - 0.5) ** 2

    def best_action(self, obs: float):
        return (1, 0.5) if self.hybrid else 1.0 if self.discrete else 0.5


class ProbeObsAction(_Probe):
    """One step from obs ±1. Continuous: r = 1 - (a - s/2)², best a = s/2. Discrete: r = +1 when a = 1
    and s > 0 or a = 0 and s < 0, else -1."""

    def _first_obs(self) -> float:
        return float(self.np_random.choice([-1.0, 1.0]))

    def step(self, action):
        return self._obs(), self.q_value(self.obs, self._a(action), 0.0), True, False, {}

    def q_value(self, obs: float, action, gamma: float) -> float:
        if self.hybrid:
            return self._hybrid_value(action, int(obs > 0), lambda x: 1.0 - (x - obs / 2) ** 2)
        if self.discrete:
            return 1.0 if (action == 1) == (obs > 0) else -1.0
        return 1.0 - (action - obs / 2) ** 2

    def best_action(self, obs: float):
        return (int(obs > 0), obs / 2) if self.hybrid else float(obs > 0) if self.discrete else obs / 2


class ProbeTruncation(_Probe):
    """Reward 1 every step, never terminated, truncated by the time limit after TRUNCATION_STEPS steps:
    the value bootstraps through the limit, Q = 1 / (1 - γ)."""

    def step(self, action):
        return self._obs(), 1.0, False, False, {}

    @staticmethod
    def q_value(obs: float, action: float, gamma: float) -> float:
        return 1.0 / (1.0 - gamma)


PROBES = {"ProbeConstant": ProbeConstant, "ProbeObsReward": ProbeObsReward, "ProbeTwoStep": ProbeTwoStep,
          "ProbeActionReward": ProbeActionReward, "ProbeObsAction": ProbeObsAction,
          "ProbeTruncation": ProbeTruncation}


def register_probes() -> None:
    for name, cls in PROBES.items():
        steps = TRUNCATION_STEPS if cls is ProbeTruncation else 10
        for suffix, kind in (("", {}), ("Discrete", {"discrete": True}), ("Hybrid", {"hybrid": True}),
                             ("Pixels", {"image": True})):
            env_id = f"keel/{name}{suffix}-v0"
            if env_id not in gym.registry:
                gym.register(env_id, entry_point=f"{__name__}:{cls.__name__}", max_episode_steps=steps, kwargs=kind)


register_probes()
