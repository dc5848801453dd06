"""`keel collect`: make a Minari dataset from a saved keelrl policy, the way D4RL's kinds were made.

    random         uniform random actions
    medium         rollouts of a policy part-way through training (a checkpoint of the run)
    expert         rollouts of the trained policy
    medium-replay  the replay buffer of the run up to the medium checkpoint (no new rollouts)
    medium-expert  the episodes of two existing datasets, concatenated
    demonstrations rollouts of the environment's own scripted demonstrator (`expert_action()`, as
                   keel/Tree-v0 has), whose evaluation is then ref_max_score

Every dataset records ref_min_score (a uniform random policy's mean return) and ref_max_score (the
expert's deterministic evaluation), both measured on the same evaluation seeds, so the datasets of
one run share them and normalized scores 100 · (R - min) / (max - min) compare across kinds.
"""
from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from typing import Annotated
from pathlib import Path

import numpy as np
import torch
import tyro

from keelrl.data.collection import collect_episodes, concatenate_episodes, episodes_from_transitions
from keelrl.data.offline import check_dataset_id, dataset_dir, write_minari
from keelrl.envs.action_bounds import ActionBounds
from keelrl.envs.make import make_env, make_vector_env, names_from_a_file
from keelrl.envs.spaces import continuous_actions
from keelrl.errors import KeelError
from keelrl.train.checkpoint import CHECKPOINT_NAME, agent_from_checkpoint, read_checkpoint
from keelrl.types import Spaces
from keelrl.train.evaluation import EVAL_SEED_OFFSET, evaluate

KINDS = ("random", "medium", "expert", "medium-replay", "medium-expert", "demonstrations")


@dataclass
class CollectConfig:
    """What `keel collect` is told."""

    name: str
    """Dataset id to write, namespace/name-vN (e.g. keel/hopper/medium-v0)."""
    kind: Annotated[str, tyro.conf.arg(metavar="{" + ",".join(KINDS) + "}")]
    """What to record: random (uniform actions), medium (a checkpoint part-way through training), expert (the trained policy), medium-replay (the run's replay buffer), medium-expert (two datasets concatenated) or demonstrations (the environment's scripted demonstrator, expert_action())."""
    env: str | None = None
    """Environment id (default: the policy's run environment)."""
    policy: str | None = None
    """Checkpoint .pt or run folder of the policy to roll out (medium, expert) or whose replay buffer to export (medium-replay). For medium and medium-replay a run folder means its kept checkpoint whose evaluation is closest to a third of the way from the random policy's return to the final one."""
    expert: str | None = None
    """Run folder or checkpoint of the expert whose evaluation is ref_max_score (default: the final checkpoint of --policy's run)."""
    sources: tuple[str, ...] = ()
    """medium-expert: the dataset ids to concatenate."""
    steps: int = 1_000_000
    """Transitions to record (random, medium, expert)."""
    deterministic: bool = False
    """Roll out the policy's deterministic action instead of sampling it."""
    action_noise: float = 0.0
    """Std of Gaussian noise added to the policy's actions (in its [-1, 1] units), clipped to the bounds."""
    num_envs: int = 8
    """Environment copies stepped together while collecting."""
    seed: int = 0
    """Seed of the collection environments and of the noise."""
    ref_episodes: int = 100
    """Episodes averaged for each reference score."""
    ref_min_score: float | None = None
    """Use this random-policy score instead of measuring it."""
    ref_max_score: float | None = None
    """Use this expert score instead of measuring it."""
    overwrite: bool = False
    """Replace an existing dataset of the same name."""
    trust_pickle: bool = False
    """Also open a checkpoint that needs code to load (a pickle, such as keelrl 0.1's checkpoints). Opening such a file can run any program: use it only for files from a source you trust."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise KeelError(f"--kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        check_dataset_id(self.name)
        if self.kind in ("medium", "expert", "medium-replay") and self.policy is None:
            raise KeelError(f"--kind {self.kind} needs --policy RUN_DIR (or a checkpoint .pt) to take the policy from")
        if self.kind == "medium-expert" and len(self.sources) < 2:
            raise KeelError("--kind medium-expert concatenates datasets: pass --sources MEDIUM_ID EXPERT_ID")
        if self.kind == "demonstrations" and self.env is None:
            raise KeelError("--kind demonstrations records an environment's scripted demonstrator: pass --env ENV_ID "
                            "(e.g. keel/Tree-v0)")
        if self.kind == "random" and self.env is None and self.policy is None and self.expert is None:
            raise KeelError("--kind random needs --env ENV_ID (and --expert RUN_DIR or --ref-max-score X for reference "
                            "scores, without which the dataset's runs report returns, not normalized scores)")
        for k in ("steps", "num_envs", "ref_episodes"):
            if getattr(self, k) < 1:
                raise KeelError(f"--{k.replace('_', '-')} must be >= 1, got {getattr(self, k)}")
        if self.action_noise < 0:
            raise KeelError(f"--action-noise must be >= 0, got {self.action_noise}")
        if self.ref_min_score is not None or self.ref_max_score is not None:
            check_reference_scores(self.ref_min_score, self.ref_max_score)
        if dataset_dir(self.name).exists() and not self.overwrite:
            raise KeelError(f"dataset {self.name} already exists at {dataset_dir(self.name)}; pass --overwrite to replace it")


def check_reference_scores(ref_min: float | None, ref_max: float | None) -> None:
    """Refuse reference scores that make normalized scores 100 (R - min) / (max - min) meaningless:
    not finite, or equal; warn when the expert scores below the random policy."""
    for name, v in (("ref_min_score", ref_min), ("ref_max_score", ref_max)):
        if v is not None and not np.isfinite(v):
            raise KeelError(f"{name} must be a finite number, got {v}: normalized scores divide by max - min")
    if ref_min is None or ref_max is None:
        return
    if ref_min == ref_max:
        raise KeelError(f"ref_min_score and ref_max_score are both {ref_min}: normalized scores would divide by zero; "
                        f"give an expert that scores above the random policy (--expert, --ref-max-score)")
    if ref_max < ref_min:
        print(f"keel: warning: the expert's score {ref_max:.1f} is below the random policy's {ref_min:.1f}: normalized "
              f"scores will run backwards (a better policy scores lower); check --expert / --ref-max-score", file=sys.stderr)


def _final_checkpoint(path: str) -> Path:
    """The run's final checkpoint for a policy path inside a run (RUN_DIR/checkpoints/step_N.pt -> RUN_DIR/checkpoint.pt)."""
    p = Path(path)
    if p.is_dir():
        return p / CHECKPOINT_NAME
    if p.parent.name == "checkpoints":
        return p.parent.parent / CHECKPOINT_NAME
    return p


