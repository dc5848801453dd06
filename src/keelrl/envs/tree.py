"""Go around the tree: a point on the plane walks from below a round tree to a goal above it, around
either side. A task for multimodal imitation: its scripted demonstrator takes the left or the right
route with equal probability, so a policy that averages the demonstrations walks into the tree.

Layout (the plane, y up):

    goal     GOAL = (0, 1)          reached within GOAL_REACH = 0.1 of it
    tree     a disc of radius TREE_RADIUS = 0.3 at the origin
    start    START = (0, -1), x and y each jittered uniformly by +-START_JITTER = 0.01
    arena    positions are clipped to [-ARENA, ARENA]^2 = [-1.5, 1.5]^2

Observation: Box(2), the agent's position (x, y), float32. Nothing else: at the start, only the
demonstrator's choice of side tells the two routes apart, which makes the demonstrations bimodal.

Action: Box([-1, -1], [1, 1]), a velocity. A step clips it to the unit square and moves the agent
by MAX_STEP = 0.1 times it (at most 0.1 * sqrt 2), then clips the position to the arena.

Collision: the straight segment from the old to the new position is tested against the tree exactly
(the point of the segment closest to the tree's centre, `segment_hits_circle`), so a step cannot
pass through the tree between its end points. A step that touches the tree ends there: the agent
stops where the segment first meets the tree's edge.

Reward: sparse, +1 on the step that ends within GOAL_REACH of the goal, 0 otherwise (a collision too).
Termination: on reaching the goal (info["success"] = True) or on a collision (info["collision"] =
True, success False); the position tested for the goal is the step's end point. Truncation after
MAX_EPISODE_STEPS = 50 steps (registration). Every step's info holds "success" and "collision".
Success is reaching the goal, within the 50 steps, without touching the tree.

The demonstrator (`demonstration_action`, `TreeDemonstrator`) picks a side s (left -1, right +1)
uniformly per episode, walks straight up to y = BRANCH_Y = -0.45 (0.15 below the tree's edge: both
routes share this approach), then towards the waypoint (s * WAYPOINT_X, 0) = (+-0.7, 0) beside the
tree until it is within WAYPOINT_REACH = 0.1 of it or y >= 0, then towards the goal. At the branch
the two routes' actions are about (-0.84, 0.54) and (0.84, 0.54): their mean, (0, 0.54), walks into the tree. Its action is the
unit direction plus Gaussian noise (std DEMONSTRATOR_NOISE = 0.1 by default), clipped to [-1, 1].
Without noise, its path stays at least 0.34 from the tree's centre (0.04 from its edge). The
environment draws the side at reset (`demonstrator_side`) and gives the demonstrator's action with
`expert_action()`.
`route_side` says on which side a trajectory passed the tree, for counting the modes of a policy.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

GOAL = np.array([0.0, 1.0])
GOAL_REACH = 0.1                 # the goal is reached when a step ends within this distance of it
TREE_CENTER = np.array([0.0, 0.0])
TREE_RADIUS = 0.3
START = np.array([0.0, -1.0])
START_JITTER = 0.01              # x and y of the start each drawn uniformly within +- this
ARENA = 1.5                      # positions are clipped to [-ARENA, ARENA]^2
MAX_STEP = 0.1                   # a step moves by MAX_STEP * the action clipped to [-1, 1]^2
MAX_EPISODE_STEPS = 50

BRANCH_Y = -0.45                 # the demonstrator walks straight up until here, then turns to its side
WAYPOINT_X = 0.7                 # the demonstrator's waypoint beside the tree: (side * WAYPOINT_X, 0)
WAYPOINT_REACH = 0.1             # ... which it leaves for the goal within this distance of it (or at y >= 0)
DEMONSTRATOR_NOISE = 0.1         # std of the Gaussian noise on the demonstrator's action
LEFT, RIGHT = -1, 1

ENV_ID = "keel/Tree-v0"


def segment_hits_circle(start: np.ndarray, end: np.ndarray, center: np.ndarray, radius: float) -> bool:
    """Whether the segment start -> end comes within `radius` of `center`: its closest point, the
    projection of the centre clamped to the segment, is tested, not only its end points."""
    d, f = end - start, center - start
    dd = float(d @ d)
    t = 0.0 if dd == 0.0 else float(np.clip((f @ d) / dd, 0.0, 1.0))
    closest = start + t * d
    return float(np.sum(np.square(closest - center))) <= radius ** 2


def first_contact(start: np.ndarray, end: np.ndarray, center: np.ndarray, radius: float) -> float:
    """The fraction t in [0, 1] of the segment at which it first meets the circle: the smaller root
    of |start + t (end - start) - center|^2 = radius^2 (0 when it starts inside). Call it only for a
    segment that `segment_hits_circle`."""
    d, f = end - start, start - center
    a, b, c = float(d @ d), float(f @ d), float(f @ f) - radius ** 2
    if c <= 0.0 or a == 0.0:
        return 0.0
    return float(np.clip((-b - np.sqrt(max(b * b - a * c, 0.0))) / a, 0.0, 1.0))


def demonstration_action(pos: np.ndarray, side: int, noise: float = DEMONSTRATOR_NOISE,
                         rng: np.random.Generator | None = None) -> np.ndarray:
    """The demonstrator's action [2] at position `pos` on route `side` (LEFT or RIGHT): the unit
    direction straight up while y < BRANCH_Y, then to the waypoint (side * WAYPOINT_X, 0), or to
    the goal once within WAYPOINT_REACH of the waypoint or at y >= 0, plus N(0, noise^2) noise from
    `rng`, clipped to [-1, 1].

    The phase is read from the position, so the demonstrator is a Markov policy of (position, side).
    """
    if side not in (LEFT, RIGHT):
        raise ValueError(f"side must be {LEFT} (left) or {RIGHT} (right), got {side!r}")
    pos = np.asarray(pos, dtype=np.float64)
    waypoint = np.array([side * WAYPOINT_X, 0.0])
    to_waypoint = waypoint - pos
    if pos[1] < BRANCH_Y:
        heading = np.array([0.0, 1.0])        # the approach, the same for both routes
    elif pos[1] >= 0.0 or np.linalg.norm(to_waypoint) <= WAYPOINT_REACH:
        heading = GOAL - pos
    else:
        heading = to_waypoint                 # the branch: half the demonstrations turn left, half right
    norm = np.linalg.norm(heading)
    action = heading / norm if norm > 0.0 else np.zeros(2)
    if noise > 0.0:
        rng = np.random.default_rng() if rng is None else rng
        action = action + rng.normal(0.0, noise, 2)
    return np.clip(action, -1.0, 1.0).astype(np.float32)


class TreeDemonstrator:
    """The demonstrator of one episode: its route `side` and its noise; `demonstrator(pos, rng)`
    acts. `TreeDemonstrator.draw(rng)` picks the side uniformly, as at the start of an episode."""

    def __init__(self, side: int, noise: float = DEMONSTRATOR_NOISE) -> None:
        if side not in (LEFT, RIGHT):
            raise ValueError(f"side must be {LEFT} (left) or {RIGHT} (right), got {side!r}")
        self.side, self.noise = side, noise

    @classmethod
    def draw(cls, rng: np.random.Generator, noise: float = DEMONSTRATOR_NOISE) -> TreeDemonstrator:
        return cls(LEFT if rng.integers(2) == 0 else RIGHT, noise)

    def __call__(self, pos: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return demonstration_action(pos, self.side, self.noise, rng)


def route_side(positions: np.ndarray) -> int:
    """On which side a trajectory of positions [T, 2] passed the tree: the sign of x where y first
    crosses 0 upwards (y[t-1] < 0 <= y[t], x interpolated along that step): LEFT (-1), RIGHT (+1),
    or 0 when y never crosses 0 upwards (a collision, a trajectory that stays below) or x = 0 there."""
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 2:
        raise ValueError(f"positions must be [T, 2], got shape {positions.shape}")
    y = positions[:, 1]
    crossings = np.flatnonzero((y[:-1] < 0.0) & (y[1:] >= 0.0))
    if crossings.size == 0:
        return 0
    t = crossings[0]
    (x0, y0), (x1, y1) = positions[t], positions[t + 1]
    x = x0 + (x1 - x0) * (-y0) / (y1 - y0)
    return int(np.sign(x))


def draw_tree(pos: np.ndarray, path: list[np.ndarray], size: int = 200) -> np.ndarray:
    """A size x size frame of the arena: the tree green, the goal red with its reach pale, the path
    walked so far as blue dots, the agent dark blue."""
    frame = np.full((size, size, 3), 245, dtype=np.uint8)
    rows, cols = np.mgrid[0:size, 0:size]
    scale = size / (2 * ARENA)

    def disc(center, radius, color):
        cx, cy = (center[0] + ARENA) * scale, (ARENA - center[1]) * scale
        frame[(cols - cx) ** 2 + (rows - cy) ** 2 <= max(radius * scale, 1.5) ** 2] = color

    disc(TREE_CENTER, TREE_RADIUS, (40, 140, 50))
    disc(GOAL, GOAL_REACH, (250, 200, 190))
    disc(GOAL, 0.03, (200, 40, 40))
    for p in path:
        disc(p, 0.0, (140, 170, 230))
    disc(pos, 0.04, (30, 60, 200))
    return frame


class TreeEnv(gym.Env):
    """keel/Tree-v0 (see the module docstring). `demonstrator_noise` sets the noise of `expert_action`."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    reports_success = True

    def __init__(self, render_mode: str | None = None, demonstrator_noise: float = DEMONSTRATOR_NOISE) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if demonstrator_noise < 0:
            raise ValueError(f"demonstrator_noise must be >= 0, got {demonstrator_noise}")
        self.render_mode = render_mode
        self.demonstrator_noise = demonstrator_noise
        self.observation_space = gym.spaces.Box(-ARENA, ARENA, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.pos = START.copy()
        self.demonstrator_side = RIGHT
        self.path: list[np.ndarray] = []

    def observation(self) -> np.ndarray:
        return self.pos.astype(np.float32)

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        self.pos = START + self.np_random.uniform(-START_JITTER, START_JITTER, 2)
        self.demonstrator_side = LEFT if self.np_random.integers(2) == 0 else RIGHT
        self.path = [self.pos.copy()]
        return self.observation(), {}

    def step(self, action):
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (2,):
            raise ValueError(f"Tree actions are velocities of shape (2,), got {action!r}")
        old = self.pos
        new = np.clip(old + MAX_STEP * np.clip(action, -1.0, 1.0), -ARENA, ARENA)
        collision = segment_hits_circle(old, new, TREE_CENTER, TREE_RADIUS)
        if collision:   # stop where the step first meets the tree
            new = old + first_contact(old, new, TREE_CENTER, TREE_RADIUS) * (new - old)
        success = not collision and float(np.linalg.norm(new - GOAL)) <= GOAL_REACH
        self.pos = new
        self.path.append(new.copy())
        return self.observation(), float(success), success or collision, False, {"success": success,
                                                                                  "collision": collision}

    def expert_action(self) -> np.ndarray:
        """The demonstrator's action [2] for the current position and `demonstrator_side`, its noise
        drawn from the environment's np_random."""
        return demonstration_action(self.pos, self.demonstrator_side, self.demonstrator_noise, self.np_random)

    def render(self):
        """A 200 x 200 frame of the arena [-1.5, 1.5]^2 (`draw_tree`)."""
        if self.render_mode != "rgb_array":
            return None
        return draw_tree(self.pos, self.path)


def register_tree() -> None:
    if ENV_ID not in gym.registry:
        gym.register(ENV_ID, entry_point="keelrl.envs.tree:TreeEnv", max_episode_steps=MAX_EPISODE_STEPS)


register_tree()
