"""`train` and `resume` for every algorithm: check what can be checked before any folder is touched,
write the run folder's config.json, and hand the run to the loop of what the algorithm trains from
(the spec's `trains_from`). The loops themselves never see an algorithm's name in a branch.

A run folder holds config.json, eval.csv, train.csv, metrics.csv, tb/ (TensorBoard events),
checkpoint.pt and learning_curve.png. config.json also records the modules to import first
(`imports`: the user's own algorithms and environments), so that resume, eval, report and sweep
find them again.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

from keelrl.version import __version__
from keelrl.algos import check_spaces, get_algo
from keelrl.algos.spec import AlgoSpec
from keelrl.envs.make import env_label, make_env, names_from_a_file
from keelrl.errors import KeelError
from keelrl.train import multi_seed
from keelrl.train.checkpoint import CHECKPOINT_NAME, atomic_write_text, check_belongs, read_checkpoint, settle
from keelrl.train.config import OfflineRunConfig, RunConfig, run_config_class
from keelrl.train.off_policy import OffPolicyLoop
from keelrl.train.offline import OfflineLoop
from keelrl.train.on_policy import RolloutLoop
from keelrl.train.run_folder import (CONFIG_NAME, adopt, agent_step_meta, default_run_dir, import_recorded, plan_run_dir, read_marker,
                                     read_run_config, remove_temporaries)
from keelrl.train.skeleton import allocating, finish_run, mark_finished, resolve_device
from keelrl.train.tracking import check_trackers
from keelrl.types import Spaces

LOOPS = {"transitions": OffPolicyLoop, "rollouts": RolloutLoop, "dataset": OfflineLoop}
"""The loop for each kind of source an algorithm trains from (AlgoSpec.trains_from)."""


def _imports(spec: AlgoSpec, imports: tuple[str, ...] | list[str]) -> list[str]:
    """The modules a run needs imported again: those given, and the one that registered the algorithm."""
    names = list(imports)
    if not spec.origin.startswith("keelrl") and spec.origin != "__main__" and spec.origin not in names:
        names.append(spec.origin)
    return names


def train(algo: str, run: RunConfig | OfflineRunConfig, cfg, callback=None, imports: tuple[str, ...] = ()) -> Path:
    """Start a new run of `algo` with its Config `cfg`; return the run folder. Algorithms that train
    from a dataset take an OfflineRunConfig (a dataset instead of an environment).

    `callback`: a function `callback(step) -> bool` (True stops the run the way Ctrl-C does:
    checkpoint, then return), or objects with on_step / on_eval / on_log / on_checkpoint / ...
    hooks (train/callbacks.py), or a list of them.
    `imports`: modules to import again when the run is resumed or evaluated (keel --import).

    Nothing is written until everything that can be checked has been and the run is built
    (environments, networks, buffers); with `overwrite`, the old run is replaced only then
    (train/run_folder.py). Ctrl-C or SIGTERM: a checkpoint, then RunInterrupted.
    """
    spec = get_algo(algo)
    expected = run_config_class(spec)
    if not isinstance(run, expected):
        if spec.uses_dataset:
            raise KeelError(f"{algo} trains offline: give it an OfflineRunConfig (keel train {algo} --dataset ID)")
        raise KeelError(f"{algo} trains online in an environment: give it a RunConfig (keel train {algo} --env ENV_ID)")
    if not isinstance(cfg, spec.config):
        raise KeelError(f"{algo} expects a {spec.config.__name__}, got {type(cfg).__name__}")
    meta = {"algo": algo, "keelrl_version": __version__, "torch_version": torch.__version__,
            "imports": _imports(spec, imports)}
    if getattr(run, "seeds", ""):
        return multi_seed.train(spec, run, cfg, callback, meta)[0].parent
    device = resolve_device(run.device)
    if run.cuda_graphs:
        from keelrl.speed.cuda_graph import check_cuda_graphs
        check_cuda_graphs(spec, cfg, device, run.compile)
    # a device, env id, dataset, space or folder we cannot use fails here, before any folder is touched
    data = None
    if spec.uses_dataset:
        from keelrl.data.offline import load_minari
        data = load_minari(run.dataset, "cpu", run.seed)
        check_spaces(spec, Spaces.of(data), f"dataset {run.dataset}")
        if run.eval_episodes > 0:
            data.make_eval_env().close()
        meta["offline"] = True
        run_dir = Path(run.run_dir) if run.run_dir else default_run_dir(algo, run.dataset, f"s{run.seed}")
    else:
        probe = make_env(run.env, kwargs=run.env_kwargs, wrappers=run.wrappers)
        try:
            check_spaces(spec, Spaces.of(probe), env_label(run.env))
            meta.update(agent_step_meta(probe))
        finally:
            probe.close()
        run_dir = Path(run.run_dir) if run.run_dir else default_run_dir(algo, env_label(run.env), f"s{run.seed}")
    if spec.check_run is not None:
        spec.check_run(run, cfg)
    check_trackers(run.track)
    plan = plan_run_dir(run_dir, run.overwrite)
    run.run_dir = str(run_dir)
    meta.update(run=asdict(run), algo_config=asdict(cfg))
    with allocating(f"{algo}'s run"):
        if data is not None:
            meta["dataset"] = data.fingerprint()
            loop = OfflineLoop(spec, run, cfg, run_dir, data=data)
        else:
            loop = LOOPS[spec.trains_from](spec, run, cfg, run_dir)
    try:
        plan.create({"": {CONFIG_NAME: json.dumps(meta, indent=2)}})
    except BaseException:
        loop.close()
        raise
    return loop.run(callback)


def resume(run_dir: str | Path, total_steps: int | None = None, callback=None, progress: bool | None = None,
           trust_pickle: bool = False) -> Path:
    """Continue the run in `run_dir` from its checkpoint (optionally to a new `total_steps`).

    The checkpoint must belong to the folder's config.json (algorithm, environment or dataset,
    settings); nothing in the folder changes until the run is rebuilt from it. A run stopped after
    its last checkpoint but before it drew its curve is finished. `trust_pickle`: also read a
    checkpoint that needs code to load (keelrl 0.1's); only for files from a source you trust.
    Module names the run folder records are imported from installed packages only (names_from_a_file)."""
    with names_from_a_file():
        return _resume(Path(run_dir), total_steps, callback, progress, trust_pickle)


def _resume(run_dir: Path, total_steps: int | None, callback, progress: bool | None, trust_pickle: bool) -> Path:
    if not run_dir.is_dir():
        raise KeelError(f"cannot resume {run_dir}: " + ("it is a file, not a run folder" if run_dir.exists()
                                                        else "no such folder"))
    if not (run_dir / CONFIG_NAME).exists():
        if multi_seed.is_group(run_dir):  # a folder of seeds trained together (--seeds): continue them together
            return multi_seed.resume(run_dir, total_steps, callback, progress, trust_pickle)[0].parent
        raise KeelError(f"cannot resume {run_dir}: it is not a keelrl run folder (no {CONFIG_NAME})")
    meta = read_run_config(run_dir)
    import_recorded(run_dir)
    if "seed_group" in meta:
        settle(run_dir.parent)   # finish or undo a group checkpoint a kill cut short
    if not (run_dir / CHECKPOINT_NAME).exists():
        raise KeelError(f"cannot resume {run_dir}: the run stopped before its first checkpoint; start it again "
                        f"with the same command and --overwrite (it replaces this folder)")
    ckpt = read_checkpoint(run_dir / CHECKPOINT_NAME, trust_pickle)
    spec = get_algo(ckpt["algo"])
    check_belongs(meta, ckpt, run_dir, spec.current_names)
    try:
        run = run_config_class(spec)(**ckpt["run_config"])
        cfg = spec.config_from(ckpt["algo_config"])
        step = int(ckpt["loop"]["step"])
    except (TypeError, KeyError, ValueError) as e:
        raise KeelError(f"{run_dir / CHECKPOINT_NAME} holds settings this keelrl cannot use ({e})") from None
    if total_steps is not None:
        run.total_steps = total_steps
    if progress is not None:
        run.progress = progress
    if run.total_steps <= step:
        if step == run.total_steps and not (read_marker(run_dir) or {}).get("finished"):
            # stopped after its final checkpoint: only the curve and the summary are left to do
            finish_run(run_dir, True, step, ckpt["loop"].get("last_eval"))
            adopt(run_dir)
            mark_finished(run_dir)
            return run_dir
        raise KeelError(f"run {run_dir} is already at step {step} of {run.total_steps}; "
                        f"pass --total-steps N with N > {step} to train it further")
    run.run_dir = str(run_dir)
    with allocating(f"the resumed run {run_dir}"):
        loop = LOOPS[spec.trains_from](spec, run, cfg, run_dir, ckpt)
    # the run is rebuilt: now the folder may change
    remove_temporaries(run_dir)
    adopt(run_dir)
    if total_steps is not None:  # the run folder's config records the budget it now has
        meta["run"]["total_steps"] = run.total_steps
        atomic_write_text(json.dumps(meta, indent=2), run_dir / CONFIG_NAME)
    return loop.run(callback)
