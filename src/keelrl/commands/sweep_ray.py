"""`keel sweep --ray` / `--ray-address ADDR`: the sweep's trials as a Ray Tune grid over their names.
Each Tune trial runs commands/sweep.py's `run_trial` (a fresh interpreter training the one trial), so
a trial folder, its log and its outcome are the same whichever runs it. Ray is optional
(`pip install 'keelrl[ray]'`) and imported only here.

A local Ray (`--ray`) gets `workers` CPUs, no dashboard, and keeps its session files where Ray
does by default ($RAY_TMPDIR, else /tmp/ray: socket paths must stay short); Tune's own records go
to the sweep folder's ray/. Ray reads RAY_AUTH_MODE from the environment (`disabled` keeps a
local Ray from creating its ~/.ray/auth_token).
"""
from __future__ import annotations

import logging
from typing import Callable

from keelrl.errors import KeelError
from keelrl.commands.sweep_spec import Sweep

OUTCOME = ("name", "status", "error", "seconds", "log")  # what run_trial returns


def run_on_ray(trials_file: str, todo: list[tuple[str, str]], workers: int | None, address: str | None,
               sweep: Sweep, record: Callable[[dict], None], run_trial: Callable[[str, str, str], dict]) -> None:
    """Run the `todo` trials (name, log path) through Ray Tune, one CPU each (or the run's threads):
    each Tune trial calls `run_trial(trials_file, name, log)` (sweep.py's, which trains in a
    subprocess and returns the outcome), and `record(outcome)` is called as each finishes. A
    trial's failure never stops the others."""
    try:
        import ray
        from ray import tune
    except ImportError:
        raise KeelError("keel sweep --ray needs Ray Tune, which is not installed: pip install 'keelrl[ray]'") from None
    if not todo:
        return
    started = not ray.is_initialized()
    if started:
        try:
            if address:
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            else:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise KeelError(f"could not {'reach the Ray cluster at ' + address if address else 'start a local Ray'}: "
                            f"{' '.join(str(e).split())}") from None
    logs = dict(todo)
    reported: set[str] = set()

    class Report(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            reported.add(result["name"])
            record({k: result[k] for k in OUTCOME})

    def trainable(config: dict) -> None:
        tune.report(run_trial(trials_file, config["name"], logs[config["name"]]))

    threads = max(t.run.get("threads", 1) for t in sweep.trials) or 1
    try:
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": threads}),
            param_space={"name": tune.grid_search([name for name, _ in todo])},
            tune_config=tune.TuneConfig(max_concurrent_trials=workers,
                                        trial_dirname_creator=lambda t: t.config["name"]),
            run_config=tune.RunConfig(name="tune", storage_path=str(sweep.out / "ray"), verbose=0,
                                      callbacks=[Report()]))
        for result in tuner.fit():  # outcomes the callback did not see; no outcome: the trial failed or Tune stopped
            name = result.config["name"]
            if name in reported:
                continue
            if "status" in (result.metrics or {}):
                record({k: result.metrics[k] for k in OUTCOME})
            else:
                error = (str(result.error).strip().splitlines() or ["no result"])[-1] if result.error else ""
                record({"name": name, "status": "failed" if result.error else "stopped", "seconds": 0.0,
                        "error": error or "stopped by Ray Tune before it finished", "log": logs[name]})
    finally:
        if started:
            ray.shutdown()
