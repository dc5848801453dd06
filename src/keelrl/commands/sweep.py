"""`keel sweep SPEC.yaml`: algorithms x environments (or datasets) x seeds x hyperparameter grids,
every trial an ordinary run folder under the sweep's `out`, trained in a process of its own on a
local pool of workers or, through commands/sweep_ray.py, on Ray Tune. The format is in docs/sweep.md.

The sweep folder holds the trial folders, trials.json (the expanded list, written before anything
runs), logs/<trial>.log (each trial's output, appended run after run) and status.json (every
trial's last outcome). A trial is finished when its checkpoint's step counter has reached its
total_steps: a rerun skips finished trials, resumes those holding a checkpoint (to a raised
total_steps too) and starts the others afresh, failed ones included.
"""
from __future__ import annotations

import csv
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from keelrl.errors import KeelError
from keelrl.train.checkpoint import CHECKPOINT_NAME, atomic_write_text, read_checkpoint
from keelrl.train.config import run_config_class
from keelrl.train.run_folder import CONFIG_NAME, check_writable_location
from keelrl.commands.sweep_spec import Sweep, Trial, check_sources, coerce_fields, load_spec

STOPPED = 3  # a trial process's exit code when its run stopped (Ctrl-C) before its budget


# ---------------------------------------------------------------- one trial

def trial_state(trial: Trial) -> tuple[str, int]:
    """("new" | "restart" | "resume" | "done", the checkpoint's step) of the trial's run folder; a
    folder holding another run (other settings, or not a run at all) is a KeelError."""
    run_dir = Path(trial.run["run_dir"])
    if not (run_dir / CONFIG_NAME).exists():
        if run_dir.exists() and any(run_dir.iterdir()):
            raise KeelError(f"{run_dir} is not a keelrl run folder; move it away or give the sweep another out")
        return "new", 0
    try:
        meta = json.loads((run_dir / CONFIG_NAME).read_text())
        run, cfg = meta["run"], meta["algo_config"]
    except (ValueError, KeyError, TypeError):
        raise KeelError(f"{run_dir / CONFIG_NAME} is not a keelrl run's config; move the folder away") from None
    source = "dataset" if "dataset" in trial.run else "env"
    have = {"algo": meta.get("algo"), source: run.get(source), "seed": run.get("seed"),
            **{k: cfg.get(k) for k in trial.config}}
    want = json.loads(json.dumps({"algo": trial.algo, source: trial.run[source], "seed": trial.run["seed"],
                                  **trial.config}))
    diff = [k for k in want if have[k] != want[k]]
    if diff:
        raise KeelError(f"{run_dir} holds a run with other settings ({diff[0]}: {have[diff[0]]!r} there, "
                        f"{want[diff[0]]!r} in the spec); move it away or give the sweep another out")
    if not (run_dir / CHECKPOINT_NAME).exists():
        return "restart", 0  # stopped before its first checkpoint
    step = _checkpoint_step(run_dir / CHECKPOINT_NAME)
    return ("done" if step >= trial.run["total_steps"] else "resume"), step


def _checkpoint_step(path: Path) -> int:
    """The step counter, without reading the replay buffer into memory (mmap). A file that cannot be
    read safely is a KeelError saying why (the trial is then listed as failed, with that reason)."""
    return int(read_checkpoint(path, mmap=True)["loop"]["step"])


