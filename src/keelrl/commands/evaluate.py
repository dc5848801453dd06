"""`keel eval`: load a saved policy, run deterministic episodes, optionally record a video."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from keelrl.data.offline import dataset_env
from keelrl.envs.make import make_env, names_from_a_file
from keelrl.errors import KeelError
from keelrl.train.checkpoint import agent_from_checkpoint, read_checkpoint
from keelrl.train.multi_seed import group_dirs
from keelrl.train.run_folder import CONFIG_NAME, import_recorded, read_run_config
from keelrl.types import Spaces
from keelrl.train.evaluation import EVAL_SEED_OFFSET, episode_starter, evaluate, reports_success


def evaluate_saved(path: str, episodes: int, seed: int | None = None, env_id: str | None = None,
                   video: str | None = None, trust_pickle: bool = False) -> np.ndarray:
    """Run `episodes` deterministic episodes of the policy saved at `path` (run folder, checkpoint or
    agent file) and print their returns. Module names the file records are imported from installed
    packages only (names_from_a_file)."""
    with names_from_a_file():
        seeds = group_dirs(Path(path)) if Path(path).is_dir() and not (Path(path) / CONFIG_NAME).exists() else None
        if seeds:
            return _evaluate_group(seeds, episodes, seed, env_id, video, trust_pickle)
        return _evaluate(Path(path), episodes, seed, env_id, video, trust_pickle)


def _evaluate_group(dirs: list[Path], episodes: int, seed: int | None, env_id: str | None, video: str | None,
                    trust_pickle: bool) -> np.ndarray:
    """A --seeds group: every seed's policy, each on its own evaluation seed, then the mean over seeds
    of their mean returns with its 95% Student-t interval. Returns the seeds' mean returns."""
    from keelrl.analysis.plots import mean_confidence_band
    if video is not None:
        raise KeelError("--video records one policy: give one seed's folder (for example "
                        f"{dirs[0]}) instead of the group")
    means = np.array([_evaluate(d, episodes, seed, env_id, None, trust_pickle, f"{d.name}  ").mean() for d in dirs])
    mean, lo, hi = (float(v[0]) for v in mean_confidence_band(means[:, None]))
    band = f", 95% CI [{lo:.2f}, {hi:.2f}]" if len(dirs) > 1 else ""
    print(f"{len(dirs)} seeds ({', '.join(d.name for d in dirs)}): mean return {mean:.2f}{band} "
          f"(seeds' means {', '.join(f'{m:.2f}' for m in means)})")
    return means