def _run_env(ckpt: dict) -> str | None:
    return (ckpt.get("run_config") or {}).get("env")


def medium_checkpoint(run_dir: Path, random_score: float | None = None) -> Path:
    """The kept checkpoint (checkpoints/step_N.pt) whose evaluation is closest to a third of the way
    from a random policy's return to the run's final evaluation (D4RL's `medium`: about a third of
    the expert's normalized score, from the expert's own run). Without `random_score`, the run's
    worst evaluation stands in for it."""
    import csv
    kept = {int(p.stem.split("_")[1]): p for p in (run_dir / "checkpoints").glob("step_*.pt")}
    rows = []
    if (run_dir / "eval.csv").exists():
        with open(run_dir / "eval.csv", newline="") as f:
            rows = [(int(r["step"]), float(r["eval_return_mean"])) for r in csv.DictReader(f)]
    candidates = [(step, ret) for step, ret in rows[:-1] if step in kept]
    if not rows or not candidates:
        raise KeelError(f"{run_dir} has no kept checkpoint with an evaluation to pick a medium policy from: train it "
                        f"with --keep-checkpoints (and eval_every dividing checkpoint_every), or pass "
                        f"--policy {run_dir}/checkpoints/step_N.pt")
    final = rows[-1][1]
    low = min(r for _, r in rows) if random_score is None else random_score
    target = low + (final - low) / 3
    step = min(candidates, key=lambda c: abs(c[1] - target))[0]
    print(f"medium policy: {kept[step]} (evaluation {dict(candidates)[step]:.1f}; the run's final evaluation "
          f"{final:.1f}, a third of the way from {low:.1f} to it is {target:.1f})")
    return kept[step]


def collect(cfg: CollectConfig) -> Path:
    """Build the dataset `cfg` describes; return its folder. An environment id read from a checkpoint
    imports its module from installed packages only (names_from_a_file)."""
    with names_from_a_file() if cfg.env is None else contextlib.nullcontext():
        return _collect(cfg)


