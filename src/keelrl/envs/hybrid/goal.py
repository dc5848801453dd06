"""Goal (Masson, Ranchod & Konidaris 2016, "Reinforcement Learning with Parameterized Actions"): a
striker takes the ball from the halfway line past a goalkeeper into the goal; and Hard Goal (Li et al.
2022, "HyAR: Addressing Discrete-Continuous Action RL via Hybrid Action Representation", appendix):
the same game, each shot split into five actions that aim at five parts of the goal mouth.

The pitch is the attacking half: x in [0, 20], y in [-15, 15]; the goal mouth is x = 20, |y| <= 7.01,
the net 2.44 deep behind it. Goal's actions: Tuple(Discrete(3), Box(4)), action k reading its slice
PARAM_SLICES[k] of the parameters (GoalEnv.param_slices):

    0 kick-to            (x, y) in [0, 40] x [-15, 15]   slice (0, 2)   kick the ball towards (x, x)
    1 shoot-goal-left    y in [-7.01, 7.01]             slice (2, 3)   kick it at (20.4, y) on the goal line
    2 shoot-goal-right   y in [-7.01, 7.01]             slice (3, 4)   the same

kick-to aims at (x, x), not (x, y): the reference passes only the first parameter on (Masson's code
and gym-goal alike, so in every published Goal result y has no effect). GoalEnv(kick_to_y=True)
aims at (x, y) as the paper describes. The reference makes the two shots one action; the names are
the paper's.

Hard Goal's actions: Tuple(Discrete(11), Box(12)): 0 kick-to as above (slice (0, 2)), then 1-5
shoot-goal-left and 6-10 shoot-goal-right, shot i of each (i = 0..4) aiming at y in
7.01 * SUB_INTERVALS[i] with its own parameter (slices (2 + i, 3 + i) and (7 + i, 8 + i)):
[-7.01, -4.206], [-4.206, -1.402], [-1.402, 1.402], [1.402, 4.206], [4.206, 7.01]. The reference
(HyAR's hard-goal scripts) writes the middle interval as [0.2, 0.2], which pins that shot at
y = 1.402; it is a typo of [-0.2, 0.2] (the five intervals then tile [-1, 1]), which is what is
implemented. The reference maps a policy output q in [-1, 1] to centre - half-width * q of its
interval; here the parameter is y itself, bounded by its interval, so the two differ by a
reparameterization only.

An action runs simulation ticks until it is done: a kick-to until the ball is within the striker's
reach (1.6) and slower than 0.1; a shot until the episode ends. Each tick the striker either turns
towards the ball, dashes to it, or kicks (power set to stop the ball at the target), the goalkeeper
runs to intercept the ball's path when it heads for the goal, else jogs to where the ball will stop,
all move and decelerate, and overlapping bodies are pushed apart. Noise (the environment's
np_random): every acceleration's angle is scaled by 1 + U(-r, r) and U(-r |v|, r |v|) is added to
each of its components (r = 0.1 for the players, 0.05 for the ball); the goalkeeper catches a ball
within 2 with probability 1 (drawn each tick).

Observation: Box(17), the reference's features, shifted and scaled to about [0, 1] (a body pushed
out of bounds or a turning striker can leave it a little, so the Box is unbounded):

    0-1 striker x, y          2-3 striker velocity     4 striker orientation
    5-6 goalkeeper x, y       7-8 its velocity         9 its orientation
    10-11 ball x, y           12-13 ball velocity
    14-15 the unit vector from the goalkeeper to the ball
    16 where the line through the ball and the goalkeeper meets the goal line (y, clipped to [-7.01, 14.02])

0-13 are gym-goal's state, scaled by its SHIFT/SCALE vectors; 14-16 the features that the Goal
wrapper of P-DQN, MP-DQN and HyAR (GoalObservationWrapper) adds, from Masson's features, scaled by
the bounds that wrapper declares (the upper clip 14.02 is the reference's, not GOAL_WIDTH / 2).

Reward: 50 for a goal; when the ball leaves the field or the goalkeeper catches it, minus the ball's
distance to the goal mouth; otherwise 0; all divided by 50 (REWARD_SCALE) as in the P-DQN and HyAR
experiments, so a goal pays 1 and a miss about -0.5 at worst. The distance is the reference's: beyond
the goal line it is y - 7.01 above the goal but 7.01 - y (not |y| - 7.01) below it; kept, so that
returns compare with published ones. The episode ends with that reward (a goal sets
info["success"]); its 100th action is not played but ends the episode, paying minus the ball's
distance, as in the reference (so no TimeLimit is registered). info["ticks"] counts the simulation
ticks an action took.

The constants, dynamics, parameter bounds and order of random draws follow the reference
implementation: Masson's aaai-goal as ported to gym by Bester (gym-goal: gym_goal/envs/goal_env.py,
config.py, util.py, whose constants come from the RoboCup soccer server manual 7.07).
"""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np

