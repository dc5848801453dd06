"""`keel`: train, resume, evaluate and plot. Training flags are generated from the Config dataclasses
(help text from their field docstrings), so every Config field is a flag.

    keel train sac --env HalfCheetah-v5 --seed 1 --total-steps 100000 --run-dir runs/x
    keel train iql --dataset keel/hopper/medium-v0 --total-steps 100000 [--preset hopper-medium]
    keel collect --policy runs/x --kind expert --steps 1000000 --name keel/hopper/expert-v0
    keel train --resume runs/x [--total-steps N]
    keel eval runs/x --episodes 10 [--video]
    keel plot runs/a runs/b ... [--out curves.png]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Annotated

from keelrl.errors import KeelError

USAGE = """usage: keel [--import MODULE]... COMMAND ...

  --import MODULE           import MODULE first (your own algorithms or environments, registered
                            on import); recorded in the run folder for eval, --resume, report, sweep

commands:
  train ALGO [flags]        train a new run (keel train ALGO --help lists every flag)
  train ALGO --dataset ID   train an offline algorithm on a Minari dataset
  train --resume RUN_DIR    continue a run from its checkpoint
  collect --name ID ...     make a Minari dataset from a saved policy (keel collect --help)
  eval RUN_DIR              evaluate a saved policy deterministically
  plot RUN_DIR...           learning curves, mean with a 95% band over seeds
  bench [ALGO...]           learner updates per second on synthetic data, per algorithm (docs/speed.md)
  report RUN_DIR...         IQM over seeds with 95% bootstrap CIs, profiles, curves, table (docs/report.md)
  sweep SPEC.yaml           algorithms x envs x seeds x grids as run folders (docs/sweep.md)
"""


TRUST_HELP = ("also open a checkpoint that needs code to load (a pickle, such as keelrl 0.1's checkpoints). "
              "Opening such a file can run any program: use it only for files from a source you trust")


def _train_spec(spec, preset: dict | None = None):
    """A dataclass holding the run's config (RunConfig, or OfflineRunConfig for offline algorithms)
    and the algorithm's Config, flattened into one flag namespace. A preset changes the Config's
    defaults, so flags given explicitly still win."""
    import tyro
    from keelrl.speed.sac_seeds import STACKED
    from keelrl.train.config import run_config_class
    run_cls = run_config_class(spec)
    if not spec.uses_dataset and spec.name not in STACKED:   # --seeds stacks SAC only: no flag for the others
        run_cls = dataclasses.make_dataclass(
            run_cls.__name__, [("seeds", Annotated[str, tyro.conf.Suppress], dataclasses.field(default=""))],
            bases=(run_cls,))
    run_field = (("run", run_cls) if spec.uses_dataset else ("run", run_cls, dataclasses.field(default_factory=run_cls)))
    cls = dataclasses.make_dataclass(
        f"Train{spec.name.upper()}",
        [run_field, ("algo", spec.config, dataclasses.field(default_factory=lambda: spec.config(**(preset or {}))))])
    cls.__doc__ = f"keel train {spec.name}: {spec.summary}." + (
        f" --preset NAME starts from a preset's Config values, which flags given still override; presets: "
        f"{', '.join(spec.presets)}." if spec.presets else "")
    return tyro.conf.OmitArgPrefixes[cls]


def _pop_preset(spec, argv: list[str]) -> tuple[dict | None, list[str]]:
    """Take `--preset NAME` out of argv; return the preset's Config values and the rest."""
    rest, name, i = [], None, 0
    while i < len(argv):
        if argv[i] == "--preset" and i + 1 < len(argv):
            name, i = argv[i + 1], i + 2
            continue
        if argv[i].startswith("--preset="):
            name = argv[i].split("=", 1)[1]
        else:
            rest.append(argv[i])
        i += 1
    if name is None:
        return None, rest
    if name not in spec.presets:
        have = ", ".join(spec.presets) or "none"
        raise KeelError(f"{spec.name} has no preset {name!r}; its presets: {have}")
    return spec.presets[name], rest


IMPORTS: list[str] = []
"""Modules imported with `keel --import` (recorded in the config.json of the runs this process starts)."""


