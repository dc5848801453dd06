"""Platform (Masson, Ranchod & Konidaris 2016, "Reinforcement Learning with Parameterized Actions"):
a runner crosses three platforms separated by two gaps, each platform patrolled by an enemy.

Actions: Tuple(Discrete(3), Box(3)). Action k uses parameter k (PARAM_SLICES), the others are ignored:

    0 run   parameter in [0, 30]    push forward for one time unit (20 simulation ticks)
    1 hop   parameter in [0, 720]   a high jump (vertical speed 35) aimed this far forward
    2 leap  parameter in [0, 430]   a long jump (vertical speed 25) aimed this far forward

A jump lasts until the runner is back on a platform. The parameter bounds are those of the
reference implementation (set empirically there for these constants).

Observation: Box(9), the features of the reference implementation, shifted and scaled to about [0, 1]:

    0 runner x      1 runner x-velocity     2 x of the enemy on the runner's platform    3 that enemy's velocity
    4 width of the current platform          5 width of the next one      6 the gap between them
    7 x where the current platform begins    8 height difference to the next platform (0 here)

Reward: the forward progress an action made, divided by the course's length (1035), so an
episode's return is at most 1; reaching the end pays the rest of the way. The episode ends when
the runner falls into a gap, touches an enemy, or reaches the end (success: info["success"]); it is
truncated after 200 actions (registration). Noise: the enemies' speed and the runner's
acceleration and jumps are perturbed by Gaussian noise, drawn from the environment's np_random.

The constants, dynamics and order of random draws follow the reference implementation
(Masson's aaai-platformer, as ported to gym by Bester, gym-platform), so that with the same seed
and actions keelrl's Platform gives the same observations and rewards as that port
(benchmarks/platform_check.py compares them).
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

# the course: three platforms of height 40 at ground level, two gaps
WIDTHS = np.array([250.0, 275.0, 50.0])
GAPS = np.array([225.0, 235.0])
STARTS = np.array([0.0, WIDTHS[0] + GAPS[0], WIDTHS[0] + GAPS[0] + WIDTHS[1] + GAPS[1]])
PLATFORM_HEIGHT = 40.0
COURSE = float(STARTS[2] + WIDTHS[2])                     # 1035: the end of the last platform
TOTAL_WIDTH = float(WIDTHS.sum() + GAPS.sum())            # also 1035
SIZE = np.array([20.0, 30.0])                             # the runner's and an enemy's width and height
ENEMY_SPEED, NOISE = 30.0, 0.5

# motion: one tick is DT; a run lasts 1 / DT ticks
DT = 0.05
MAX_DX, MAX_DY, MAX_DX_ON_GROUND = 100.0, 200.0, 70.0
MAX_DDX, MAX_DDY = (MAX_DX - MAX_DX_ON_GROUND) / DT, MAX_DY / DT
GRAVITY, VELOCITY_DECAY = 9.8, 0.99
JUMPS = {1: (35.0, 1.0), 2: (25.0, 1.0)}                 # action -> (vertical speed, noise std): hop, leap

PARAM_LOW = np.array([0.0, 0.0, 0.0], dtype=np.float32)
PARAM_HIGH = np.array([30.0, 720.0, 430.0], dtype=np.float32)
PARAM_SLICES = ((0, 1), (1, 2), (2, 3))
"""The (start, stop) of the parameters each discrete action reads (keelrl.Spaces.param_slices)."""
ACTION_NAMES = ("run", "hop", "leap")

_STARTS, _WIDTHS = tuple(float(v) for v in STARTS), tuple(float(v) for v in WIDTHS)   # the same, as floats
_W, _H = float(SIZE[0]), float(SIZE[1])


def _clip(v: float, low: float, high: float) -> float:
    return low if v < low else high if v > high else v


SHIFT = np.array([SIZE[0], 0.0, 0.0, ENEMY_SPEED, 0.0, 0.0, 0.0, 0.0, 0.0])
SCALE = np.array([TOTAL_WIDTH + SIZE[0], MAX_DX, TOTAL_WIDTH, 2 * ENEMY_SPEED,
                  WIDTHS.max(), WIDTHS.max(), GAPS.max(), TOTAL_WIDTH, 1.0])


class PlatformEnv(gym.Env):
    """keel/Platform-v0 (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    param_slices = PARAM_SLICES
    reports_success = True

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(0.0, 1.0, (9,), np.float32)
        self.action_space = gym.spaces.Tuple((gym.spaces.Discrete(3), gym.spaces.Box(PARAM_LOW, PARAM_HIGH, dtype=np.float32)))
        # the state in Python floats (a tick is a few dozen scalar operations; numpy would cost more)
        self.x, self.y, self.dx, self.dy = 0.0, PLATFORM_HEIGHT, 0.0, 0.0   # the runner: bottom-left corner, velocity
        self.enemy_x, self.enemy_dx = [0.0, 0.0], [0.0, 0.0]                  # the enemies of platforms 1 and 2
        self.start_x = 0.0

    # ---- the course
    def _on_platforms(self) -> bool:
        """Standing on a platform: above it, its top exactly at the runner's feet."""
        return self.y == PLATFORM_HEIGHT and any(-_W <= self.x - s <= w for s, w in zip(_STARTS, _WIDTHS))

    def _overlaps(self, cx: float, cy: float, w: float, h: float) -> bool:
        """The runner overlaps the box with bottom-left corner (cx, cy) and size (w, h)."""
        return cx - _W < self.x < cx + w and cy - _H < self.y < cy + h

    def _enemy_index(self) -> int:
        """The enemy that moves and is observed: platform 2's once the runner is past its start."""
        return 1 if self.x > _STARTS[1] else 0

    # ---- motion
    def _accelerate(self, ax: float, ay: float) -> None:
        """Velocity += clipped acceleration · DT, less a half-normal slip in x; x-velocity stays >= 0."""
        self.dx = self.dx + _clip(ax, -MAX_DDX, MAX_DDX) * DT
        self.dy = self.dy + _clip(ay, -MAX_DDY, MAX_DDY) * DT
        self.dx -= abs(self.np_random.normal(0.0, NOISE * DT))
        self.dx, self.dy = max(_clip(self.dx, -MAX_DX, MAX_DX), 0.0), _clip(self.dy, -MAX_DY, MAX_DY)

    def _jump(self, distance: float, dy0: float, dev: float) -> None:
        """Take off with vertical speed dy0 and the horizontal speed that covers `distance` over the
        jump's duration 2 dy0 / g + 1, both lessened by half-normal noise of std `dev`."""
        duration = 2.0 * dy0 / GRAVITY + 1.0
        dx0 = _clip(distance / duration - self.dx, -MAX_DDX, MAX_DY - dy0)
        noise = self.np_random.normal(0.0, dev, 2)
        self._accelerate((dx0 - abs(noise[0])) / DT, (dy0 - abs(noise[1])) / DT)

    def _act(self, action: int, param: float) -> None:
        if not self._on_platforms():
            self._accelerate(0.0, -GRAVITY)   # in the air: gravity
        elif action == 0:
            self._accelerate(param / DT, 0.0)
        else:
            self._jump(param, *JUMPS[action])

    def _decollide(self, i: int) -> None:
        """Push the runner out of platform i along the axis of least overlap, stopping that motion."""
        x, y = self.x, self.y
        new_x = _STARTS[i] - _W if x < _STARTS[i] else _STARTS[i] + _WIDTHS[i] if x > _STARTS[i] + _WIDTHS[i] - _W else x
        new_y = -_H if y < 0.0 else PLATFORM_HEIGHT if y > PLATFORM_HEIGHT - _H else y
        if new_x == x:
            horizontal = False
        elif new_y == y:
            horizontal = True
        else:
            horizontal = abs(x - new_x) < abs(y - new_y)
        if horizontal:
            self.dx, self.x = 0.0, new_x
        else:
            self.dy, self.y = 0.0, new_y

    def _tick(self, action: int, param: float) -> tuple[float, bool, bool]:
        """One simulation tick: (reward so far in this action, ended, reached the end)."""
        self._act(action, param)
        if self._on_platforms():
            self.dx = _clip(self.dx, 0.0, MAX_DX_ON_GROUND)
        e = self._enemy_index()
        self.x, self.y = _clip(self.x + self.dx * DT, 0.0, TOTAL_WIDTH), self.y + self.dy * DT   # the runner moves...
        self.dx *= VELOCITY_DECAY
        left, right = _STARTS[e], _STARTS[e] + _WIDTHS[e] - _W   # ...and the enemy on its platform patrols
        if not left < self.enemy_x[e] < right:
            self.enemy_dx[e] *= -1
        self.enemy_dx[e] = _clip(self.enemy_dx[e] + self.np_random.normal(0.0, NOISE * DT), -ENEMY_SPEED, ENEMY_SPEED)
        self.enemy_x[e] = _clip(self.enemy_x[e] + self.enemy_dx[e] * DT, left, right)
        for i in range(3):
            if self._overlaps(_STARTS[i], 0.0, _WIDTHS[i], PLATFORM_HEIGHT):
                self._decollide(i)
                self.dx = 0.0
        reward = (self.x - self.start_x) / COURSE
        ended = self.y < PLATFORM_HEIGHT or any(self._overlaps(ex, PLATFORM_HEIGHT, _W, _H) for ex in self.enemy_x)
        reached = self.x >= COURSE
        if reached:
            reward = (COURSE - self.start_x) / COURSE
        return reward, ended or reached, reached

    # ---- gymnasium
    def observation(self) -> np.ndarray:
        e = self._enemy_index()
        k = 0 if self.x < _STARTS[1] else 1 if self.x < _STARTS[2] else 2
        platform = [WIDTHS[k], WIDTHS[k + 1] if k < 2 else 0.0, GAPS[k] if k < 2 else 0.0, STARTS[k], 0.0]
        raw = np.array([self.x, self.dx, self.enemy_x[e], self.enemy_dx[e], *platform])
        return ((raw + SHIFT) / SCALE).astype(np.float32)

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        self.x, self.y, self.dx, self.dy = 0.0, PLATFORM_HEIGHT, 0.0, 0.0
        self.enemy_x = [_STARTS[i] + _WIDTHS[i] - _W for i in range(2)]
        self.enemy_dx = [-ENEMY_SPEED, -ENEMY_SPEED]
        self.start_x = 0.0
        return self.observation(), {}

    def step(self, action):
        index, params = int(action[0]), np.asarray(action[1], dtype=np.float64).reshape(-1)
        if not 0 <= index < 3 or params.shape != (3,):
            raise ValueError(f"Platform actions are (index in 0..2, 3 parameters), got {action!r}")
        start, _ = PARAM_SLICES[index]
        param = float(np.clip(params[start], PARAM_LOW[index], PARAM_HIGH[index]))
        self.start_x = self.x
        ticks, remaining = 0, 1.0
        while True:
            reward, ended, reached = self._tick(index, param)
            ticks += 1
            if ended:
                break
            if index == 0:
                remaining -= DT
                if not remaining > 0:
                    break
            elif self._on_platforms():
                break
        info = {"ticks": ticks, "success": reached}
        return self.observation(), float(reward), bool(ended), False, info

    def render(self):
        """A 120 x 600 frame: platforms grey, enemies red, the runner blue."""
        if self.render_mode != "rgb_array":
            return None
        h, w, scale = 120, 600, 600 / (TOTAL_WIDTH + SIZE[0])
        frame = np.full((h, w, 3), 235, dtype=np.uint8)

        def box(x, y, width, height, color):
            x0, x1 = int(x * scale), max(int((x + width) * scale), int(x * scale) + 1)
            y1, y0 = h - int(y * scale * 1.5), h - int((y + height) * scale * 1.5)
            frame[max(y0, 0):max(y1, 0), max(x0, 0):min(x1, w)] = color

        for i in range(3):
            box(STARTS[i], 0.0, WIDTHS[i], PLATFORM_HEIGHT, (120, 120, 120))
        for ex in self.enemy_x:
            box(ex, PLATFORM_HEIGHT, *SIZE, (200, 40, 40))
        box(self.x, self.y, *SIZE, (40, 80, 220))
        return frame