def _collect(cfg: CollectConfig) -> Path:
    medium_run = None
    if cfg.kind in ("medium", "medium-replay") and cfg.policy and Path(cfg.policy).is_dir():
        medium_run = Path(cfg.policy)           # the checkpoint is picked below, once the random score is known
        cfg.expert = cfg.expert or cfg.policy   # the run's final policy is the expert
    policy_ckpt = read_checkpoint(cfg.policy, cfg.trust_pickle) if cfg.policy else None
    expert_env = _run_env(read_checkpoint(cfg.expert, cfg.trust_pickle)) if cfg.expert and not cfg.env and policy_ckpt is None else None
    env_id = cfg.env or (policy_ckpt and _run_env(policy_ckpt)) or expert_env
    if policy_ckpt is not None and cfg.env and _run_env(policy_ckpt) and _run_env(policy_ckpt) != cfg.env:
        raise KeelError(f"--policy was trained on {_run_env(policy_ckpt)}, not --env {cfg.env}")

    if cfg.kind == "medium-expert":
        return _concatenate(cfg)
    if env_id is None:
        raise KeelError(f"{cfg.policy or cfg.expert} does not record its environment; pass --env")
    probe = make_env(env_id)
    try:
        spaces = Spaces.of(probe)
        problem = continuous_actions(spaces, env_id)
        if problem is not None:
            raise KeelError(f"keel collect {problem}; keel collect writes continuous-action datasets")
        if cfg.kind == "demonstrations" and not callable(getattr(probe.unwrapped, "expert_action", None)):
            raise KeelError(f"environment {env_id} has no scripted demonstrator (a method expert_action() giving the "
                            f"demonstrator's action for its current state), so --kind demonstrations cannot record it")
        low, high = spaces.action_low, spaces.action_high
    finally:
        probe.close()

    ref_min, ref_max = _reference_scores(cfg, env_id)
    check_reference_scores(ref_min, ref_max)
    if medium_run is not None:
        cfg.policy = str(medium_checkpoint(medium_run, ref_min))
        policy_ckpt = read_checkpoint(cfg.policy, cfg.trust_pickle)
    if cfg.kind == "medium-replay":
        episodes = _replay_episodes(policy_ckpt, cfg.policy)
        algo = f"keelrl {policy_ckpt['algo']} replay buffer"
    else:
        envs = make_vector_env(env_id, cfg.num_envs)
        try:
            policy = (_demonstrator(envs) if cfg.kind == "demonstrations" else _policy_fn(cfg, policy_ckpt, low, high))
            episodes = collect_episodes(envs, policy, cfg.steps, cfg.seed)
        finally:
            envs.close()
        algo = {"random": "uniform random", "demonstrations": f"the scripted demonstrator of {env_id}"}.get(
            cfg.kind) or f"keelrl {policy_ckpt['algo']}"
    steps = sum(len(e.rewards) for e in episodes)
    desc = (f"{cfg.kind} dataset of {env_id} made by keel collect: {len(episodes)} episodes, {steps} steps"
            + (f", policy {cfg.policy}" if cfg.policy else "")
            + ("" if cfg.kind in ("random", "medium-replay", "demonstrations") else
               f", {'deterministic' if cfg.deterministic else 'stochastic'} actions, noise std {cfg.action_noise}"))
    out = write_minari(cfg.name, episodes, env_id, ref_min, ref_max, algo, desc, cfg.overwrite, cfg.ref_episodes)
    returns = np.array([float(np.sum(e.rewards)) for e in episodes])
    print(f"wrote {cfg.name} ({out}): {len(episodes)} episodes, {steps} steps, episode return "
          f"{returns.mean():.1f} ± {returns.std():.1f}; " + ("no reference scores" if ref_max is None else
                                                             f"ref_min_score {ref_min:.1f}, ref_max_score {ref_max:.1f}"))
    return out


def _policy_fn(cfg: CollectConfig, ckpt: dict | None, low: np.ndarray, high: np.ndarray):
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)  # a stochastic policy samples from torch's generator: the same seed, the same data
    if cfg.kind == "random":
        return lambda obs: rng.uniform(low, high, size=(obs.shape[0], low.shape[0])).astype(np.float32)
    agent = agent_from_checkpoint(ckpt, device="cpu")
    bounds = ActionBounds(low, high)

    def act(obs: np.ndarray) -> np.ndarray:
        a = agent.act(obs, deterministic=cfg.deterministic)
        if cfg.action_noise > 0:
            a = bounds.to_policy(a) + cfg.action_noise * rng.standard_normal(a.shape).astype(np.float32)
            a = bounds.to_env_numpy(np.clip(a, -1.0, 1.0))
        return a
    return act


def _demonstrator(envs):
    """The scripted demonstrator of every copy: the actions [N, A] of its expert_action()."""
    return lambda obs: np.stack(envs.call("expert_action")).astype(np.float32)


