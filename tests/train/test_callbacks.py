"""Callbacks see the agent, the step, the latest metrics and every evaluation (train/callbacks.py)."""
from keelrl import RunConfig, SACConfig, SaveBestAgent, StopOnReturn, load_agent, train
from keelrl.train.checkpoint import read_checkpoint


class Recorder:
    def __init__(self):
        self.calls = []

    def on_start(self, view):
        self.calls.append(("start", view.step))

    def on_log(self, view):
        self.calls.append(("log", view.step, sorted(view.metrics)))

    def on_eval(self, view):
        self.calls.append(("eval", view.step, view.last_eval_step, view.last_eval))

    def on_checkpoint(self, view):
        self.calls.append(("checkpoint", view.step))

    def on_end(self, view):
        self.calls.append(("end", view.step, view.num_updates, type(view.agent).__name__))


def _run(tmp_path, name, total=300):
    return RunConfig(env="Pendulum-v1", total_steps=total, eval_every=100, eval_episodes=1, log_every=100,
                     checkpoint_every=200, run_dir=str(tmp_path / name), progress=False, device="cpu")


CFG = SACConfig(hidden_sizes=(8, 8), batch_size=16, learning_starts=50)


def test_hooks_are_called_with_what_the_run_has(tmp_path):
    rec = Recorder()
    train("sac", _run(tmp_path, "r"), CFG, callback=rec)
    kinds = [c[0] for c in rec.calls]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("eval") == 3 and kinds.count("log") == 3
    assert [c[1] for c in rec.calls if c[0] == "checkpoint"] == [200, 300]
    evals = [c for c in rec.calls if c[0] == "eval"]
    assert [c[1] for c in evals] == [c[2] for c in evals] == [100, 200, 300] and all(c[3] < 0 for c in evals)
    assert ("log", 100, sorted(["loss_q", "q_mean", "loss_pi", "entropy", "loss_alpha", "alpha"])) in rec.calls
    assert rec.calls[-1] == ("end", 300, 250, "SACAgent")


def test_stop_on_return_and_save_best_agent(tmp_path):
    run_dir = train("sac", _run(tmp_path, "s"), CFG, callback=[StopOnReturn(-1e9), SaveBestAgent()])
    assert read_checkpoint(run_dir)["loop"]["step"] == 100          # stopped after the first evaluation
    best = load_agent(run_dir / "best_agent.pt")
    assert best.algo == "sac" and best.num_updates == 50


def test_a_plain_function_still_stops_the_run(tmp_path):
    run_dir = train("sac", _run(tmp_path, "f"), CFG, callback=lambda step: step >= 150)
    assert read_checkpoint(run_dir)["loop"]["step"] == 150
