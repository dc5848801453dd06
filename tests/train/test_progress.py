"""What a run shows while it trains: a live bar in a terminal that moves between iterations, one
plain line per logging interval elsewhere, and the closing summary always."""
import io
import time

from keelrl import OfflineRunConfig, RunConfig, train
from keelrl.algos.iql import IQLConfig
from keelrl.algos.sac import SACConfig
from keelrl.train.progress import RunProgress, clock, display_mode


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_mode_follows_the_output():
    assert display_mode(True, Terminal()) == "bar"
    assert display_mode(True, io.StringIO()) == "lines"
    assert display_mode(False, Terminal()) == "off"
    assert clock(65) == "1:05" and clock(3725) == "1:02:05" and clock(None) == "-"


def test_the_bar_redraws_at_least_once_a_second_with_rate_elapsed_and_eta():
    out = Terminal()
    progress = RunProgress(1000, 0, "bar", "sac Pendulum-v1", stream=out)
    for step in range(0, 101, 10):
        progress.update(step, train=-1234.5, eval_=-1500.0)
        time.sleep(0.05)
    time.sleep(1.6)   # no update from the run: the display still moves (elapsed ticks)
    progress.close()
    frames = out.getvalue()
    assert "100/1000 steps (10%)" in frames and "/s" in frames and "ETA 0:" in frames
    assert "train -1234" in frames and "eval -1500" in frames
    assert "elapsed 0:00" in frames and "elapsed 0:01" in frames


def test_a_batch_job_gets_a_line_per_logging_interval_and_the_summary(tmp_path, capsys):
    run = RunConfig(env="Pendulum-v1", total_steps=300, eval_every=150, eval_episodes=1, log_every=100,
                    run_dir=str(tmp_path / "r"), progress=True, device="cpu", seed=0)
    train("sac", run, SACConfig(hidden_sizes=(8, 8), learning_starts=50, batch_size=16))
    lines = capsys.readouterr().out.strip().splitlines()
    progress = [line for line in lines if line.startswith("sac Pendulum-v1  ")]
    assert [line.split("  ")[1] for line in progress] == ["100/300 steps (33%)", "200/300 steps (67%)",
                                                          "300/300 steps (100%)"]
    assert all("/s  elapsed " in line and "  ETA " in line and "  train " in line for line in progress[1:])
    assert progress[0].endswith("eval -") and not progress[-1].endswith("eval -")   # evaluated at 150, shown from then on
    assert lines[-2].startswith("done: 300 steps, final evaluation return ")
    assert lines[-1].startswith(f"run folder: {tmp_path / 'r'}  (config.json, eval.csv")


def test_without_progress_only_the_summary_is_printed(tmp_path, capsys):
    run = RunConfig(env="Pendulum-v1", total_steps=100, eval_every=0, eval_episodes=1, log_every=50,
                    run_dir=str(tmp_path / "r"), progress=False, device="cpu", seed=0)
    train("sac", run, SACConfig(hidden_sizes=(8, 8), learning_starts=50, batch_size=16))
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2 and out[0].startswith("done: 100 steps")


def test_offline_counts_updates_and_shows_the_normalized_score(tmp_path, tiny_dataset, capsys):
    dataset, _ = tiny_dataset()
    run = OfflineRunConfig(dataset=dataset, total_steps=40, eval_every=20, eval_episodes=1, log_every=20,
                           run_dir=str(tmp_path / "o"), progress=True, device="cpu", seed=0)
    train("iql", run, IQLConfig(hidden_sizes=(8, 8), batch_size=16))
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith(f"iql {dataset}  20/40 updates (50%)") and " train " not in lines[0]
    assert "  score " in lines[-3]
    assert lines[-2].startswith("done: 40 updates, final evaluation return ") and "(normalized score " in lines[-2]