# the pitch (the attacking half of a 40 x 30 one) and the goal
PITCH_LENGTH, PITCH_WIDTH = 40.0, 30.0
GOAL_LINE = PITCH_LENGTH / 2
GOAL_WIDTH, GOAL_DEPTH = 14.02, 2.44
GOAL_AREA_LENGTH, GOAL_AREA_WIDTH = 5.5, 18.32

# the bodies: the striker, the goalkeeper and the ball (rows of the arrays below)
STRIKER, KEEPER, BALL = 0, 1, 2
SIZE = np.array([0.9, 0.9, 0.4])
RAND = np.array([0.1, 0.1, 0.05])               # noise of an acceleration's angle and components
ACCEL_MAX = np.array([1.0, 1.0, 2.7])            # per component, per tick
SPEED_MAX = np.array([1.0, 1.0, 2.7])
POWER_RATE = np.array([0.006, 0.006, 0.027])     # acceleration per unit of power
DECAY = np.array([0.4, 0.4, 0.94])               # velocity kept per tick
KICKABLE = SIZE[STRIKER] + 0.7                  # the striker reaches the ball within this distance
CATCHABLE, CATCH_PROBABILITY = 2.0, 1.0
INERTIA_MOMENT = 5.0                             # a moving player turns more slowly
MIN_POWER, MAX_POWER = -100.0, 100.0
DASH_POWER, KEEPER_CHASE_POWER, KEEPER_INTERCEPT_POWER = 10.0, 8.0, 20.0
KICK_DONE_SPEED = 0.1                            # a kick-to ends once the ball is this slow (and in reach)
START_EPSILON = 1e-12                            # the ball starts just inside the striker's reach

GOAL_REWARD, REWARD_SCALE = 50.0, 1.0 / 50.0
MAX_ACTIONS = 100                                # the 100th action ends the episode unplayed
MAX_TICKS = 10_000
"""A safeguard the reference lacks: an action stops after this many ticks (none came near it in our runs)."""

KICK_LOW, KICK_HIGH = np.array([0.0, -PITCH_WIDTH / 2]), np.array([PITCH_LENGTH, PITCH_WIDTH / 2])
SHOT_LOW, SHOT_HIGH = -GOAL_WIDTH / 2, GOAL_WIDTH / 2

PARAM_LOW = np.concatenate([KICK_LOW, [SHOT_LOW, SHOT_LOW]])
PARAM_HIGH = np.concatenate([KICK_HIGH, [SHOT_HIGH, SHOT_HIGH]])
PARAM_SLICES = ((0, 2), (2, 3), (3, 4))
"""The (start, stop) of the parameters each discrete action reads (keelrl.Spaces.param_slices)."""
ACTION_NAMES = ("kick-to", "shoot-goal-left", "shoot-goal-right")

