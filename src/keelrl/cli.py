"""`keel`: train, resume, evaluate and plot. Training flags are generated from the Config dataclasses
(help text from their field docstrings), so every Config field is a flag.

    keel train sac --env HalfCheetah-v5 --seed 1 --total-steps 100000 --run-dir runs/x
    keel train --resume runs/x [--total-steps N]
    keel eval runs/x --episodes 10 [--video]
    keel plot runs/a runs/b ... [--out curves.png]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from keelrl.errors import KeelError

USAGE = """usage: keel COMMAND ...

commands:
  train ALGO [flags]        train a new run (keel train ALGO --help lists every flag)
  train --resume RUN_DIR    continue a run from its checkpoint
  eval RUN_DIR              evaluate a saved policy deterministically
  plot RUN_DIR...           learning curves, mean with a 95% band over seeds
"""


def _train_spec(spec):
    """A dataclass holding RunConfig and the algorithm's Config, flattened into one flag namespace."""
    import tyro
    from keelrl.train.config import RunConfig
    cls = dataclasses.make_dataclass(
        f"Train{spec.name.upper()}",
        [("run", RunConfig, dataclasses.field(default_factory=RunConfig)),
         ("algo", spec.config, dataclasses.field(default_factory=spec.config))])
    cls.__doc__ = f"keel train {spec.name}: {spec.summary}."
    return tyro.conf.OmitArgPrefixes[cls]


def _cmd_train(argv: list[str]) -> int:
    from keelrl.algos import ALGOS, get_algo
    from keelrl.train import online
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
        a = p.parse_args(argv)
        online.resume(a.resume, total_steps=a.total_steps, progress=False if a.no_progress else None)
        return 0
    spec = get_algo(argv[0])
    import tyro
    parsed = tyro.cli(_train_spec(spec), args=argv[1:], prog=f"keel train {spec.name}")
    online.train(spec.name, parsed.run, parsed.algo)
    return 0


def _cmd_eval(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="keel eval", description="Deterministic evaluation of a saved policy.")
    p.add_argument("run_dir", help="run folder (or a checkpoint / agent .pt file)")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=None, help="evaluation seed (default: the run's evaluation seed)")
    p.add_argument("--env", default=None, help="environment id (default: the run's)")
    p.add_argument("--video", nargs="?", const="", default=None, metavar="PATH",
                   help="record the episodes (default path: RUN_DIR/eval.mp4, or .gif without ffmpeg)")
    a = p.parse_args(argv)
    if a.episodes < 1:
        raise KeelError(f"--episodes must be >= 1, got {a.episodes}")
    from keelrl.train.policy_eval import evaluate_saved
    evaluate_saved(a.run_dir, a.episodes, a.seed, a.env, a.video)
    return 0


def _cmd_plot(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="keel plot", description="Learning curves: mean over seeds with a 95%% band.")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--out", default="learning_curves.png")
    p.add_argument("--title", default=None)
    a = p.parse_args(argv)
    from keelrl.analysis.plots import plot_runs
    print(plot_runs([Path(d) for d in a.run_dirs], Path(a.out), a.title))
    return 0


COMMANDS = {"train": _cmd_train, "eval": _cmd_eval, "plot": _cmd_plot}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv[0] not in COMMANDS:
        print(f"keel: unknown command {argv[0]!r}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[argv[0]](argv[1:])
    except KeelError as e:
        print(f"keel: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("keel: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
