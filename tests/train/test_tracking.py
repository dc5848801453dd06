"""Experiment tracking, against local stores only: a run sent to Weights & Biases (offline) and MLflow
(a file store) arrives with its configuration, its losses, evaluations and training episodes, and its
learning curve; a resumed run continues the same tracked runs; TensorBoard gets the hyperparameters."""
import json
import struct
from pathlib import Path

import pytest

from keelrl import RunConfig, resume, train
from keelrl.algos.sac import SACConfig
from keelrl.errors import KeelError


def wandb_records(run_dir: Path) -> list:
    """Every record W&B wrote offline for the run (all its offline-run-* folders, oldest first): the
    .wandb files are a LevelDB-style log (32 KiB blocks; 7-byte headers: crc, length, type) of
    protobuf Records after a 7-byte file header."""
    from wandb.proto import wandb_internal_pb2
    records = []
    for path in sorted(run_dir.glob("wandb/offline-run-*/run-*.wandb")):
        data, pos, pending = path.read_bytes(), 7, b""
        while pos + 7 <= len(data):
            if 32768 - pos % 32768 < 7:   # a block's tail too short for a header is padding
                pos += 32768 - pos % 32768
                continue
            _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
            chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
            if kind in (1, 4):   # FULL, LAST
                record = wandb_internal_pb2.Record()
                record.ParseFromString(pending + chunk)
                records.append(record)
                pending = b""
            elif kind in (2, 3):   # FIRST, MIDDLE
                pending += chunk
    return records


def _history(records) -> dict[str, dict[int, str]]:
    out: dict[str, dict[int, str]] = {}
    for r in records:
        if r.WhichOneof("record_type") == "history":
            items = {i.key or "/".join(i.nested_key): i.value_json for i in r.history.item}
            step = int(items.get("_step", r.history.step.num))
            for k, v in items.items():
                out.setdefault(k, {})[step] = v
    return out


@pytest.fixture
def local_stores(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def test_a_tracked_run_arrives_whole_and_a_resume_continues_it(tmp_path, local_stores):
    from mlflow.tracking import MlflowClient
    run = RunConfig(env="Pendulum-v1", total_steps=200, eval_every=100, eval_episodes=1, log_every=100,
                    run_dir=str(tmp_path / "r"), progress=False, device="cpu", seed=0, track=("wandb", "mlflow"))
    cfg = SACConfig(hidden_sizes=(8, 8), learning_starts=50, batch_size=16)
    run_dir = train("sac", run, cfg, callback=lambda step: step >= 100)
    ids = json.loads((run_dir / "tracking.json").read_text())
    client = MlflowClient(local_stores)
    assert client.get_run(ids["mlflow"]).info.status == "KILLED"   # stopped before its budget
    resume(run_dir)
    assert json.loads((run_dir / "tracking.json").read_text()) == ids

    tracked = client.get_run(ids["mlflow"])
    assert tracked.info.status == "FINISHED" and tracked.info.run_name == "r"
    assert tracked.data.params["algo"] == "sac" and tracked.data.params["algo.batch_size"] == "16"
    assert tracked.data.params["run.env"] == "Pendulum-v1"
    assert [m.step for m in client.get_metric_history(ids["mlflow"], "eval/return")] == [100, 200]
    assert {m.step for m in client.get_metric_history(ids["mlflow"], "train/loss_q")} == {100, 200}
    assert [a.path for a in client.list_artifacts(ids["mlflow"])] == ["learning_curve.png"]
    assert len(client.search_runs([tracked.info.experiment_id])) == 1   # the resume continued it

    records = wandb_records(run_dir)
    config = {i.key: i.value_json for r in records if r.WhichOneof("record_type") == "run" for i in r.run.config.update}
    assert json.loads(config["algo"]) == "sac" and json.loads(config["algo.batch_size"]) == 16
    history = _history(records)
    assert sorted(history["eval/return"]) == [100, 200]
    assert float(history["eval/return"][200]) == pytest.approx(
        float((run_dir / "eval.csv").read_text().splitlines()[-1].split(",")[1]))
    assert sorted(history["train/loss_q"]) == [100, 200]
    assert history["learning_curve/_type"] == {200: '"image-file"'}   # the curve, with the last row
    assert list(run_dir.glob("wandb/offline-run-*/files/media/images/learning_curve_*.png"))
    assert {r.run.run_id for r in records if r.WhichOneof("record_type") == "run"} == {ids["wandb"]}


def test_tensorboard_gets_the_hyperparameters(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    run = RunConfig(env="Pendulum-v1", total_steps=60, eval_every=0, eval_episodes=1, run_dir=str(tmp_path / "r"),
                    progress=False, device="cpu")
    run_dir = train("sac", run, SACConfig(hidden_sizes=(8, 8), learning_starts=20, batch_size=16))
    events = EventAccumulator(str(run_dir / "tb"))
    events.Reload()
    content = events.PluginTagToContent("hparams")
    assert "_hparams_/session_start_info" in content
    assert b"algo.batch_size" in content["_hparams_/session_start_info"] and b"sac" in content["_hparams_/session_start_info"]


def test_an_unknown_tracker_is_one_line():
    with pytest.raises(KeelError, match="track takes wandb and mlflow, got 'neptune'"):
        RunConfig(track=("neptune",))