SUB_INTERVALS = np.array([[-1.0, -0.6], [-0.6, -0.2], [-0.2, 0.2], [0.2, 0.6], [0.6, 1.0]])
"""Hard Goal's shot intervals, in units of half the goal's width; the reference's third is [0.2, 0.2], a typo."""
HARD_PARAM_LOW = np.concatenate([KICK_LOW, SHOT_HIGH * SUB_INTERVALS[:, 0], SHOT_HIGH * SUB_INTERVALS[:, 0]])
HARD_PARAM_HIGH = np.concatenate([KICK_HIGH, SHOT_HIGH * SUB_INTERVALS[:, 1], SHOT_HIGH * SUB_INTERVALS[:, 1]])
HARD_PARAM_SLICES = ((0, 2),) + tuple((2 + i, 3 + i) for i in range(10))
HARD_ACTION_NAMES = ("kick-to",) + tuple(f"shoot-goal-{side}-{i}" for side in ("left", "right") for i in range(5))

# observation: gym-goal's state (+ SHIFT) / SCALE, then the wrapper's three features by its bounds
SHIFT = np.array([0.0, PITCH_WIDTH / 2, 1.0, 1.0, np.pi] * 2 + [0.0, PITCH_WIDTH / 2, 3.0, 3.0])
SCALE = np.array([PITCH_LENGTH / 2, PITCH_WIDTH, 2.0, 2.0, 2 * np.pi] * 2 + [PITCH_LENGTH / 2, PITCH_WIDTH, 6.0, 6.0])
EXTRA_LOW, EXTRA_HIGH = np.array([-1.0, -1.0, -GOAL_WIDTH / 2]), np.array([1.0, 1.0, GOAL_WIDTH])


# ---- plane geometry, as the reference computes it (math.sqrt of x² + y², angles in (-pi, pi] by loops)
def _norm(v: np.ndarray) -> float:
    return math.sqrt(v[0] * v[0] + v[1] * v[1])


def _angle_between(a: np.ndarray, b: np.ndarray) -> float:
    d = b - a
    return float(np.arctan2(d[1], d[0]))


def _unit(theta: float) -> np.ndarray:
    return np.array([float(np.cos(theta)), float(np.sin(theta))])


def _wrap(angle: float) -> float:
    while angle > np.pi:
        angle -= 2 * np.pi
    while angle < -np.pi:
        angle += 2 * np.pi
    return angle


def _angle_close(a: float, b: float) -> bool:
    return abs(_wrap(a - b)) < np.pi / 8