def _cmd_train(argv: list[str]) -> int:
    from keelrl.algos import ALGOS, get_algo
    from keelrl.train import dispatch
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: keel train ALGO [flags]   |   keel train --resume RUN_DIR [--total-steps N]\n\nalgorithms:")
        for name, spec in sorted(ALGOS.items()):
            print(f"  {name:8s} {spec.summary}")
        return 0
    if argv[0] == "--resume" or any(a.startswith("--resume") for a in argv):
        p = argparse.ArgumentParser(prog="keel train --resume")
        p.add_argument("--resume", required=True, metavar="RUN_DIR", help="run folder to continue")
        p.add_argument("--total-steps", type=int, default=None, help="new total budget (default: the run's own)")
        p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
        p.add_argument("--trust-pickle", action="store_true", help=TRUST_HELP)
        a = p.parse_args(argv)
        dispatch.resume(a.resume, total_steps=a.total_steps, progress=False if a.no_progress else None,
                        trust_pickle=a.trust_pickle)
        return 0
    spec = get_algo(argv[0])
    preset, rest = _pop_preset(spec, argv[1:])
    if spec.uses_dataset and any(a == "--env" or a.startswith("--env=") for a in rest):
        raise KeelError(f"{spec.name} trains offline on a dataset: pass --dataset ID (the evaluation environment "
                        f"comes from the dataset's metadata), not --env")
    if not spec.uses_dataset and any(a == "--dataset" or a.startswith("--dataset=") for a in rest):
        offline = ", ".join(n for n, s in sorted(ALGOS.items()) if s.uses_dataset)
        raise KeelError(f"{spec.name} trains online in an environment (--env); the offline algorithms are {offline}")
    from keelrl.speed.sac_seeds import STACKED
    if spec.name not in STACKED and any(a == "--seeds" or a.startswith("--seeds=") for a in rest):
        raise KeelError(f"--seeds trains several seeds in one process for {', '.join(STACKED)}; for {spec.name}, "
                        f"start one run per --seed (or use keel sweep)")
    import tyro
    parsed = tyro.cli(_train_spec(spec, preset), args=rest, prog=f"keel train {spec.name}")
    dispatch.train(spec.name, parsed.run, parsed.algo, imports=IMPORTS)
    return 0


def _cmd_eval(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="keel eval", description="Deterministic evaluation of a saved policy.")
    p.add_argument("run_dir", help="run folder, a --seeds group (every seed, then their mean and 95%% interval), "
                                   "or a checkpoint / agent .pt file")
    p.add_argument("--episodes", type=int, default=10, help="deterministic episodes to run (default %(default)s)")
    p.add_argument("--seed", type=int, default=None, help="evaluation seed (default: the run's evaluation seed)")
    p.add_argument("--env", default=None, help="environment id (default: the run's)")
    p.add_argument("--video", nargs="?", const="", default=None, metavar="PATH",
                   help="record the episodes (default path: RUN_DIR/eval.mp4, or .gif without ffmpeg)")
    p.add_argument("--trust-pickle", action="store_true", help=TRUST_HELP)
    a = p.parse_args(argv)
    if a.episodes < 1:
        raise KeelError(f"--episodes must be >= 1, got {a.episodes}")
    from keelrl.commands.evaluate import evaluate_saved
    evaluate_saved(a.run_dir, a.episodes, a.seed, a.env, a.video, a.trust_pickle)
    return 0