def run_trial(trials_file: str, name: str, log: str, context=None) -> dict:
    """Train trial `name` of `trials_file` in a process of its own, its output appended to `log`:
    a fork of `context`'s forkserver (a local sweep's, which imported torch and keelrl once), or a
    fresh interpreter. Never raises: returns the outcome (done, stopped or failed, the error's last line)."""
    t0 = time.monotonic()
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write(f"--- keel sweep: trial {name}, {datetime.now():%Y-%m-%d %H:%M:%S}\n")
    try:
        if context is None:
            with open(log, "a") as f:
                rc = subprocess.run([sys.executable, "-m", "keelrl.commands.sweep", trials_file, name],
                                    stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"}).returncode
        else:
            process = context.Process(target=_trial_process, args=(trials_file, name, log, os.getpid()), name=name)
            process.start()
            process.join()
            rc = process.exitcode
    except OSError as e:
        rc, error = 1, f"could not start the trial process: {e}"
    else:
        error = _last_line(log) if rc > 0 else f"killed by signal {signal.Signals(-rc).name}" if rc < 0 else ""
    status = "done" if rc == 0 else "stopped" if rc == STOPPED else "failed"
    return {"name": name, "status": status, "error": error, "seconds": round(time.monotonic() - t0, 1), "log": log}


def _trial_process(trials_file: str, name: str, log: str, owner: int) -> None:
    """A forked trial process: everything it prints, Python's or C's, goes to the log."""
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = sys.stderr = open(1, "w", buffering=1, closefd=False)
    sys.exit(trial_main([trials_file, name], owner))


def _last_line(path: str) -> str:
    lines = [ln.strip() for ln in Path(path).read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1].removeprefix("keel: error: ") if lines else "no output"


def _stop_with(owner: int) -> None:
    """If process `owner` dies (a killed sweep, a Ray worker that Tune stopped), stop the run the
    way Ctrl-C does: with a checkpoint, ready to resume."""
    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                pass
        os.kill(os.getpid(), signal.SIGINT)
    threading.Thread(target=watch, daemon=True).start()


def trial_main(argv: list[str], owner: int | None = None) -> int:
    """A trial process's entry point: `python -m keelrl.commands.sweep TRIALS_JSON NAME`; the run stops
    when process `owner` (default: the parent) dies."""
    from keelrl.train.skeleton import RunInterrupted
    _stop_with(owner or os.getppid())
    try:
        return _train_trial(*argv)
    except KeelError as e:
        print(f"keel: error: {e}", file=sys.stderr)
        return 1
    except RunInterrupted as e:   # the sweep (or Ray) stopped: the run wrote its checkpoint
        print(e.message)
        return STOPPED


def _train_trial(trials_file: str, name: str) -> int:
    """The trial process: start, restart or resume the trial's run; exit 0 once it is finished."""
    from keelrl.algos import get_algo
    from keelrl.envs.make import import_module
    from keelrl.train import dispatch
    trials = json.loads(Path(trials_file).read_text())
    for module in trials.get("imports", []):
        import_module(module, f"named by the sweep's imports ({trials_file})")
    trial = next((Trial(**t) for t in trials["trials"] if t["name"] == name), None)
    if trial is None:
        raise KeelError(f"{trials_file} has no trial {name!r}")
    spec = get_algo(trial.algo)
    run = run_config_class(spec)(**trial.run)
    state, step = trial_state(trial)
    if state == "resume":
        print(f"resuming {run.run_dir} from step {step} to {run.total_steps}")
        dispatch.resume(run.run_dir, total_steps=run.total_steps, progress=True)
    elif state != "done":
        run.overwrite = state == "restart"
        dispatch.train(trial.algo, run, spec.config(**coerce_fields(spec.config, trial.config, trial.algo)),
                       imports=trials.get("imports", []))
    state, step = trial_state(trial)
    print(f"{'finished' if state == 'done' else 'stopped'} at step {step} of {run.total_steps}")
    return 0 if state == "done" else STOPPED


# ---------------------------------------------------------------- the sweep

def run_sweep(spec_path: str | Path, workers: int | None = None, ray: bool = False, ray_address: str | None = None,
              dry_run: bool = False, imports: list[str] | tuple[str, ...] = ()) -> int:
    """Run every unfinished trial of the spec; print a summary; 0 when all are finished, else 1."""
    sweep = load_spec(spec_path, imports)
    check_writable_location(sweep.out, "the sweep's out folder")
    if workers is not None and workers < 1:
        raise KeelError(f"--workers must be >= 1, got {workers}")
    workers = workers or sweep.workers or (None if ray_address else os.cpu_count() or 1)
    check_sources(sweep.trials, datasets=not ray_address)
    if not sweep.threads_given and (ray or workers > 1):
        sweep.trials = [Trial(t.name, t.algo, {**t.run, "threads": 1}, t.config) for t in sweep.trials]
    plan: dict[str, tuple[str, int | str]] = {}
    for t in sweep.trials:
        try:
            plan[t.name] = trial_state(t)
        except KeelError as e:
            plan[t.name] = ("failed", str(e))
    if dry_run:
        for t in sweep.trials:
            state, step = plan[t.name]
            print(f"{state:8s} {t.name}" + (f"  (step {step})" if state in ("done", "resume") else
                                            f"  ({step})" if state == "failed" else ""))
        return 0
    trials_file = sweep.out / "trials.json"
    atomic_write_text(json.dumps({"name": sweep.name, "imports": sweep.imports,
                                  "trials": [asdict(t) for t in sweep.trials]}, indent=1), trials_file)
    logs = sweep.out / "logs"
    results: dict[str, dict] = {}
    todo = []
    for t in sweep.trials:
        state, step = plan[t.name]
        log = str(logs / f"{t.name}.log")
        if state == "done":
            results[t.name] = {"name": t.name, "status": "skipped", "error": "", "seconds": 0.0, "log": log}
            print(f"skip     {t.name}  (finished at step {step})")
        elif state == "failed":
            results[t.name] = {"name": t.name, "status": "failed", "error": step, "seconds": 0.0, "log": log}
            print(f"failed   {t.name}: {step}")
        else:
            todo.append((t.name, log))

    ran: list[str] = []

    def record(result: dict) -> None:
        results[result["name"]] = result
        ran.append(result["name"])
        tail = f": {result['error']}" if result["error"] else ""
        print(f"[{len(ran)}/{len(todo)}] {result['status']:7s} {result['name']}  ({result['seconds']:.0f} s){tail}", flush=True)
        atomic_write_text(json.dumps(results, indent=1), sweep.out / "status.json")

    print(f"sweep {sweep.name}: {len(sweep.trials)} trials, {len(todo)} to run "
          f"{'on Ray' if ray else f'on {workers} local worker' + 's' * (workers > 1)}; folder {sweep.out}", flush=True)
    interrupted = False
    try:
        if ray:
            from keelrl.commands.sweep_ray import run_on_ray
            run_on_ray(str(trials_file), todo, workers, ray_address, sweep, record, run_trial)
        elif todo:
            _run_local(str(trials_file), todo, workers, record)
    except KeyboardInterrupt:
        interrupted = True
    atomic_write_text(json.dumps(results, indent=1), sweep.out / "status.json")
    _print_summary(sweep, results)
    if interrupted:
        print(f"interrupted: running trials saved a checkpoint; `keel sweep {spec_path}` continues the sweep")
        raise KeyboardInterrupt
    return 0 if all(r["status"] in ("done", "skipped") for r in results.values()) else 1


def _run_local(trials_file: str, todo: list[tuple[str, str]], workers: int, record) -> None:
    """A thread per worker, each waiting on one trial process at a time, forked from a server process
    that imported torch and keelrl once (a trial then starts in a fraction of a second)."""
    context = multiprocessing.get_context("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                                          else "spawn")
    context.set_forkserver_preload(["keelrl.train.dispatch"])
    with ThreadPoolExecutor(min(workers, len(todo))) as pool:
        futures = [pool.submit(run_trial, trials_file, name, log, context) for name, log in todo]
        seen = set()
        try:
            for fut in as_completed(futures):
                seen.add(fut)
                record(fut.result())
        except KeyboardInterrupt:  # Ctrl-C reached the trial processes too: they checkpoint and stop
            for fut in futures:
                fut.cancel()
            for fut in as_completed([f for f in futures if not f.cancelled() and f not in seen]):
                record(fut.result())
            raise


def _print_summary(sweep: Sweep, results: dict[str, dict]) -> None:
    width = max(len(t.name) for t in sweep.trials)
    print(f"\n{'trial':{width}s}  status   final eval return")
    for t in sweep.trials:
        status = results.get(t.name, {"status": "not run"})["status"]
        print(f"{t.name:{width}s}  {status:7s}  {_final_return(Path(t.run['run_dir']))}")
    counts = {s: sum(results.get(t.name, {"status": "not run"})["status"] == s for t in sweep.trials)
              for s in ("done", "skipped", "failed", "stopped", "not run")}
    print(f"\nsweep {sweep.name}: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n or s in ("done", "skipped", "failed")))
    for r in results.values():
        if r["status"] in ("failed", "stopped"):
            print(f"  {r['status']} {r['name']}: {r['error'] or 'stopped before its budget'}\n    log: {r['log']}")


def _final_return(run_dir: Path) -> str:
    try:
        with open(run_dir / "eval.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        return f"{float(rows[-1]['eval_return_mean']):.1f}"
    except (OSError, IndexError, KeyError, ValueError):
        return "-"


if __name__ == "__main__":
    sys.exit(trial_main(sys.argv[1:]))