class GoalEnv(gym.Env):
    """keel/Goal-v0 (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    param_slices = PARAM_SLICES
    reports_success = True
    param_low, param_high = PARAM_LOW, PARAM_HIGH
    action_names = ACTION_NAMES

    def __init__(self, render_mode: str | None = None, kick_to_y: bool = False) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if not isinstance(kick_to_y, bool):
            raise ValueError(f"kick_to_y must be True or False, got {kick_to_y!r}")
        self.render_mode = render_mode
        self.kick_to_y = kick_to_y
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (17,), np.float32)
        self.action_space = gym.spaces.Tuple((gym.spaces.Discrete(len(self.param_slices)),
                                              gym.spaces.Box(self.param_low.astype(np.float32),
                                                             self.param_high.astype(np.float32), dtype=np.float32)))
        self.pos, self.vel = np.zeros((3, 2)), np.zeros((3, 2))   # striker, goalkeeper, ball
        self.orientation = np.zeros(2)                           # striker, goalkeeper
        self.actions_taken = 0

    # ---- bodies
    def _dist(self, i: int, j: int) -> float:
        dx, dy = float(self.pos[i, 0] - self.pos[j, 0]), float(self.pos[i, 1] - self.pos[j, 1])
        return math.sqrt(dx * dx + dy * dy)

    def _can_kick(self) -> bool:
        return self._dist(STRIKER, BALL) <= KICKABLE

    def _accelerate(self, i: int, power: float, theta: float) -> None:
        """Push body i with `power` along `theta`, both perturbed; acceleration and speed are capped per component."""
        rand, accel_max, speed_max = float(RAND[i]), float(ACCEL_MAX[i]), float(SPEED_MAX[i])
        theta = (1 + self.np_random.uniform(-rand, rand)) * theta
        rmax = rand * _norm(self.vel[i])
        noise_x, noise_y = self.np_random.uniform(-rmax, rmax, size=2)
        rate = float(power) * float(POWER_RATE[i])
        direction = _unit(theta)
        accel_x = min(max(rate * direction[0] + noise_x, -accel_max), accel_max)
        accel_y = min(max(rate * direction[1] + noise_y, -accel_max), accel_max)
        vx, vy = self.vel[i]
        self.vel[i] = min(max(vx + accel_x, -speed_max), speed_max), min(max(vy + accel_y, -speed_max), speed_max)

    def _turn(self, angle: float) -> None:
        self.orientation[STRIKER] += _wrap(angle) / (1 + INERTIA_MOMENT * _norm(self.vel[STRIKER]))

    def _kick_power(self) -> float:
        """The share of a kick's power that reaches the ball: less when it is off to the side or far."""
        side = abs(_wrap(_angle_between(self.pos[STRIKER], self.pos[BALL]) - self.orientation[STRIKER]))
        return 1 - 0.25 * side / np.pi - 0.25 * self._dist(STRIKER, BALL) / KICKABLE

    # ---- the striker
    def _to_ball(self) -> None:
        theta = _angle_between(self.pos[STRIKER], self.pos[BALL])
        if not _angle_close(self.orientation[STRIKER], theta):
            self._turn(theta - self.orientation[STRIKER])
        elif not self._can_kick():
            self._accelerate(STRIKER, DASH_POWER, self.orientation[STRIKER])

    def _kick_to(self, target: np.ndarray) -> None:
        """Go to the ball, or kick it with the power that would stop it at `target` (measured from the striker)."""
        if not self._can_kick():
            self._to_ball()
            return
        accel = (1 - DECAY[BALL]) * (target - self.pos[STRIKER]) - self.vel[BALL]
        power = _norm(accel) / (self._kick_power() * POWER_RATE[BALL])
        direction = float(np.arctan2(accel[1], accel[0])) - self.orientation[STRIKER]  # relative to the striker
        power = min(max(power, MIN_POWER), MAX_POWER) * self._kick_power()
        self._accelerate(BALL, power, self.orientation[STRIKER] + direction)

    # ---- the goalkeeper
    @staticmethod
    def _keeper_start(ball: np.ndarray) -> np.ndarray:
        """Where the goalkeeper starts: on the line from the ball to the goal's centre, inside the goal area."""
        grad = -ball[1] / (GOAL_LINE - ball[0])
        yint = ball[1] - grad * ball[0]
        if ball[0] < GOAL_LINE - GOAL_AREA_LENGTH:
            x = ball[0]
        else:
            x = ((-GOAL_AREA_WIDTH / 2 if ball[1] < -GOAL_AREA_WIDTH / 2 else GOAL_AREA_WIDTH / 2) - yint) / grad
        x = min(max(x, GOAL_LINE - GOAL_AREA_LENGTH), GOAL_LINE)
        y = min(max(grad * x + yint, -GOAL_AREA_WIDTH / 2), GOAL_AREA_WIDTH / 2)
        return np.array([x, y])

    def _move_keeper(self) -> None:
        """Run (power 20) to the nearest point of the ball's path when it heads for the goal (within 2 of the
        posts), else jog (power 8) to where the ball will stop."""
        ball, keeper = self.pos[BALL], self.pos[KEEPER]
        ball_end = ball + self.vel[BALL] / (1 - DECAY[BALL])
        diff = ball_end - ball
        grad = diff[1] / diff[0] if diff[0] != 0.0 else 0
        yint = ball[1] - grad * ball[0]
        goal_y = grad * GOAL_LINE + yint
        heads_for_goal = ball_end[0] > GOAL_LINE and abs(goal_y) <= GOAL_WIDTH / 2 + CATCHABLE
        if heads_for_goal and grad != 0:
            grad2 = -1 / grad
            yint2 = keeper[1] - grad2 * keeper[0]
            x = (yint2 - yint) / (grad - grad2)
            target, power = np.array([x, grad * x + yint]), KEEPER_INTERCEPT_POWER
        else:
            target, power = ball_end, KEEPER_CHASE_POWER
        self.orientation[KEEPER] = _angle_between(keeper, target)
        self._accelerate(KEEPER, power, _angle_between(keeper, target))

    def _keeper_catches(self) -> bool:
        draw = self.np_random.random()   # drawn every tick the ball is not in the net, as in the reference
        return draw <= CATCH_PROBABILITY and self._dist(KEEPER, BALL) < CATCHABLE

    # ---- the ball
    def _in_net(self) -> bool:
        x, y = self.pos[BALL]
        return GOAL_LINE <= x <= GOAL_LINE + GOAL_DEPTH and -GOAL_WIDTH / 2 <= y <= GOAL_WIDTH / 2

    def _in_field(self) -> bool:
        x, y = self.pos[BALL]
        return 0.0 <= x <= GOAL_LINE and -PITCH_WIDTH / 2 <= y <= PITCH_WIDTH / 2

    def _goal_distance(self) -> float:
        """The ball's distance to the goal mouth (x = 20, |y| <= 7.01) as the reference measures it: in
        front of the goal line, to the mouth; beyond it, y - 7.01 above the goal but 7.01 - y below it."""
        (x, y), half = self.pos[BALL], GOAL_WIDTH / 2
        if x < GOAL_LINE:
            if y < -half:
                return _norm(self.pos[BALL] - np.array([GOAL_LINE, -half]))
            if y > half:
                return _norm(self.pos[BALL] - np.array([GOAL_LINE, half]))
            return GOAL_LINE - x
        if y < -half:
            return half - y   # the reference's (7.01 + |y|), where |y| - 7.01 was surely meant; kept for its returns
        if y > half:
            return y - half
        return 0.0

    # ---- simulation
    def _decollide(self, i: int, j: int) -> None:
        """Push overlapping bodies i and j apart along the line between them, reversing both velocities."""
        overlap = (SIZE[i] + SIZE[j] - self._dist(i, j)) / 2
        toward_j = _angle_between(self.pos[i], self.pos[j])
        toward_i = _angle_between(self.pos[j], self.pos[i])
        self.pos[i] += overlap * _unit(toward_i)
        self.pos[j] += overlap * _unit(toward_j)
        self.vel[i] *= -1
        self.vel[j] *= -1

    def _tick(self, target: np.ndarray) -> tuple[float, bool, bool]:
        """One simulation tick of kicking towards `target`: (reward, ended, scored)."""
        self._kick_to(target)
        self._move_keeper()
        self.pos += self.vel
        self.vel *= DECAY[:, None]
        for i, j in ((STRIKER, KEEPER), (STRIKER, BALL), (KEEPER, BALL)):
            if self._dist(i, j) < SIZE[i] + SIZE[j]:
                self._decollide(i, j)
        if self._in_net():
            return GOAL_REWARD, True, True
        if self._keeper_catches() or not self._in_field():
            return -self._goal_distance(), True, False
        return 0.0, False, False

    # ---- gymnasium
    def observation(self) -> np.ndarray:
        state = np.concatenate([self.pos[STRIKER], self.vel[STRIKER], self.orientation[STRIKER:STRIKER + 1],
                                self.pos[KEEPER], self.vel[KEEPER], self.orientation[KEEPER:KEEPER + 1],
                                self.pos[BALL], self.vel[BALL]])
        to_ball = self.pos[BALL] - self.pos[KEEPER]
        length = np.linalg.norm(to_ball)
        to_ball = to_ball / length if length > 0 else np.zeros(2)
        (kx, ky), (bx, by) = self.pos[KEEPER], self.pos[BALL]
        if kx == bx:
            proj = -GOAL_WIDTH / 2 if ky < by else GOAL_WIDTH / 2
        else:
            grad = (ky - by) / (kx - bx)
            proj = float(np.clip(grad * GOAL_LINE + by - grad * bx, -GOAL_WIDTH / 2, GOAL_WIDTH))
        extra = (np.array([*to_ball, proj]) - EXTRA_LOW) / (EXTRA_HIGH - EXTRA_LOW)
        return np.concatenate([(state + SHIFT) / SCALE, extra]).astype(np.float32)

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        striker = np.array([0.0, self.np_random.uniform(-PITCH_WIDTH / 2, PITCH_WIDTH / 2)])
        facing = _angle_between(striker, np.array([GOAL_LINE, 0.0]))
        ball = striker + (KICKABLE - START_EPSILON) * _unit(facing)
        keeper = self._keeper_start(ball)
        self.pos = np.array([striker, keeper, ball])
        self.vel = np.zeros((3, 2))
        self.orientation = np.array([facing, _angle_between(keeper, ball)])
        self.actions_taken = 0
        return self.observation(), {}

    def step(self, action):
        index, params = int(action[0]), np.asarray(action[1], dtype=np.float64).reshape(-1)
        k, p = len(self.param_slices), self.param_low.size
        if not 0 <= index < k or params.shape != (p,):
            raise ValueError(f"{type(self).__name__} actions are (index in 0..{k - 1}, {p} parameters), got {action!r}")
        start, stop = self.param_slices[index]
        param = np.clip(params[start:stop], self.param_low[start:stop], self.param_high[start:stop])
        if index == 0:   # the reference passes only x on: it kicks towards (x, x)
            target = param if self.kick_to_y else np.array([param[0], param[0]])
        else:
            target = np.array([GOAL_LINE + SIZE[BALL], min(max(param[0], SHOT_LOW), SHOT_HIGH)])
        self.actions_taken += 1
        if self.actions_taken == MAX_ACTIONS:
            reward = -self._goal_distance() * REWARD_SCALE
            return self.observation(), reward, True, False, {"ticks": 0, "success": False}
        reward, ended, scored, ticks = 0.0, False, False, 0
        while ticks < MAX_TICKS:
            reward, ended, scored = self._tick(target)
            ticks += 1
            if ended or index == 0 and self._can_kick() and _norm(self.vel[BALL]) <= KICK_DONE_SPEED:
                break   # a shot goes on until the episode ends
        return self.observation(), float(reward) * REWARD_SCALE, ended, False, {"ticks": ticks, "success": scored}

    def render(self):
        """A 300 x 225 frame of the attacking half: grass green, the goal mouth and net white, the
        striker blue, the goalkeeper red, the ball black."""
        if self.render_mode != "rgb_array":
            return None
        scale, h, w = 10.0, 300, 225
        frame = np.zeros((h, w, 3), dtype=np.uint8)
        frame[:] = (40, 130, 40)
        rows, cols = np.mgrid[0:h, 0:w]

        def to_px(x, y):
            return x * scale, (PITCH_WIDTH / 2 - y) * scale

        gx, gy0 = to_px(GOAL_LINE, GOAL_WIDTH / 2)
        _, gy1 = to_px(GOAL_LINE, -GOAL_WIDTH / 2)
        frame[int(gy0):int(gy1), int(gx):int(gx + GOAL_DEPTH * scale)] = (235, 235, 235)
        frame[:, int(gx) - 1:int(gx) + 1] = (235, 235, 235)
        for i, color in ((STRIKER, (40, 80, 220)), (KEEPER, (200, 40, 40)), (BALL, (0, 0, 0))):
            cx, cy = to_px(*self.pos[i])
            radius = max(SIZE[i] * scale, 2.0)
            frame[(cols - cx) ** 2 + (rows - cy) ** 2 <= radius ** 2] = color
        return frame


class HardGoalEnv(GoalEnv):
    """keel/HardGoal-v0: GoalEnv with HyAR's eleven actions (see the module docstring); the game is the same."""

    param_slices = HARD_PARAM_SLICES
    param_low, param_high = HARD_PARAM_LOW, HARD_PARAM_HIGH
    action_names = HARD_ACTION_NAMES