def _reference_scores(cfg: CollectConfig, env_id: str) -> tuple[float | None, float | None]:
    seed = cfg.seed + EVAL_SEED_OFFSET
    ref_min, ref_max = cfg.ref_min_score, cfg.ref_max_score
    if ref_max is None and cfg.kind == "demonstrations":
        env = make_env(env_id)
        try:
            ref_max = float(evaluate(lambda o: env.unwrapped.expert_action()[None].astype(np.float32), env,
                                     cfg.ref_episodes, seed).mean())
        finally:
            env.close()
    if ref_max is None and cfg.expert is None and cfg.policy is None:
        # a dataset without reference scores: training takes it, and its runs report raw returns
        print("keel: note: no expert (--expert RUN_DIR or --ref-max-score X), so the dataset has no reference "
              "scores: runs on it report returns, not normalized scores", file=sys.stderr)
        return None, None
    if ref_min is None:
        env = make_env(env_id)
        rng = np.random.default_rng(seed)
        space = env.action_space
        try:
            ref_min = float(evaluate(lambda o: rng.uniform(space.low, space.high, (1, space.shape[0])).astype(np.float32),
                                     env, cfg.ref_episodes, seed).mean())
        finally:
            env.close()
    if ref_max is None:
        expert_path = cfg.expert or (str(_final_checkpoint(cfg.policy)) if cfg.policy else None)
        expert = agent_from_checkpoint(read_checkpoint(expert_path, cfg.trust_pickle), device="cpu")
        env = make_env(env_id)
        try:
            ref_max = float(evaluate(lambda o: expert.act(o, deterministic=True), env, cfg.ref_episodes, seed).mean())
        finally:
            env.close()
    return ref_min, ref_max


def _replay_episodes(ckpt: dict, path: str) -> list:
    if ckpt.get("keelrl") != "run" or "buffer" not in ckpt:
        raise KeelError(f"{path} holds no replay buffer: --kind medium-replay needs a run checkpoint "
                        f"(RUN_DIR/checkpoint.pt or RUN_DIR/checkpoints/step_N.pt of an off-policy run)")
    buf = ckpt["buffer"]
    if buf.get("discount") is not None or "action" not in buf or buf["action"].dim() != 2:
        raise KeelError(f"{path}: only one-step continuous-action replay buffers can be exported")
    n = buf["size"]
    order = np.arange(n)
    if n == buf["capacity"]:  # the buffer wrapped: the oldest transition sits at ptr
        order = np.roll(order, -buf["ptr"])
    get = lambda k: buf[k].numpy()[order]  # noqa: E731
    spaces = Spaces.from_dict(ckpt["agent"]["spaces"])
    bounds = ActionBounds(spaces.action_low, spaces.action_high)
    action = bounds.to_env_numpy(get("action"))
    num_envs = (ckpt.get("run_config") or {}).get("num_envs", 1)
    return episodes_from_transitions(get("obs"), action, get("reward"), get("next_obs"), get("terminated"), num_envs)


def _concatenate(cfg: CollectConfig) -> Path:
    import minari
    from keelrl.data.offline import load_minari
    groups, refs, env_spec = [], [], None
    for source in cfg.sources:
        meta = load_minari(source)  # the checks and the clear errors; the episodes are read below
        refs.append((meta.ref_min_score, meta.ref_max_score))
        env_spec = env_spec or meta.env_spec
        if meta.env_spec is not None and env_spec is not None and meta.env_spec.id != env_spec.id:
            raise KeelError(f"cannot concatenate datasets of different environments ({env_spec.id}, {meta.env_spec.id})")
        groups.append(list(minari.load_dataset(source).iterate_episodes()))
    ref_min, ref_max = cfg.ref_min_score, cfg.ref_max_score
    if ref_min is None or ref_max is None:
        if len(set(refs)) != 1:
            raise KeelError(f"the sources have different reference scores {refs}; pass --ref-min-score and --ref-max-score")
        ref_min = refs[0][0] if ref_min is None else ref_min
        ref_max = refs[0][1] if ref_max is None else ref_max
    check_reference_scores(ref_min, ref_max)
    episodes = concatenate_episodes(*groups)
    out = write_minari(cfg.name, episodes, env_spec, ref_min, ref_max, "keelrl concatenation",
                       f"medium-expert dataset: concatenation of {', '.join(cfg.sources)}", cfg.overwrite)
    print(f"wrote {cfg.name} ({out}): {len(episodes)} episodes from {', '.join(cfg.sources)}")
    return out
