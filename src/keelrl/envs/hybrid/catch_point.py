"""Catch Point (Li et al. 2022, "HyAR: Addressing Discrete-Continuous Action RL via Hybrid Action
Representation", appendix): a point mass moves on the plane and must catch a fixed target point,
with a limited number of tries.

Actions: Tuple(Discrete(2), Box(1)). Action k reads its slice PARAM_SLICES[k] of the parameters:

    0 move    theta in [-pi, pi]   slice (0, 1)   push with force 2 along (sin theta, cos theta)
                                                  (theta is measured from the +y axis towards +x)
    1 catch   (no parameter)       slice (1, 1)   no push; a catch succeeds when the agent ends the
                                                  step within 0.2 of the target

The world is the multi-agent particle environment's (MPE) as the reference configures it: one step of
dt = 0.1, velocity damped by 0.25 per step, mass 1, no speed cap, no collisions, no noise:
v <- 0.75 v + 0.1 F, then p <- p + 0.1 v (the agent coasts on during a catch). The agent and the
target start uniformly in [-1, 1]^2, drawn in that order from the environment's np_random.

Observation: Box(4), unbounded as in MPE:   0-1 the agent's velocity   2-3 target - agent position

Reward: minus the squared distance d² to the target after the step; a successful catch adds 20
(so its reward is 20 - d² >= 19.96). The episode ends with a successful catch (info["success"]) or
with the catch that misses for the 11th time: the reference counts a miss while misses <= 10 (the
paper speaks of 10 chances; its code gives 11), then rewards 0 on one more step, which its training
loop takes as the end; that step changes no return and is not played here. It is truncated after 25
actions (registration), the reference's episode length. info["misses"] counts the missed catches.

The constants, dynamics and reward follow the reference implementation: HyAR's MPE scenario
simple_catch (TJU-DRL-LAB/AI-Optimizer, ssrl/RL_with_Action_Representation/HyAR/multiagent/
scenarios/simple_catch.py, with multiagent/core.py and environment.py's hybrid action type 1, as
driven by Raw_RL/main_direction_catch_*.py), written here as a small numpy environment without MPE.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

# the MPE world, as the reference configures it
DT, DAMPING, MASS = 0.1, 0.25, 1.0
FORCE = 2.0                          # a move pushes with this force
START_LOW, START_HIGH = -1.0, 1.0    # the agent's and the target's starting box
TARGET_DISTANCE = 0.2                # a catch (or, in Hard Move, an arrival) within this distance succeeds
CATCH_REWARD = 20.0
MAX_MISSES = 11                      # the reference's `misses <= 10` check: 11 misses, the paper's "10 chances"

PARAM_LOW = np.array([-np.pi])
PARAM_HIGH = np.array([np.pi])
PARAM_SLICES = ((0, 1), (1, 1))
"""The (start, stop) of the parameters each discrete action reads (keelrl.Spaces.param_slices)."""
ACTION_NAMES = ("move", "catch")

VIEW = 2.0                           # a frame shows [-VIEW, VIEW]^2


def point_mass_step(pos: np.ndarray, vel: np.ndarray, force: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One MPE step of a point mass: damp, accelerate, move (core.World.integrate_state)."""
    vel = vel * (1 - DAMPING)
    vel = vel + (force / MASS) * DT
    return pos + vel * DT, vel


def draw_points(agent: np.ndarray, target: np.ndarray, size: int = 200) -> np.ndarray:
    """A size x size frame of [-VIEW, VIEW]^2: the target red with its 0.2 reach pale, the agent dark."""
    frame = np.full((size, size, 3), 245, dtype=np.uint8)
    rows, cols = np.mgrid[0:size, 0:size]
    scale = size / (2 * VIEW)

    def disc(center, radius, color):
        cx, cy = (center[0] + VIEW) * scale, (VIEW - center[1]) * scale
        frame[(cols - cx) ** 2 + (rows - cy) ** 2 <= max(radius * scale, 2.0) ** 2] = color

    disc(target, TARGET_DISTANCE, (250, 200, 190))
    disc(target, 0.05, (200, 40, 40))
    disc(agent, 0.05, (60, 60, 60))
    return frame


class CatchPointEnv(gym.Env):
    """keel/CatchPoint-v0 (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    param_slices = PARAM_SLICES
    reports_success = True

    def __init__(self, render_mode: str | None = None) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
        params = gym.spaces.Box(PARAM_LOW.astype(np.float32), PARAM_HIGH.astype(np.float32), dtype=np.float32)
        self.action_space = gym.spaces.Tuple((gym.spaces.Discrete(2), params))
        self.pos, self.vel, self.target = np.zeros(2), np.zeros(2), np.zeros(2)
        self.misses = 0

    def observation(self) -> np.ndarray:
        return np.concatenate([self.vel, self.target - self.pos]).astype(np.float32)

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(START_LOW, START_HIGH, 2)
        self.vel = np.zeros(2)
        self.target = self.np_random.uniform(START_LOW, START_HIGH, 2)
        self.misses = 0
        return self.observation(), {}

    def step(self, action):
        index, params = int(action[0]), np.asarray(action[1], dtype=np.float64).reshape(-1)
        if not 0 <= index < 2 or params.shape != (1,):
            raise ValueError(f"CatchPoint actions are (index in 0..1, 1 parameter), got {action!r}")
        if index == 0:
            theta = float(np.clip(params[0], PARAM_LOW[0], PARAM_HIGH[0]))
            force = np.array([np.sin(theta) * FORCE, np.cos(theta) * FORCE])
        else:
            force = np.zeros(2)
        self.pos, self.vel = point_mass_step(self.pos, self.vel, force)
        d2 = float(np.sum(np.square(self.pos - self.target)))
        caught = index == 1 and d2 <= TARGET_DISTANCE ** 2
        if index == 1 and not caught:
            self.misses += 1
        reward = CATCH_REWARD - d2 if caught else -d2
        ended = caught or self.misses >= MAX_MISSES
        return self.observation(), reward, ended, False, {"success": caught, "misses": self.misses}

    def render(self):
        """A 200 x 200 frame of [-2, 2]^2: the target red with its 0.2 catching reach, the agent dark grey."""
        if self.render_mode != "rgb_array":
            return None
        return draw_points(self.pos, self.target)
