"""Experiment tracking beside the run folder's CSVs and TensorBoard events, opt-in (`--track wandb
mlflow`). Each tracker receives the run's configuration as hyperparameters, the losses and
throughput at every logging interval, every evaluation, every training episode's return, and the
learning curve at the end. A resumed run continues the same tracked run: the ids are kept in the
run folder's tracking.json.

- Weights & Biases: offline unless WANDB_MODE says otherwise or an API key is configured
  (`wandb login`); an offline run is uploaded later with `wandb sync RUN_DIR/wandb/offline-run-*`.
  Its files are in RUN_DIR/wandb.
- MLflow: the tracking URI of MLFLOW_TRACKING_URI, else `--track-uri`, else a local file store,
  ./mlruns (browse it with `mlflow ui --backend-store-uri ./mlruns`).
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from keelrl.errors import KeelError
from keelrl.files import atomic_write_text

TRACKERS = ("wandb", "mlflow")
IDS_FILE = "tracking.json"
"""The run folder's record of its tracked runs' ids, so that a resumed run continues them."""


def check_trackers(names: tuple[str, ...] | list[str]) -> None:
    """Refuse, in one line, an unknown tracker or one whose package is missing, before a run starts."""
    for name in names:
        if name not in TRACKERS:
            raise KeelError(f"--track takes {' and '.join(TRACKERS)}; got {name!r} (TensorBoard and the CSVs are always written)")
        module = "wandb" if name == "wandb" else "mlflow"
        try:
            __import__(module)
        except ImportError:
            raise KeelError(f"--track {name} needs the {module} package: pip install 'keelrl[tracking]'") from None


def flat_config(meta: dict) -> dict:
    """config.json's run and algorithm settings as flat hyperparameters: algo, run.env, algo.lr, ..."""
    out = {"algo": meta.get("algo")}
    for part in ("run", "algo_config"):
        for k, v in (meta.get(part) or {}).items():
            out[f"{'run' if part == 'run' else 'algo'}.{k}"] = v if isinstance(v, (int, float, str, bool)) or v is None else json.dumps(v)
    return out


class _Ids:
    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / IDS_FILE
        try:
            self.ids = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.ids = {}

    def get(self, name: str) -> str | None:
        return self.ids.get(name)

    def set(self, name: str, value: str) -> None:
        self.ids[name] = value
        atomic_write_text(json.dumps(self.ids), self.path)


class WandbTracker:
    def __init__(self, run_dir: Path, meta: dict, project: str, ids: _Ids) -> None:
        import wandb
        mode = os.environ.get("WANDB_MODE") or ("online" if os.environ.get("WANDB_API_KEY") or _wandb_logged_in() else "offline")
        run_id = ids.get("wandb") or secrets.token_hex(4)   # W&B ids: lowercase letters and digits
        self.run = wandb.init(project=project, name=run_dir.name, id=run_id, resume="allow", dir=str(run_dir),
                              config=flat_config(meta), mode=mode, reinit="create_new")
        ids.set("wandb", run_id)

    def log(self, step: int, values: dict) -> None:
        self.run.log(values, step=step)

    def finish(self, curve: Path | None) -> None:
        import wandb
        if curve is not None and curve.exists():
            self.run.log({"learning_curve": wandb.Image(str(curve))})
        self.run.finish()

    def close(self) -> None:
        self.run.finish()


def _wandb_logged_in() -> bool:
    netrc = Path.home() / ".netrc"
    try:
        return "api.wandb.ai" in netrc.read_text()
    except OSError:
        return False


class MlflowTracker:
    def __init__(self, run_dir: Path, meta: dict, project: str, uri: str | None, ids: _Ids) -> None:
        import mlflow
        from mlflow.tracking import MlflowClient
        uri = os.environ.get("MLFLOW_TRACKING_URI") or uri or (Path.cwd() / "mlruns").as_uri()
        if uri.startswith("file:"):   # MLflow keeps its file store in "maintenance mode" behind this switch
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = MlflowClient(uri)
        experiment = self.client.get_experiment_by_name(project)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(project)
        run_id = ids.get("mlflow")
        if run_id is None:
            run_id = self.client.create_run(experiment_id, run_name=run_dir.name, tags={"keelrl.run_dir": str(run_dir)}).info.run_id
            ids.set("mlflow", run_id)
            params = flat_config(meta)
            for i in range(0, len(params), 100):   # MLflow's batch limit
                chunk = dict(list(params.items())[i:i + 100])
                self.client.log_batch(run_id, params=[mlflow.entities.Param(k, str(v)[:6000]) for k, v in chunk.items()])
        else:   # a resumed run: the tracked run goes on
            self.client.update_run(run_id, status="RUNNING")
        self.run_id = run_id

    def log(self, step: int, values: dict) -> None:
        import time

        from mlflow.entities import Metric
        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), now, step) for k, v in values.items()])

    def finish(self, curve: Path | None) -> None:
        if curve is not None and curve.exists():
            self.client.log_artifact(self.run_id, str(curve))
        self.client.set_terminated(self.run_id)

    def close(self) -> None:
        self.client.set_terminated(self.run_id, status="KILLED")


def open_trackers(names: tuple[str, ...] | list[str], run_dir: Path, meta: dict, project: str = "keelrl",
                  uri: str | None = None) -> list:
    """The trackers a run asked for, each continuing its tracked run if the folder records one."""
    check_trackers(names)
    ids = _Ids(run_dir)
    out = []
    for name in names:
        out.append(WandbTracker(run_dir, meta, project, ids) if name == "wandb" else
                   MlflowTracker(run_dir, meta, project, uri, ids))
    return out
