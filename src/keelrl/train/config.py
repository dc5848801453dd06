"""What every training run is told, whatever the algorithm."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from keelrl.errors import check


@dataclass
class RunConfig:
    """Run settings: environment, budget, seed, evaluation, checkpoints, output folder."""

    env: str = "Pendulum-v1"
    """Gymnasium environment id (classic control, Box2D where installed, MuJoCo v5, ...); MODULE:EnvId imports MODULE first (an environment of your own)."""
    seed: int = 1
    """Seed of the environments, torch, numpy and the replay buffer's sampler."""
    seeds: str = ""
    """Train several seeds in one process instead of --seed, e.g. 0-4 or 0,3,7 (SAC): the agents' parameters are stacked and updated with batched matmuls, each seed with its own environments, buffer, optimizer state and random streams, each writing its own run folder RUN_DIR/s<seed>."""
    total_steps: int = 100_000
    """Environment steps to train for (summed over vector-env copies)."""
    num_envs: int = 1
    """Environment copies stepped together (gymnasium SyncVectorEnv)."""
    eval_every: int = 5000
    """Evaluate the deterministic policy every this many environment steps (0: only at the end)."""
    eval_episodes: int = 10
    """Episodes per evaluation."""
    checkpoint_every: int = 10_000
    """Write a checkpoint every this many environment steps (and always at the end and on Ctrl-C)."""
    keep_checkpoints: bool = False
    """Also keep each periodic checkpoint as checkpoints/step_N.pt (a policy and replay buffer of mid-training, e.g. for `keel collect --kind medium`)."""
    log_every: int = 1000
    """Write losses and throughput to metrics.csv / TensorBoard every this many environment steps."""
    run_dir: str | None = None
    """Output folder; default runs/<algo>-<env>-s<seed>-<date>."""
    overwrite: bool = False
    """Replace an existing run folder instead of refusing to start: only one keelrl made, holding nothing but a run's files, and only once the new run is built (docs/guarantees.md)."""
    device: str = "auto"
    """Training device: auto (cuda if available, else cpu), cpu, cuda, cuda:N."""
    threads: int = 0
    """torch CPU threads; 0: one per idle core (torch's default, one per core, on an idle machine; fewer when other processes use the CPU, with a note; a resumed run keeps its count)."""
    compile: bool = False
    """torch.compile the learner's networks (their forward and backward; the update's control flow and optimizer steps stay eager). The first updates are slow while it compiles; docs/speed.md says when it pays."""
    cuda_graphs: bool = False
    """Capture one whole learner update as a CUDA graph and replay it each update (CUDA devices only; not PPO). docs/speed.md."""
    progress: bool = True
    """Show progress: a live line in a terminal, one plain line per logging interval when the output is a file or pipe; without it, only the closing summary."""
    env_kwargs: dict[str, bool | int | float | str] = field(default_factory=dict)
    """Keyword arguments for the environment's constructor (gymnasium.make(env, **env_kwargs)), e.g. --env-kwargs ctrl_cost_weight 0.5."""
    wrappers: tuple[str, ...] = ()
    """Wrappers applied in order to each environment copy, as MODULE:NAME (a callable taking the env), e.g. gymnasium.wrappers:FlattenObservation."""
    track: tuple[Literal["wandb", "mlflow"], ...] = ()
    """Also send the run to experiment trackers: wandb (Weights & Biases; offline without an API key), mlflow (a local ./mlruns store unless --track-uri or MLFLOW_TRACKING_URI says otherwise). docs/tracking.md."""
    track_project: str = "keelrl"
    """The W&B project and MLflow experiment the run goes to."""
    track_uri: str | None = None
    """MLflow tracking URI (default: MLFLOW_TRACKING_URI, else the file store ./mlruns)."""

    def __post_init__(self) -> None:
        check(self.total_steps >= 1, f"total_steps must be >= 1, got {self.total_steps}")
        check(self.num_envs >= 1, f"num_envs must be >= 1, got {self.num_envs}")
        check(self.eval_every >= 0, f"eval_every must be >= 0 (0: only at the end), got {self.eval_every}")
        check(self.eval_episodes >= 0, f"eval_episodes must be >= 0, got {self.eval_episodes}")
        check(self.checkpoint_every >= 1, f"checkpoint_every must be >= 1, got {self.checkpoint_every}")
        check(self.log_every >= 1, f"log_every must be >= 1, got {self.log_every}")
        check(self.threads >= 0, f"threads must be >= 0, got {self.threads}")
        check(self.seed >= 0, f"seed must be >= 0, got {self.seed}")
        check(self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda"),
              f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        check(not (self.cuda_graphs and self.device == "cpu"),
              "cuda_graphs needs a CUDA device (--device cuda, or auto on a GPU machine), got --device cpu")
        check(not (self.compile and self.cuda_graphs), "compile and cuda_graphs cannot be combined yet: choose one")
        if self.seeds:
            parse_seeds(self.seeds)
        check(isinstance(self.env_kwargs, dict), f"env_kwargs must be a mapping of argument names to values, got {self.env_kwargs!r}")
        self.wrappers = tuple(self.wrappers)
        self.track = check_track(self.track)


def parse_seeds(text: str) -> list[int]:
    """'0-4' -> [0, 1, 2, 3, 4]; '0,3,7' -> [0, 3, 7]; ranges and lists mix ('0-2,5')."""
    seeds: list[int] = []
    try:
        for part in str(text).replace(" ", "").split(","):
            lo, _, hi = part.partition("-")
            seeds += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    except ValueError:
        seeds = []
    check(bool(seeds) and all(s >= 0 for s in seeds) and len(set(seeds)) == len(seeds),
          f"seeds must be distinct non-negative seeds as a range or list, such as 0-4 or 0,3,7; got {text!r}")
    return seeds


@dataclass
class OfflineRunConfig:
    """Offline run settings: dataset, budget in gradient updates, seed, evaluation, checkpoints, output folder."""

    dataset: str
    """Minari dataset id, read from $MINARI_DATASETS_PATH (default ~/.minari/datasets), e.g. keel/hopper/medium-v0."""
    seed: int = 1
    """Seed of torch, numpy, the batch sampler and the evaluation environment."""
    total_steps: int = 1_000_000
    """Gradient updates to train for."""
    eval_every: int = 5000
    """Evaluate the deterministic policy in the dataset's environment every this many updates (0: only at the end)."""
    eval_episodes: int = 10
    """Episodes per evaluation."""
    checkpoint_every: int = 50_000
    """Write a checkpoint every this many updates (and always at the end and on Ctrl-C)."""
    log_every: int = 1000
    """Write losses and throughput to metrics.csv / TensorBoard every this many updates."""
    run_dir: str | None = None
    """Output folder; default runs/<algo>-<dataset>-s<seed>-<date>."""
    overwrite: bool = False
    """Replace an existing run folder instead of refusing to start: only one keelrl made, holding nothing but a run's files, and only once the new run is built (docs/guarantees.md)."""
    device: str = "auto"
    """Training device: auto (cuda if available, else cpu), cpu, cuda, cuda:N."""
    threads: int = 0
    """torch CPU threads; 0: one per idle core (torch's default, one per core, on an idle machine; fewer when other processes use the CPU, with a note; a resumed run keeps its count)."""
    compile: bool = False
    """torch.compile the learner's networks (their forward and backward; the update's control flow and optimizer steps stay eager). The first updates are slow while it compiles; docs/speed.md says when it pays."""
    cuda_graphs: bool = False
    """Capture one whole learner update as a CUDA graph and replay it each update (CUDA devices only; not PPO). docs/speed.md."""
    progress: bool = True
    """Show progress: a live line in a terminal, one plain line per logging interval when the output is a file or pipe; without it, only the closing summary."""
    track: tuple[Literal["wandb", "mlflow"], ...] = ()
    """Also send the run to experiment trackers: wandb (Weights & Biases; offline without an API key), mlflow (a local ./mlruns store unless --track-uri or MLFLOW_TRACKING_URI says otherwise). docs/tracking.md."""
    track_project: str = "keelrl"
    """The W&B project and MLflow experiment the run goes to."""
    track_uri: str | None = None
    """MLflow tracking URI (default: MLFLOW_TRACKING_URI, else the file store ./mlruns)."""

    def __post_init__(self) -> None:
        check(bool(self.dataset), "--dataset must name a Minari dataset, such as keel/hopper/medium-v0")
        check(self.total_steps >= 1, f"total_steps must be >= 1, got {self.total_steps}")
        check(self.eval_every >= 0, f"eval_every must be >= 0 (0: only at the end), got {self.eval_every}")
        check(self.eval_episodes >= 0, f"eval_episodes must be >= 0, got {self.eval_episodes}")
        check(self.checkpoint_every >= 1, f"checkpoint_every must be >= 1, got {self.checkpoint_every}")
        check(self.log_every >= 1, f"log_every must be >= 1, got {self.log_every}")
        check(self.threads >= 0, f"threads must be >= 0, got {self.threads}")
        check(self.seed >= 0, f"seed must be >= 0, got {self.seed}")
        check(self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda"),
              f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        check(not (self.cuda_graphs and self.device == "cpu"),
              "cuda_graphs needs a CUDA device (--device cuda, or auto on a GPU machine), got --device cpu")
        check(not (self.compile and self.cuda_graphs), "compile and cuda_graphs cannot be combined yet: choose one")
        self.track = check_track(self.track)


def check_track(track) -> tuple[str, ...]:
    track = tuple(track)
    bad = [t for t in track if t not in ("wandb", "mlflow")]
    check(not bad, f"track takes wandb and mlflow, got {bad[0]!r}" if bad else "")
    return tuple(dict.fromkeys(track))


def run_config_class(spec) -> type:
    """The run settings an algorithm takes: OfflineRunConfig (a dataset) or RunConfig (an environment)."""
    return OfflineRunConfig if spec.uses_dataset else RunConfig
