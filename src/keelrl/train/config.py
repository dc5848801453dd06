"""What every training run is told, whatever the algorithm."""
from __future__ import annotations

from dataclasses import dataclass

from keelrl.errors import check


@dataclass
class RunConfig:
    """Run settings: environment, budget, seed, evaluation, checkpoints, output folder."""

    env: str = "Pendulum-v1"
    """Gymnasium environment id (classic control, Box2D where installed, MuJoCo v5, ...)."""
    seed: int = 1
    """Seed of the environments, torch, numpy and the replay buffer's sampler."""
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
    """Replace an existing run folder instead of refusing to start."""
    device: str = "auto"
    """Training device: auto (cuda if available, else cpu), cpu, cuda, cuda:N."""
    threads: int = 0
    """torch CPU threads (0: torch's default)."""
    progress: bool = True
    """Show the live progress bar."""

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
    """Replace an existing run folder instead of refusing to start."""
    device: str = "auto"
    """Training device: auto (cuda if available, else cpu), cpu, cuda, cuda:N."""
    threads: int = 0
    """torch CPU threads (0: torch's default)."""
    progress: bool = True
    """Show the live progress bar."""

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
