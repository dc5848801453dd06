import json
from pathlib import Path

import numpy as np
import pytest

from keelrl.analysis.plots import group_band, mean_confidence_band, plot_runs


def test_band_is_the_student_t_interval_of_the_mean():
    curves = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])    # 3 seeds, 2 points: mean 3, 4; sd 2
    mean, lo, hi = mean_confidence_band(curves)
    half = 4.302652729911275 * 2.0 / np.sqrt(3)                # t_{0.975, 2} · s / √n
    np.testing.assert_allclose(mean, [3.0, 4.0])
    np.testing.assert_allclose(hi - mean, [half, half])
    np.testing.assert_allclose(mean - lo, [half, half])


def test_one_seed_has_no_band():
    mean, lo, hi = mean_confidence_band(np.array([[1.0, 2.0]]))
    assert (lo == mean).all() and (hi == mean).all()


def test_a_band_never_dwarfs_the_data():
    two = np.array([[-1700.0, -200.0], [-1500.0, -100.0]])
    mean, lo, hi, how = group_band(two)   # a t band over 2 seeds would span ±12.7 standard errors
    assert lo is None and hi is None and how == "2 seeds: mean and each seed"
    three = np.array([[-1700.0, -200.0], [-1500.0, -100.0], [-300.0, -150.0]])
    mean, lo, hi, how = group_band(three)
    assert (lo >= three.min(0)).all() and (hi <= three.max(0)).all()
    assert how == "3 seeds, mean ± 95% CI, clipped to the seeds' range"
    close = np.array([[1.0, 2.0], [1.1, 2.1], [0.9, 1.9], [1.0, 2.0], [1.05, 2.05], [0.95, 1.95]])
    assert group_band(close)[3] == "6 seeds, mean ± 95% CI"   # inside the range: drawn as it is


def _run_folder(path: Path, algo: str, env: str, seed: int, config: dict, rng, meta: dict = {}, run: dict = {}) -> Path:
    """A run folder as keelrl writes it, as far as plots read it: config.json and eval.csv."""
    path.mkdir(parents=True)
    path.joinpath("config.json").write_text(json.dumps({"algo": algo, "algo_config": config, **meta,
                                                        "run": {"env": env, "seed": seed, "total_steps": 10_000, **run}}))
    steps = np.arange(11) * 1000
    returns = -1500 + 1300 * (1 - np.exp(-steps / 3000)) + rng.normal(0, 150, 11)
    rows = [f"{s},{r},0,{s / 50 + seed}" for s, r in zip(steps, returns)]
    path.joinpath("eval.csv").write_text("step,eval_return_mean,eval_return_std,wall_s\n" + "\n".join(rows) + "\n")
    return path


def _ink_at_the_edges(png: Path) -> float:
    """The fraction of non-white pixels in the image's outermost 2-pixel frame: a legend or a label cut
    off by the figure's edge leaves ink there."""
    import matplotlib.image
    img = matplotlib.image.imread(png)[..., :3]
    frame = np.concatenate([img[:2].reshape(-1, 3), img[-2:].reshape(-1, 3), img[:, :2].reshape(-1, 3),
                            img[:, -2:].reshape(-1, 3)])
    return float((frame < 0.95).any(axis=1).mean())


@pytest.mark.parametrize("x", ["steps", "wall"])
def test_long_legends_stay_inside_the_figure(tmp_path, x):
    rng = np.random.default_rng(0)
    dirs = [_run_folder(tmp_path / f"a{s}", "sac", "Pendulum-v1", s, {"hidden_sizes": [256, 256], "learning_starts": 500,
                                                                       "actor_lr": 3e-4, "tau": 0.005}, rng) for s in range(2)]
    dirs += [_run_folder(tmp_path / f"b{s}", "sac", "Pendulum-v1", s, {"hidden_sizes": [64, 64], "learning_starts": 1000,
                                                                        "actor_lr": 1e-3, "tau": 0.01}, rng) for s in range(5)]
    dirs += [_run_folder(tmp_path / f"c{s}", "td3", "Hopper-v5", s, {"hidden_sizes": [256, 256]}, rng) for s in range(3)]
    png = plot_runs(dirs, tmp_path / "curves.png", x=x)
    assert _ink_at_the_edges(png) == 0.0
    import matplotlib.image
    height, width = matplotlib.image.imread(png).shape[:2]
    assert height > 4 * 110 and width >= 2 * 5.5 * 110 * 0.9   # the panels kept their size; the legend added room


def test_the_edge_check_sees_a_legend_cut_off(tmp_path):
    """The check above fails when a legend leaves the figure, as keelrl's legends once did."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="sac (hidden_sizes=[256,256], learning_starts=500, total_steps=100000) " * 2)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.1))
    fig.savefig(tmp_path / "cut.png", dpi=110)   # no room made for it
    plt.close(fig)
    assert _ink_at_the_edges(tmp_path / "cut.png") > 0.0


def test_the_x_axis_says_when_a_step_is_several_environment_steps(tmp_path):
    """With an action repeat the loop counts agent steps: the axis says so, from what config.json recorded
    or, for a run made before it recorded it, from the repeat the environment was given."""
    import matplotlib
    rng = np.random.default_rng(0)
    plain = _run_folder(tmp_path / "plain", "sac", "Pendulum-v1", 0, {}, rng)
    recorded = _run_folder(tmp_path / "dmc", "pixel_sac", "dmc:cheetah-run", 0, {}, rng, meta={"action_repeat": 4})
    given = _run_folder(tmp_path / "given", "slac", "dmc:walker-walk", 0, {}, rng, run={"env_kwargs": {"action_repeat": 2}})
    with matplotlib.rc_context({"svg.fonttype": "none"}):   # text as text, to read it back
        svg = plot_runs([plain, recorded, given], tmp_path / "curves.svg").read_text()
    assert svg.count(">environment steps<") == 1
    assert ">agent steps (each 4 environment steps)<" in svg and ">agent steps (each 2 environment steps)<" in svg