def _cmd_plot(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="keel plot", description="Learning curves: the mean over seeds with its 95%% band "
                                "(each seed's curve below 3 seeds), one panel per environment or dataset.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                   help="run folders, or folders containing them (a --seeds group, a sweep's folder)")
    p.add_argument("--out", default="learning_curves.png", help="image file (.png, .pdf, .svg, ...; default %(default)s)")
    p.add_argument("--title", default=None, help="a title above the panels")
    p.add_argument("--x", choices=("steps", "wall"), default="steps",
                   help="x axis: environment steps (agent steps with an action repeat; gradient updates offline) "
                        "or the wall-clock time (default %(default)s)")
    a = p.parse_args(argv)
    from keelrl.analysis.plots import plot_runs
    from keelrl.analysis.runs import find_run_dirs
    print(plot_runs(find_run_dirs([Path(d) for d in a.run_dirs]), Path(a.out), a.title, a.x))
    return 0


def _cmd_report(argv: list[str]) -> int:
    from keelrl.analysis.statistics import REPS
    p = argparse.ArgumentParser(prog="keel report", description="Per task and algorithm, the final deterministic "
                                "evaluation over seeds: IQM with a 95% stratified bootstrap interval (rliable), "
                                "mean, median; performance profiles and learning curves (docs/report.md).")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders, or folders containing run folders")
    p.add_argument("--out", default="report", help="folder for table.md, summary.json, curves.png, profiles.png")
    p.add_argument("--reps", type=int, default=REPS, help="bootstrap resamples (default %(default)s; 50000 for a paper)")
    a = p.parse_args(argv)
    from keelrl.commands.report import write_report
    report = write_report([Path(d) for d in a.run_dirs], Path(a.out), a.reps)
    for line in report.warnings:
        print(f"keel: warning: {line}", file=sys.stderr)
    print(report.table)
    print("wrote " + ", ".join(map(str, report.files)))
    return 0


def _cmd_bench(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="keel bench", description="Learner updates per second on a synthetic filled "
                                "buffer or dataset, each algorithm with its default Config (docs/speed.md).")
    p.add_argument("algos", nargs="*", metavar="ALGO", help="algorithms to time (default: all)")
    p.add_argument("--updates", type=int, default=200, help="timed gradient updates per algorithm (default %(default)s)")
    p.add_argument("--warmup", type=int, default=20, help="untimed updates first (default %(default)s)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default 0: one per idle core; fewer than torch's default when other processes use the CPU)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--batch-size", type=int, default=None, help="batch size for every algorithm (PPO: minibatch size)")
    p.add_argument("--compile", action="store_true", help="torch.compile the networks, as keel train --compile")
    p.add_argument("--cuda-graphs", action="store_true", help="replay each update from a CUDA graph (CUDA only)")
    p.add_argument("--seeds", type=int, default=1, metavar="K",
                   help="also time K seeds stacked in one agent, as keel train --seeds (SAC)")
    p.add_argument("--out", default=None, metavar="FILE.json", help="also write the results as JSON")
    a = p.parse_args(argv)
    from keelrl.speed.bench import bench
    bench(a.algos, a.updates, a.warmup, a.threads, a.device, a.batch_size, a.compile, a.cuda_graphs, a.out,
          seeds=a.seeds)
    return 0


def _cmd_collect(argv: list[str]) -> int:
    import tyro
    from keelrl.commands.collect import CollectConfig, collect
    argv = ["--sources" if a == "--from" else "--sources=" + a[7:] if a.startswith("--from=") else a for a in argv]
    cfg = tyro.cli(CollectConfig, args=argv, prog="keel collect",
                   description="Make a Minari dataset (D4RL-style kinds) from a saved keelrl policy, or from an environment's scripted demonstrator.")
    collect(cfg)
    return 0


def _cmd_sweep(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="keel sweep", description="Train every trial of a sweep spec (docs/sweep.md); "
                                "finished trials are skipped, stopped ones resumed, failed ones retried.")
    p.add_argument("spec", help="the sweep spec, a YAML file")
    p.add_argument("--workers", type=int, default=None, help="trials at once (default: the spec's workers, else the CPU count)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--ray", action="store_true", help="run the trials through Ray Tune on a local Ray")
    where.add_argument("--ray-address", default=None, metavar="ADDR",
                       help="run them on an existing Ray cluster (the sweep's out must be a folder every node sees)")
    p.add_argument("--dry-run", action="store_true", help="list the trials and what a run would do with each")
    a = p.parse_args(argv)
    from keelrl.commands.sweep import run_sweep
    return run_sweep(a.spec, a.workers, a.ray or a.ray_address is not None, a.ray_address, a.dry_run, IMPORTS)


COMMANDS = {"train": _cmd_train, "collect": _cmd_collect, "eval": _cmd_eval, "plot": _cmd_plot, "bench": _cmd_bench, "report": _cmd_report, "sweep": _cmd_sweep}


def _pop_imports(argv: list[str]) -> list[str]:
    """Take the leading `--import MODULE` options off argv, importing each module; return the rest."""
    from keelrl.envs.make import import_module
    while argv and (argv[0] == "--import" or argv[0].startswith("--import=")):
        if argv[0] == "--import":
            if len(argv) < 2:
                raise KeelError("--import needs a module name: keel --import MODULE COMMAND ...")
            name, argv = argv[1], argv[2:]
        else:
            name, argv = argv[0].split("=", 1)[1], argv[1:]
        import_module(name, "--import")
        if name not in IMPORTS:
            IMPORTS.append(name)
    return argv


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    IMPORTS.clear()   # this command's --import options only
    try:
        argv = _pop_imports(list(argv))
    except KeelError as e:
        print(f"keel: error: {e}", file=sys.stderr)
        return 1
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv[0] not in COMMANDS:
        print(f"keel: unknown command {argv[0]!r}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    from keelrl.train.skeleton import RunInterrupted
    try:
        return COMMANDS[argv[0]](argv[1:])
    except KeelError as e:
        print(f"keel: error: {e}", file=sys.stderr)
        return 1
    except RunInterrupted as e:   # Ctrl-C or SIGTERM, after the checkpoint: `keel train ... && next` stops here
        print(e.message, file=sys.stderr)
        return 128 + e.signum
    except OSError as e:   # a file or folder the system refused (permissions, a full disk, a file where a folder goes)
        where = f": {e.filename}" if e.filename else ""
        print(f"keel: error: {e.strerror or e}{where}: free space, fix the permissions or choose another place "
              f"(checkpoints are written atomically: the last one written is intact)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("keel: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
