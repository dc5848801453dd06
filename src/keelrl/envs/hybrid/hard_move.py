"""Hard Move (Li et al. 2022, "HyAR: Addressing Discrete-Continuous Action RL via Hybrid Action
Representation", appendix): a point mass driven by n actuators, each on or off, must reach a target;
the discrete action space grows as 2^n (the paper runs n = 4, 6, 8, 10).

Actions: Tuple(Discrete(2^n), Box(2^n)), one parameter per discrete action (action k reads slice
(k, k + 1)), as in the reference, whose P-DQN and HyAR agents emit one parameter for each of the 2^n
actions:

    action k: the binary digits of k, most significant first, switch actuators 0 .. n-1 on or off;
    actuator j pushes along (cos 2 pi j / n, sin 2 pi j / n), rounded to 3 decimals. The directions of
    the actuators that are on add up to a motion vector m_k; all 2^n of them are divided by the longest
    (so |m_k| <= 1, and action 0, all off, does not push). Parameter a_k in [-1, 1]: the push is the
    force F = 2 a_k m_k.

The world is Catch Point's (MPE's point mass, keelrl.envs.hybrid.catch_point): v <- 0.75 v + 0.1 F,
p <- p + 0.1 v; the agent and the target start uniformly in [-1, 1]^2, drawn in that order.

Observation: Box(4), unbounded as in MPE:   0-1 the agent's velocity   2-3 target - agent position

Reward: minus the squared distance d² to the target after the step, plus 20 when the agent is
within 0.2 of it (reward 20 - d² >= 19.96). Arriving there ends the episode (info["success"]; the
reference's training loop ends an episode on a reward above 4, which only an arrival gives); it is
truncated after 30 actions (registration), the reference's episode length.

The constants, dynamics and reward follow the reference implementation: HyAR's MPE scenario
simple_move_4_direction_v1 (TJU-DRL-LAB/AI-Optimizer, ssrl/RL_with_Action_Representation/HyAR/
multiagent/scenarios/simple_move_4_direction_v1.py, with multiagent/core.py and environment.py's
hybrid action type 8, get_movements and get_action_motions, as driven by Raw_RL/main_hard_move_*.py),
written here as a small numpy environment without MPE.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from keelrl.envs.hybrid.catch_point import (CATCH_REWARD, FORCE, START_HIGH, START_LOW, TARGET_DISTANCE, draw_points,
                                            point_mass_step)

ACTUATOR_COUNTS = (4, 6, 8, 10)
"""The values of n the paper reports (n = 10 has 1024 discrete actions)."""
ARRIVAL_REWARD = CATCH_REWARD


def actuator_directions(n: int) -> np.ndarray:
    """[n, 2]: actuator j's direction, at angle 2 pi j / n, rounded to 3 decimals (the reference's get_movements)."""
    angles = np.linspace(0, 2 * np.pi, n + 1)[:-1]
    # a transposed [2, n] array, laid out in memory as the reference's, so that its sums match to the last bit
    return np.vstack([np.around(np.cos(angles), 3), np.around(np.sin(angles), 3)]).T


def motions(n: int) -> np.ndarray:
    """[2^n, 2]: each discrete action's motion vector, the longest of unit length (get_action_motions)."""
    k = np.arange(2 ** n)
    on = (k[:, None] >> np.arange(n - 1, -1, -1)[None, :]) & 1     # [2^n, n]: bit n-1-j of k switches actuator j
    directions = actuator_directions(n)
    m = np.array([np.dot(row, directions) for row in on.astype(np.float64)])   # [2^n, 2], row by row as the reference
    return m / np.max(np.linalg.norm(m, ord=2, axis=-1))


class HardMoveEnv(gym.Env):
    """keel/HardMove-v0 (see the module docstring); `n` actuators, 2^n discrete actions."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    reports_success = True

    def __init__(self, n: int = 4, render_mode: str | None = None) -> None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) not in ACTUATOR_COUNTS:
            raise ValueError(f"HardMove's n (the number of actuators) must be one of 4, 6, 8, 10, got {n!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.n = int(n)
        self.render_mode = render_mode
        k = 2 ** self.n
        self.param_slices = tuple((i, i + 1) for i in range(k))
        self.motions = motions(self.n)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
        self.action_space = gym.spaces.Tuple((gym.spaces.Discrete(k), gym.spaces.Box(-1.0, 1.0, (k,), np.float32)))
        self.pos, self.vel, self.target = np.zeros(2), np.zeros(2), np.zeros(2)

    def observation(self) -> np.ndarray:
        return np.concatenate([self.vel, self.target - self.pos]).astype(np.float32)

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(START_LOW, START_HIGH, 2)
        self.vel = np.zeros(2)
        self.target = self.np_random.uniform(START_LOW, START_HIGH, 2)
        return self.observation(), {}

    def step(self, action):
        index, params = int(action[0]), np.asarray(action[1], dtype=np.float64).reshape(-1)
        k = 2 ** self.n
        if not 0 <= index < k or params.shape != (k,):
            raise ValueError(f"HardMove(n={self.n}) actions are (index in 0..{k - 1}, {k} parameters), got {action!r}")
        push = float(np.clip(params[index], -1.0, 1.0))
        force = self.motions[index] * push * FORCE
        self.pos, self.vel = point_mass_step(self.pos, self.vel, force)
        d2 = float(np.sum(np.square(self.pos - self.target)))
        arrived = d2 <= TARGET_DISTANCE ** 2
        reward = ARRIVAL_REWARD - d2 if arrived else -d2
        return self.observation(), reward, arrived, False, {"success": arrived}

    def render(self):
        """A 200 x 200 frame of [-2, 2]^2: the target red with its 0.2 reach, the agent dark grey."""
        if self.render_mode != "rgb_array":
            return None
        return draw_points(self.pos, self.target)
