"""What an algorithm declares about itself, so that the loops, the CLI, `keel bench`, compile and
CUDA graphs never read its Config fields by name.

Each algorithm module ends with `SPEC = AlgoSpec(...)`; `keelrl.algos` only collects them (and
`register_algo` adds a user's own). A spec says:

- `trains_from`: what the algorithm learns from, which picks its loop: "transitions" (an off-policy
  replay buffer filled from an environment), "rollouts" (on-policy rollouts of the current policy)
  or "dataset" (a fixed Minari dataset, offline);
- `spaces`: which observation and action spaces it accepts (a check that says what is wrong);
- `needs(cfg)`: what its loop must know from the Config: `Transitions`, `Rollouts` or `DatasetNeeds`
  (batch size, buffer, update ratio, n-step, rollout length, dataset preprocessing...);
- `branches(cfg)`: the update's periodic branches, which CUDA-graph capture must know about, and
  any host-side work that makes an update impossible to capture;
- `check_run(run, cfg)`: what the Config alone cannot check (e.g. a minibatch size that depends on
  the run's number of environment copies);
- `presets`: named Config overrides (`--preset NAME`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from keelrl.errors import KeelError
from keelrl.types import Spaces

TrainsFrom = Literal["transitions", "rollouts", "dataset"]
DATASET_SOURCES = ("dataset",)
"""`trains_from` values whose runs read a dataset (`--dataset`) rather than step an environment (`--env`)."""


FLAT_HYBRID = -1
"""Transitions.policy_action_dim of an algorithm that stores the flat form of hybrid actions (K + P)."""


@dataclass(frozen=True)
class SideUpdate:
    """A second model an off-policy agent trains beside its main update, on its own batches and
    schedule (HyAR's action VAE): the loop calls `agent.<method>(batch)` `pretrain` times when the
    random warm-up ends (before the first main update), then `count` times every `every`
    environment steps. The schedule is counted in environment steps, so a resumed run keeps it."""

    method: str
    """The agent's method that takes one Batch and returns its metrics."""
    batch_size: int
    """Transitions per batch."""
    pretrain: int = 0
    """Updates when the warm-up (learning_starts) ends."""
    every: int = 0
    """Then every this many environment steps (0: never)..."""
    count: int = 1
    """...this many updates."""


@dataclass(frozen=True)
class Transitions:
    """What an off-policy loop needs: a replay buffer and when and how often to update."""

    batch_size: int
    """Transitions per update."""
    buffer_size: int
    """Replay capacity, in transitions."""
    learning_starts: int
    """Environment steps of uniform random actions before the first update."""
    updates_per_step: float
    """Updates owed per environment step."""
    update_every: int = 1
    """Pay the owed updates in bursts every this many environment steps (1: after every step)."""
    n_step: int = 1
    """Store n-step transitions (with their bootstrap discount γ^m) when > 1."""
    gamma: float = 0.99
    """The discount the n-step writer sums rewards with."""
    policy_action_dim: int = 0
    """Hybrid actions: store the D-vector the policy emitted for each (`Batch.policy_action`; the
    agent's `to_policy_space` gives it in a HybridAction); 0: not stored; FLAT_HYBRID: the flat form
    [K scores | P parameters], whose size the spaces give (`policy_action_size`)."""
    side_updates: tuple[SideUpdate, ...] = ()
    """Models trained beside the main update, on their own schedule."""
    sequence_length: int = 0
    """> 0: every update (side updates too) gets `SequenceBatch`es of this many consecutive steps
    (SLAC's 8), from the slot replay (data/sequence_replay.py); 0: `Batch`es of transitions.
    Pixel observations always use the slot replay, which stores each frame once."""

    def policy_action_size(self, spaces: Spaces) -> int:
        """D, the stored policy vector's size for these spaces."""
        if self.policy_action_dim == FLAT_HYBRID:
            return spaces.num_actions + spaces.param_dim
        return self.policy_action_dim


@dataclass(frozen=True)
class Rollouts:
    """What an on-policy loop needs: the rollout it collects before each update."""

    steps: int
    """Steps collected from each environment copy per iteration."""
    minibatches: int = 1
    """Minibatches one rollout is split into (for `keel bench`'s minibatch size)."""
    epochs: int = 1
    """Passes over the rollout per update call (gradient steps per call = epochs × minibatches)."""


@dataclass(frozen=True)
class DatasetNeeds:
    """What an offline loop needs: the batch size and the dataset preprocessing the algorithm wants.
    The loop applies it in this order: range scaling, then the affine reward change, then states."""

    batch_size: int
    """Transitions per update."""
    reward_range_scale: float | None = None
    """Scale rewards by this / (max - min episode return) (IQL's 1000 on locomotion); None: no range scaling."""
    reward_scale: float = 1.0
    """Then r ← reward_scale · r + reward_bias."""
    reward_bias: float = 0.0
    normalize_obs: bool = False
    """Standardize states (and next states) with the dataset's mean and std + obs_eps; the agent gets
    the statistics through `set_obs_normalization(mean, std)` to act with them."""
    obs_eps: float = 1e-3
    sequence_length: int = 0
    """> 0: update on `SequenceBatch`es of this many consecutive steps (action chunks), masked after
    an episode's end; 0: on `Batch`es of single transitions."""


@dataclass(frozen=True)
class UpdateBranches:
    """What an update does only sometimes, for CUDA-graph capture (speed/cuda_graph.py)."""

    periods: tuple[int, ...] = ()
    """Periods, in updates, of steps an update takes only sometimes (a delayed actor, a target
    copy): the n-th update (counting from 1) takes step i when n % periods[i] == 0."""
    not_capturable: str | None = None
    """Why one update cannot be replayed from a CUDA graph (host-side work inside it), or None."""


NO_BRANCHES = UpdateBranches()


def _replace_batch_size(cfg, batch_size: int):
    return dataclasses.replace(cfg, batch_size=batch_size)


@dataclass(frozen=True)
class AlgoSpec:
    """One algorithm, as the rest of keelrl sees it. `agent(cfg, spaces, device)` builds its Agent."""

    name: str
    """The command name: `keel train NAME`."""
    config: type
    """Its Config dataclass (every field a flag)."""
    agent: Callable[..., Any]
    """Builds the Agent: agent(cfg, spaces, device). A class, or a factory such as
    functools.partial(SACAgent, losses={...}) for a variant."""
    summary: str
    """One line for `keel train --help`."""
    trains_from: TrainsFrom
    """What it learns from; picks the loop."""
    spaces: Callable[[Spaces, str], str | None]
    """spaces(spaces, source) -> None when it accepts them, else what is wrong (envs/spaces.py)."""
    needs: Callable[[Any], Transitions | Rollouts | DatasetNeeds]
    """What its loop needs to know, read from a Config."""
    branches: Callable[[Any], UpdateBranches] = lambda cfg: NO_BRANCHES
    """The update's periodic branches (CUDA graphs)."""
    check_run: Callable[[Any, Any], None] | None = None
    """check_run(run_config, cfg): raises KeelError for what the Config alone cannot check."""
    presets: dict[str, dict] = field(default_factory=dict)
    """Named Config overrides for tasks where papers tune (`keel train NAME --preset P`)."""
    with_batch_size: Callable[[Any, int], Any] = _replace_batch_size
    """with_batch_size(cfg, n) -> a Config whose updates use batches of n (`keel bench --batch-size`)."""
    origin: str = "keelrl"
    """The module that registered it: a run folder records it so that eval, resume, report and
    sweep import it again (set by `register_algo`)."""
    renamed: dict[str, str] = field(default_factory=dict)
    """Config fields renamed since an earlier keelrl, {old name: new name}: stored configurations
    (config.json, checkpoints, agent files) that use an old name still load."""

    def config_from(self, stored: dict) -> Any:
        """The Config of a stored configuration (config.json, a checkpoint), its renamed fields read
        under their new names."""
        return self.config(**self.current_names(stored))

    def current_names(self, stored: dict) -> dict:
        """A stored configuration with its old field names replaced by the current ones."""
        return {self.renamed.get(k, k): v for k, v in stored.items()}

    @property
    def uses_dataset(self) -> bool:
        """True when a run reads a dataset (`--dataset`) rather than steps an environment (`--env`)."""
        return self.trains_from in DATASET_SOURCES


def named_losses(defaults: dict[str, Callable], overrides: dict[str, Callable] | None, algo: str) -> dict[str, Callable]:
    """The loss functions an Agent's update calls by name: its defaults with `overrides` in their place.
    A variant replaces one loss (e.g. {"critic": huber_critic_loss}) and keeps every other step."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise KeelError(f"{algo} has no loss named {', '.join(map(repr, unknown))}; its losses: {', '.join(defaults)}")
    return {**defaults, **overrides}