def _evaluate(path_: Path, episodes: int, seed: int | None, env_id: str | None, video: str | None,
              trust_pickle: bool, label: str = "") -> np.ndarray:
    path = str(path_)
    if path_.is_dir():
        import_recorded(path_)   # the run's own algorithm or environment module, if it has one
    ckpt = read_checkpoint(path_, trust_pickle)
    run_cfg = ckpt.get("run_config") or {}
    if path_.is_dir() and (path_ / CONFIG_NAME).exists():
        run_cfg = read_run_config(path_)["run"]
    dataset = None if env_id else run_cfg.get("dataset")
    env_id = env_id or run_cfg.get("env")
    if env_id is None and dataset is None:
        raise KeelError(f"{path} does not record its environment; pass --env")
    seed = (run_cfg.get("seed", 0) + EVAL_SEED_OFFSET) if seed is None else seed
    agent = agent_from_checkpoint(ckpt, device="cpu")
    frames: list | None = [] if video is not None else None
    refs = (None, None)
    if video is not None:
        quiet_rendering()
    if dataset is not None:  # an offline run: the environment recorded in its dataset
        try:
            env, *refs = dataset_env(dataset, render_mode="rgb_array" if video is not None else None)
        except KeelError:
            raise
        except Exception as e:  # rendering back-ends fail in many ways; say which
            raise KeelError(f"cannot create the environment of dataset {dataset} for evaluation"
                            f"{' with rendering' if video is not None else ''}: {e}") from None
        env_id = env.spec.id if env.spec is not None else dataset
    else:
        try:
            own = env_id == run_cfg.get("env")   # the run's own environment: made as the run made it
            env = make_env(env_id, render_mode="rgb_array" if video is not None else None,
                           kwargs=run_cfg.get("env_kwargs") if own else None,
                           wrappers=run_cfg.get("wrappers", ()) if own else ())
        except Exception as e:  # rendering back-ends fail in many ways; say which
            raise KeelError(f"cannot create {env_id} for evaluation{' with rendering' if video is not None else ''}: {e}") from None
    try:
        check_agent_fits(agent, env, env_id)
    except KeelError:
        env.close()
        raise
    try:
        successes: list | None = [] if reports_success(env) else None
        returns = evaluate(lambda o: agent.act(o, deterministic=True), env, episodes, seed, frames, successes,
                           episode_starter(agent))
    except Exception as e:
        if video is None:
            raise
        raise KeelError(f"rendering {env_id} failed ({type(e).__name__}: {e}); for MuJoCo set MUJOCO_GL=egl or osmesa") from None
    finally:
        env.close()
    print(f"{label}{env_id}: {episodes} deterministic episodes, return {returns.mean():.2f} ± {returns.std():.2f} "
          f"(min {returns.min():.2f}, max {returns.max():.2f})"
          + (f", success rate {np.mean(successes):.2f}" if successes is not None else ""))
    if refs[0] is not None and refs[1] is not None and refs[1] != refs[0]:
        print(f"normalized score {100 * (returns.mean() - refs[0]) / (refs[1] - refs[0]):.1f} "
              f"(dataset {dataset}: random {refs[0]:.1f}, expert {refs[1]:.1f})")
    if video is not None:
        print(f"video: {_write_video(frames, path_, video, env)}")
    return returns


def check_agent_fits(agent, env, env_id: str) -> None:
    """Refuse, in one line, an environment whose spaces are not the ones the agent was trained on."""
    trained = Spaces.from_dict(agent.state_dict()["spaces"])
    here = Spaces.of(env)
    same = (here.observation.shape == trained.observation.shape and here.discrete == trained.discrete
            and here.hybrid == trained.hybrid
            and ((here.num_actions, here.param_dim) == (trained.num_actions, trained.param_dim) if here.hybrid
                 else here.num_actions == trained.num_actions if here.discrete else here.action.shape == trained.action.shape))
    if not same:
        raise KeelError(f"{env_id} has {here.shape_text()}, but the agent was trained with {trained.shape_text()}: "
                        f"evaluate it in an environment with the same spaces (default: the run's own, without --env)")


def quiet_rendering() -> None:
    """Off-screen rendering without the noise: Mesa's EGL prints "error: XDG_RUNTIME_DIR is invalid or
    not set" when the variable is missing (a server, a container); it only needs a private folder."""
    import os
    import tempfile
    current = os.environ.get("XDG_RUNTIME_DIR")
    if not current or not os.path.isdir(current):
        os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="keel-runtime-")


def _write_video(frames: list, path: Path, video: str, env) -> Path:
    """MP4 through imageio-ffmpeg; GIF when asked for (.gif) or when no ffmpeg is available."""
    import imageio.v2 as imageio
    fps = env.metadata.get("render_fps", 30)
    base = path if path.is_dir() else path.parent
    out = Path(video) if video else base / "eval.mp4"
    if out.suffix != ".gif":
        try:   # macro_block_size=1: frames keep their size (ffmpeg's default would resize 500x500 to 512x512)
            imageio.mimsave(out, frames, fps=fps, macro_block_size=1)
            return out
        except Exception:  # no ffmpeg back-end
            out = out.with_suffix(".gif")
    imageio.mimsave(out, frames, duration=1000.0 / fps)
    return out
