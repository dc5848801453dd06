"""DI-engine's P-DQN and hybrid DDPG (PA-DDPG) on keelrl's Platform, and a learner-speed comparison.

Peer: DI-engine 0.5.3 (pinned), installed in its own virtual environment benchmarks/.venv-ding
(python 3.11; DI-engine needs torch <= 2.12, so that venv has torch 2.12.1 while keelrl's has 2.13):

    benchmarks/.venv-ding/bin/pip install DI-engine==0.5.3

Modes (the first argument):

    train        (ding venv)  train DI-engine's pdqn or paddpg on keelrl's Platform for --steps env steps,
                              evaluating the deterministic policy every --eval-every steps on --eval-episodes
                              episodes; writes benchmarks/results/hybrid/ding/<algo>_seed<S>.json
    speed-ding   (ding venv)  DI-engine P-DQN learner calls per second on a filled buffer of random transitions
    speed-keel   (keel venv)  keelrl P-DQN updates per second, the same way (keelrl.speed.bench.learner_setup)
    combine      (either)     the speed rounds of benchmarks/ding_speed.sh -> results/hybrid/ding_speed.json

    benchmarks/.venv-ding/bin/python benchmarks/ding_platform.py train --algo pdqn --seed 1 --steps 20000

The environment: keelrl's platform.py is loaded by file path (it needs numpy and gymnasium only), so
keelrl's package, which needs torch 2.13, is never imported in the DI-engine venv. DI-engine's hybrid
actions ({'action_type': k, 'action_args': x in [-1, 1]^3}, as dizoo/gym_hybrid) are mapped affinely to
Platform's bounds [0, 30], [0, 720], [0, 430]; episodes end after 200 actions (keel/Platform-v0's limit).

The training loop is DI-engine's serial_pipeline (ding/entry/serial_entry.py) written out so that
evaluation is at fixed env steps and the learner can be timed: collect n_sample steps, push them to
the AdvancedReplayBuffer, update_per_collect learner.train calls each on a sampled batch, with ε from
the policy's command mode (decayed on env steps). A collect is cut short at an evaluation point, and
its share of updates is update_per_collect * (steps collected / n_sample), so the ratio of updates to
env steps is DI-engine's. Evaluation is this script's own loop (DI-engine's evaluator reports no
success flag): the eval-mode policy (argmax over action types, no noise) on a separate environment
reseeded to the same seed at every evaluation.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform as _platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PLATFORM_PY = ROOT / "src" / "keelrl" / "envs" / "hybrid" / "platform.py"
RESULTS = ROOT / "benchmarks" / "results" / "hybrid"
DING_VERSION = "0.5.3"
TIME_LIMIT = 200          # keel/Platform-v0's max_episode_steps
OBS_DIM, NUM_ACTIONS, PARAM_DIM = 9, 3, 3


def load_platform():
    """keelrl's platform module, loaded by path (no keelrl package import)."""
    spec = importlib.util.spec_from_file_location("keel_platform_standalone", PLATFORM_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def to_platform_action(action_type, action_args, low: np.ndarray, high: np.ndarray):
    """DI-engine's (k, x in [-1, 1]^P) -> Platform's (k, params in [low, high])."""
    k = int(np.asarray(action_type).reshape(-1)[0])
    x = np.clip(np.asarray(action_args, dtype=np.float64).reshape(-1), -1.0, 1.0)
    return k, (low + (x + 1.0) * 0.5 * (high - low)).astype(np.float32)


# --------------------------------------------------------------------------- DI-engine side

def ding_env_class():
    import gymnasium
    from easydict import EasyDict
    from ding.envs import BaseEnv, BaseEnvTimestep

    platform = load_platform()

    class PlatformDingEnv(BaseEnv):
        """keelrl's PlatformEnv behind DI-engine's BaseEnv (the interface of dizoo/gym_hybrid/envs/gym_hybrid_env.py)."""

        config = dict(max_episode_steps=TIME_LIMIT)

        @classmethod
        def default_config(cls) -> EasyDict:
            cfg = EasyDict(dict(cls.config))
            cfg.cfg_type = cls.__name__ + "Dict"
            return cfg

        def __init__(self, cfg=None) -> None:
            self._cfg = cfg
            self._max_steps = int((cfg or {}).get("max_episode_steps", TIME_LIMIT))
            self._env = platform.PlatformEnv()
            self._low, self._high = platform.PARAM_LOW.astype(np.float64), platform.PARAM_HIGH.astype(np.float64)
            self._observation_space = self._env.observation_space
            # what DI-engine's policies emit: an action type and parameters in [-1, 1]
            self._action_space = gymnasium.spaces.Tuple((gymnasium.spaces.Discrete(NUM_ACTIONS),
                                                         gymnasium.spaces.Box(-1.0, 1.0, (PARAM_DIM,), np.float32)))
            self._reward_space = gymnasium.spaces.Box(0.0, 1.0, (1,), np.float32)
            self._seeded = False
            self._t, self._ret = 0, 0.0

        def seed(self, seed: int, dynamic_seed: bool = True) -> None:
            self._seed, self._dynamic_seed = seed, dynamic_seed
            self._seeded = False
            np.random.seed(seed)

        def reset(self) -> np.ndarray:
            seed = None
            if hasattr(self, "_seed"):
                if self._dynamic_seed:           # as gym_hybrid_env: a fresh seed drawn from np.random per episode
                    seed = self._seed + 100 * np.random.randint(1, 1000)
                elif not self._seeded:           # static: seeded once, the env's RNG runs on across episodes
                    seed = self._seed
                self._seeded = True
            obs, _ = self._env.reset(seed=seed)
            self._t, self._ret = 0, 0.0
            return np.asarray(obs, np.float32)

        def step(self, action) -> "BaseEnvTimestep":
            k, params = to_platform_action(action["action_type"], action["action_args"], self._low, self._high)
            obs, rew, terminated, truncated, info = self._env.step((k, params))
            self._t += 1
            self._ret += float(rew)
            truncated = truncated or self._t >= self._max_steps
            done = bool(terminated or truncated)
            info = {"success": bool(info.get("success", False)), "ticks": info.get("ticks", 0)}
            if done:
                info["eval_episode_return"] = self._ret
                if truncated and not terminated:
                    info["TimeLimit.truncated"] = True
            return BaseEnvTimestep(np.asarray(obs, np.float32), np.array([rew], np.float32), done, info)

        def random_action(self) -> dict:
            a = self._action_space.sample()
            return {"action_type": np.int64(a[0]), "action_args": a[1]}

        def close(self) -> None:
            pass

        def __repr__(self) -> str:
            return "keelrl Platform (DI-engine BaseEnv)"

        @property
        def observation_space(self):
            return self._observation_space

        @property
        def action_space(self):
            return self._action_space

        @property
        def reward_space(self):
            return self._reward_space

    return PlatformDingEnv


def pdqn_config(seed_name: str, model: dict | None = None, batch_size: int = 320):
    """dizoo/gym_hybrid/config/gym_hybrid_pdqn_config.py, for Platform: obs 9, 3 action types,
    3 parameters, one collector and one evaluator env, CPU."""
    from easydict import EasyDict
    main = dict(
        exp_name=seed_name,
        env=dict(collector_env_num=1, evaluator_env_num=1, n_evaluator_episode=1, stop_value=1e9,
                 max_episode_steps=TIME_LIMIT),
        policy=dict(
            cuda=False,
            discount_factor=0.99,
            nstep=1,
            model=dict(obs_shape=OBS_DIM, action_shape=dict(action_type_shape=NUM_ACTIONS, action_args_shape=PARAM_DIM),
                       **(model or {})),
            learn=dict(update_per_collect=500, batch_size=batch_size, learning_rate_dis=3e-4, learning_rate_cont=3e-4,
                       target_theta=0.001, update_circle=10),
            collect=dict(n_sample=3200, unroll_len=1, noise_sigma=0.1, collector=dict(collect_print_freq=10 ** 9)),
            eval=dict(evaluator=dict(eval_freq=10 ** 9)),
            other=dict(eps=dict(type="exp", start=1.0, end=0.1, decay=int(1e5)),
                       replay_buffer=dict(replay_buffer_size=int(1e6))),
        ),
    )
    create = dict(env=dict(type="keel_platform"), env_manager=dict(type="base"), policy=dict(type="pdqn_command"))
    return EasyDict(main), EasyDict(create)


def paddpg_config(seed_name: str):
    """dizoo/gym_hybrid/config/gym_hybrid_ddpg_config.py (DDPG with action_space='hybrid', i.e. PA-DDPG),
    for Platform."""
    from easydict import EasyDict
    main = dict(
        exp_name=seed_name,
        env=dict(collector_env_num=1, evaluator_env_num=1, n_evaluator_episode=1, stop_value=1e9,
                 max_episode_steps=TIME_LIMIT),
        policy=dict(
            cuda=False,
            priority=False,
            random_collect_size=0,
            action_space="hybrid",
            model=dict(obs_shape=OBS_DIM, action_shape=dict(action_type_shape=NUM_ACTIONS, action_args_shape=PARAM_DIM),
                       twin_critic=False, action_space="hybrid"),
            learn=dict(update_per_collect=10, batch_size=32, discount_factor=0.99, learning_rate_actor=3e-4,
                       learning_rate_critic=1e-3, actor_update_freq=1, noise=False),
            collect=dict(n_sample=32, noise_sigma=0.1, collector=dict(collect_print_freq=10 ** 9)),
            eval=dict(evaluator=dict(eval_freq=10 ** 9)),
            other=dict(eps=dict(type="exp", start=1.0, end=0.1, decay=100000),
                       replay_buffer=dict(replay_buffer_size=100000)),
        ),
    )
    create = dict(env=dict(type="keel_platform"), env_manager=dict(type="base"), policy=dict(type="ddpg_command"))
    return EasyDict(main), EasyDict(create)


def ding_setup(threads: int):
    import logging
    import torch
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(threads)
    logging.getLogger().setLevel(logging.ERROR)   # DI-engine's console logging
    return torch


class Timed:
    """Wraps a callable; sums the seconds spent in it and counts calls."""

    def __init__(self, fn):
        self.fn, self.seconds, self.calls = fn, 0.0, 0

    def __call__(self, *a, **kw):
        t = time.perf_counter()
        try:
            return self.fn(*a, **kw)
        finally:
            self.seconds += time.perf_counter() - t
            self.calls += 1


def fix_action_type_shape(policy) -> None:
    """Store each transition's action_type as a 0-d tensor, as PDQNPolicy's learner expects (action (B,)).

    DI-engine 0.5.3 stores it with shape (1,) (default_decollate does not squeeze a 1-d batch), and
    default_preprocess_learn collates dict actions without cat_1dim, so PDQNPolicy gets action_type [B, 1];
    q_nstep_td_error then takes its multi-agent branch and the TD target broadcasts to [B, B]
    (torch warns: target size [B, B] different to the input size [B]): every Q(s_i, k_i) is regressed
    on r_j + γ V(s'_i)(1 - d_j) for all j in the batch. This changes only the stored shape."""
    orig = policy._process_transition

    def process_transition(obs, policy_output, timestep):
        t = orig(obs, policy_output, timestep)
        a = t["action"]
        t["action"] = {**a, "action_type": torch_reshape0(a["action_type"])}
        return t

    policy._process_transition = process_transition


def torch_reshape0(x):
    return x.reshape(()) if x.numel() == 1 else x


def evaluate(policy_eval, env, episodes: int, seed: int, torch) -> dict:
    """The eval-mode (deterministic) policy over `episodes` episodes; env reseeded to `seed` first."""
    env.seed(seed, dynamic_seed=False)
    returns, successes, lengths = [], [], []
    for _ in range(episodes):
        obs, done, ret, n, info = env.reset(), False, 0.0, 0, {}
        while not done:
            out = policy_eval.forward({0: torch.as_tensor(obs)})[0]["action"]
            ts = env.step({"action_type": out["action_type"].numpy(), "action_args": out["action_args"].numpy()})
            obs, done, info = ts.obs, ts.done, ts.info
            ret += float(ts.reward[0])
            n += 1
        returns.append(ret)
        successes.append(bool(info.get("success", False)) or ret >= 1 - 1e-6)
        lengths.append(n)
    return {"mean_return": float(np.mean(returns)), "std_return": float(np.std(returns)),
            "success_rate": float(np.mean(successes)), "mean_length": float(np.mean(lengths)), "episodes": episodes}


def train(args) -> dict:
    torch = ding_setup(args.threads)
    import ding
    from ding.config import compile_config
    from ding.envs import BaseEnvManager
    from ding.policy import create_policy
    from ding.utils import set_pkg_seed
    from ding.worker import AdvancedReplayBuffer, BaseLearner, SampleSerialCollector

    Env = ding_env_class()
    name = f"{args.algo}_seed{args.seed}"
    out = Path(args.out).resolve() if args.out else RESULTS / "ding" / f"{name}.json"
    main, create = (pdqn_config if args.algo == "pdqn" else paddpg_config)(name)
    if args.eps_decay is not None:
        main.policy.other.eps.decay = args.eps_decay
    command = " ".join([os.path.relpath(sys.executable, ROOT), os.path.relpath(os.path.abspath(sys.argv[0]), ROOT)]
                       + sys.argv[1:])
    workdir = tempfile.mkdtemp(prefix="ding_platform_")     # DI-engine's learner writes logs/checkpoints here
    os.chdir(workdir)
    cfg = compile_config(main, seed=args.seed, env=Env, auto=True, create_cfg=create, save_cfg=False)
    # the learner keeps DI-engine's default hooks (serial_pipeline's): a log table every 100 calls, a checkpoint
    # every 10,000, both inside learner.train and so inside its timing

    collector_env = BaseEnvManager([lambda: Env(cfg.env)], cfg.env.manager)
    collector_env.seed(args.seed, dynamic_seed=True)
    eval_env = Env(cfg.env)
    set_pkg_seed(args.seed, use_cuda=False)
    policy = create_policy(cfg.policy, enable_field=["learn", "collect", "eval", "command"])
    if args.algo == "pdqn" and not args.no_action_type_fix:
        fix_action_type_shape(policy)
    forward_learn = Timed(policy._forward_learn)      # the update itself (batch collation included)
    policy._forward_learn = forward_learn             # learn_mode binds it when the learner is made
    learner = BaseLearner(cfg.policy.learn.learner, policy.learn_mode, exp_name=cfg.exp_name)
    collector = SampleSerialCollector(cfg.policy.collect.collector, env=collector_env, policy=policy.collect_mode,
                                      exp_name=cfg.exp_name)
    buffer = AdvancedReplayBuffer(cfg.policy.other.replay_buffer, exp_name=cfg.exp_name)
    learn_train, sample = Timed(learner.train), Timed(buffer.sample)
    collect_t, eval_t = Timed(collector.collect), Timed(evaluate)
    n_sample, upc = cfg.policy.collect.n_sample, cfg.policy.learn.update_per_collect
    batch = cfg.policy.learn.batch_size
    print(f"[ding {args.algo} seed {args.seed}] n_sample {n_sample}, update_per_collect {upc}, batch {batch}, "
          f"eps {dict(cfg.policy.other.eps)}", flush=True)
    print(policy._model, flush=True)

    curve, owed, skipped = [], 0.0, 0
    start = time.perf_counter()
    learner.call_hook("before_run")

    def do_eval():
        r = eval_t(policy.eval_mode, eval_env, args.eval_episodes, args.seed + 10_000, torch)
        r = {"step": collector.envstep, "updates": learner.train_iter, **r,
             "wall_s": round(time.perf_counter() - start, 1)}
        curve.append(r)
        print(f"  step {r['step']:6d}  updates {r['updates']:6d}  return {r['mean_return']:.3f}  "
              f"success {r['success_rate']:.2f}  len {r['mean_length']:.1f}  ({r['wall_s']} s)", flush=True)

    do_eval()
    while collector.envstep < args.steps:
        next_eval = (collector.envstep // args.eval_every + 1) * args.eval_every
        k = min(n_sample, next_eval - collector.envstep, args.steps - collector.envstep)
        kw = policy.command_mode.get_setting_collect({"learner_train_iter": learner.train_iter,
                                                      "envstep": collector.envstep})
        before = collector.envstep
        data = collect_t(n_sample=k, train_iter=learner.train_iter, policy_kwargs=kw)
        buffer.push(data, cur_collector_envstep=collector.envstep)
        owed += upc * (collector.envstep - before) / n_sample
        for _ in range(int(owed)):
            train_data = sample(batch, learner.train_iter)
            if train_data is None:
                skipped += 1
                continue
            learn_train(train_data, collector.envstep)
        owed -= int(owed)
        if collector.envstep >= next_eval or collector.envstep >= args.steps:
            do_eval()
    wall = time.perf_counter() - start
    learner.call_hook("after_run")
    buffer.close()
    collector_env.close()

    res = {
        "peer": "DI-engine", "ding_version": ding.__version__, "torch": torch.__version__,
        "python": _platform.python_version(), "algo": args.algo, "seed": args.seed,
        "env": "keelrl Platform (keel/Platform-v0 dynamics, platform.py loaded by path), time limit 200",
        "threads": args.threads, "env_steps": collector.envstep, "budget": args.steps,
        "eval_every": args.eval_every, "eval_episodes": args.eval_episodes,
        "curve": curve,
        "final": curve[-1],
        "best_success_rate_over_training": max(c["success_rate"] for c in curve),
        "wall_time_s": wall,
        "env_steps_per_s_whole_run": collector.envstep / wall,
        "learner_updates": learner.train_iter,
        "learner_calls_skipped_buffer_too_small": skipped,
        "learner_train_s": learn_train.seconds,
        "learner_updates_per_s": learner.train_iter / learn_train.seconds if learn_train.seconds else None,
        "policy_forward_learn_s": forward_learn.seconds,
        "policy_forward_learn_per_s": forward_learn.calls / forward_learn.seconds if forward_learn.seconds else None,
        "buffer_sample_s": sample.seconds, "collect_s": collect_t.seconds, "eval_s": eval_t.seconds,
        "timing_note": ("learner_updates_per_s = learner.train calls / seconds inside BaseLearner.train "
                        "(policy._forward_learn incl. batch collation, plus DI-engine's default learner hooks: "
                        "a log table every 100 calls, a checkpoint every 10,000); replay sampling is outside it (buffer_sample_s). "
                        + ("DI-engine P-DQN: each learner.train call is ONE optimizer step, of Q (calls with "
                           "i % update_circle in 0..4) or of the parameter net (5..9), plus both on the first call; "
                           "keelrl's P-DQN update is both steps." if args.algo == "pdqn" else
                           "DI-engine DDPG: each call updates the critic and (actor_update_freq 1) the actor.")),
        "config": {"n_sample": n_sample, "update_per_collect": upc, "batch_size": batch,
                   "eps": dict(cfg.policy.other.eps), "model": {k: v for k, v in cfg.policy.model.items()},
                   "learn": {k: v for k, v in cfg.policy.learn.items() if k != "learner"},
                   "discount_factor": cfg.policy.get("discount_factor", cfg.policy.learn.get("discount_factor")),
                   "noise_sigma": cfg.policy.collect.noise_sigma,
                   "replay_buffer_size": cfg.policy.other.replay_buffer.replay_buffer_size},
        "action_type_shape_fix": args.algo == "pdqn" and not args.no_action_type_fix,
        "command": command,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, default=str) + "\n")
    print(f"wrote {out}: {collector.envstep} env steps, {learner.train_iter} updates in {wall:.0f} s; "
          f"learner {res['learner_updates_per_s']:.1f} calls/s", flush=True)
    return res


# --------------------------------------------------------------------------- speed

# Network sizes matched as closely as the two architectures allow (both: two hidden layers of ~128 per net):
#   DI-engine PDQN  encoder FC 9->128 (shared by Q and x), Q head 131->131->3 (not dueling), x head 128->128->3 tanh
#   keelrl PDQN     Q 12->128->128->3, x 9->128->128->3
DING_MATCHED = dict(encoder_hidden_size_list=[128], head_layer_num=1, dueling=False)
KEEL_MATCHED = dict(q_hidden_sizes=(128, 128), param_hidden_sizes=(128, 128))
KEEL_AS_DING = dict(inverting_gradients=False, max_grad_norm=0.0)   # tanh parameters, no clipping: as DI-engine


def speed_ding(args) -> dict:
    torch = ding_setup(args.threads)
    import ding
    from ding.config import compile_config
    from ding.policy import create_policy
    from ding.utils import set_pkg_seed
    from ding.worker import AdvancedReplayBuffer, BaseLearner

    os.chdir(tempfile.mkdtemp(prefix="ding_speed_"))
    Env = ding_env_class()
    model = DING_MATCHED if args.net == "matched" else {}
    main, create = pdqn_config("speed", model=model, batch_size=args.batch_size)
    cfg = compile_config(main, seed=0, env=Env, auto=True, create_cfg=create, save_cfg=False)
    set_pkg_seed(0, use_cuda=False)
    policy = create_policy(cfg.policy, enable_field=["learn", "collect"])   # collect: _get_train_sample
    forward_learn = Timed(policy._forward_learn)
    policy._forward_learn = forward_learn
    learner = BaseLearner(cfg.policy.learn.learner, policy.learn_mode, exp_name="speed")
    buffer = AdvancedReplayBuffer(cfg.policy.other.replay_buffer, exp_name="speed")
    rng = np.random.default_rng(0)
    fill = 10_000
    # random transitions in the stored format of PDQNPolicy._process_transition / _get_train_sample
    obs = torch.as_tensor(rng.standard_normal((fill + 1, OBS_DIM)), dtype=torch.float32)
    data = [{"obs": obs[i], "next_obs": obs[i + 1],
             "action": {"action_type": torch.tensor(int(rng.integers(NUM_ACTIONS))),
                        "action_args": torch.as_tensor(rng.uniform(-1, 1, PARAM_DIM), dtype=torch.float32)},
             "logit": torch.zeros(NUM_ACTIONS), "reward": torch.tensor([float(rng.standard_normal())]),
             "done": bool(rng.random() < 0.01)} for i in range(fill)]
    data = policy._get_train_sample(data)      # nstep return data, as the collector stores it
    buffer.push(data, cur_collector_envstep=0)

    sample, learn_train = Timed(buffer.sample), Timed(learner.train)

    def call():
        learn_train(sample(args.batch_size, learner.train_iter), 0)

    # multiples of update_circle (10) calls: half Q steps, half parameter-net steps
    warm, n = 10 * math.ceil(args.warmup / 10), 10 * math.ceil(args.updates / 10)
    for _ in range(warm):
        call()
    for timed in (forward_learn, sample, learn_train):
        timed.seconds, timed.calls = 0.0, 0
    t = time.perf_counter()
    for _ in range(n):
        call()
    sec = time.perf_counter() - t
    params = sum(p.numel() for p in policy._model.parameters())
    buffer.close()
    return {"side": "ding", "peer_version": ding.__version__, "torch": torch.__version__, "threads": args.threads,
            "net": args.net, "batch_size": args.batch_size, "calls": n, "seconds": sec,
            "calls_per_s": n / sec, "full_updates_per_s": n / 2 / sec, "trainable_params": params,
            "sample_s": sample.seconds, "learner_train_s": learn_train.seconds, "forward_learn_s": forward_learn.seconds,
            "full_updates_per_s_learner_train_only": n / 2 / learn_train.seconds,
            "full_updates_per_s_forward_learn_only": n / 2 / forward_learn.seconds,
            "hooks": "DI-engine's default learner hooks (log table every 100 calls; no checkpoint within the run)",
            "model": repr(policy._model)}


def speed_keel(args) -> dict:
    import torch
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    sys.path.insert(0, str(ROOT / "src"))
    import keelrl
    from keelrl.speed.bench import learner_setup, trainable_parameters, updates_per_second

    over = dict(KEEL_MATCHED) if args.net == "matched" else {}
    if args.keel_variant == "as-ding":
        over.update(KEEL_AS_DING)
    setup = learner_setup("pdqn", "cpu", batch_size=args.batch_size, overrides=over)
    ups = updates_per_second(setup, args.updates, args.warmup)
    return {"side": "keel", "keel_variant": args.keel_variant, "keelrl": keelrl.__version__, "torch": torch.__version__,
            "threads": args.threads, "net": args.net, "batch_size": args.batch_size, "overrides": over,
            "updates": args.updates, "full_updates_per_s": ups, "trainable_params": trainable_parameters(setup.agent)}


def combine(args) -> dict:
    rows = [json.loads(line) for f in sorted(Path(args.rounds_dir).glob("*.jsonl")) for line in f.read_text().splitlines() if line.strip()]
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["net"], r["batch_size"]), []).append(r)
    table = []
    for (net, bs), rs in sorted(groups.items()):
        by_round: dict = {}
        for r in rs:
            by_round.setdefault(r["round"], {})[r["side"] + ("" if r["side"] == "ding" else "_" + r["keel_variant"])] = r
        entry = {"net": net, "batch_size": bs, "rounds": len(by_round)}
        for variant in ("default", "as-ding"):
            key = "keel_" + variant
            ratios = [b[key]["full_updates_per_s"] / b["ding"]["full_updates_per_s"] for b in by_round.values()
                      if key in b and "ding" in b]
            if ratios:
                entry[f"ratio_keel_{variant}_over_ding_median"] = statistics.median(ratios)
                entry[f"ratio_keel_{variant}_over_ding_per_round"] = ratios
                entry[f"{key}_updates_per_s_median"] = statistics.median(
                    b[key]["full_updates_per_s"] for b in by_round.values() if key in b)
        d = [b["ding"] for b in by_round.values() if "ding" in b]
        entry["ding_calls_per_s_median"] = statistics.median(x["calls_per_s"] for x in d)
        entry["ding_full_updates_per_s_median"] = statistics.median(x["full_updates_per_s"] for x in d)
        entry["ding_trainable_params"] = d[0]["trainable_params"]
        entry["keel_trainable_params"] = next(r["trainable_params"] for r in rs if r["side"] == "keel")
        table.append(entry)
    res = {
        "what": "P-DQN learner speed on a filled buffer of 10,000 random Platform-sized transitions "
                "(obs 9, 3 action types, 3 parameters), replay sampling included on both sides, 1 torch thread each, "
                "the two sides run one after the other in the same shell script, rounds alternating ding, keel.",
        "unit": ("full_updates_per_s = one Q-network step + one parameter-network step per second. keelrl's "
                 "PDQNAgent.update does both; DI-engine's PDQNPolicy does one per learner.train call (Q on calls "
                 "with i % 10 in 0..4, parameter net on 5..9), so its full updates/s = calls/s / 2 "
                 "(timed over multiples of 10 calls)."),
        "keel_variants": {"default": "keelrl P-DQN defaults (inverting gradients, grad-norm clip 10) at the net sizes",
                          "as-ding": f"keelrl P-DQN with {KEEL_AS_DING} (tanh parameters, no clipping, as DI-engine)"},
        "nets": {"matched": {"ding": DING_MATCHED, "keel": {k: list(v) for k, v in KEEL_MATCHED.items()},
                             "note": "both: two hidden layers of ~128 per network; DI-engine's Q and x nets share "
                                     "their first layer (encoder), keelrl's do not"},
                 "default": {"ding": "PDQN model defaults: encoder [128, 128, 64] shared, dueling head",
                             "keel": "PDQNConfig defaults: Q 128, x 128"}},
        "versions": {"ding": rows[0].get("peer_version") if rows[0]["side"] == "ding" else
                     next(r["peer_version"] for r in rows if r["side"] == "ding"),
                     "torch_ding_venv": next(r["torch"] for r in rows if r["side"] == "ding"),
                     "torch_keel_venv": next(r["torch"] for r in rows if r["side"] == "keel"),
                     "keelrl": next(r["keelrl"] for r in rows if r["side"] == "keel")},
        "machine": args.machine, "load_note": args.note,
        "results": table,
        "raw": rows,
    }
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    for e in table:
        print(json.dumps({k: v for k, v in e.items() if "per_round" not in k}))
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    t = sub.add_parser("train")
    t.add_argument("--algo", choices=["pdqn", "paddpg"], default="pdqn")
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--steps", type=int, default=20_000)
    t.add_argument("--eval-every", type=int, default=5000)
    t.add_argument("--eval-episodes", type=int, default=50)
    t.add_argument("--eps-decay", type=int, default=None, help="override DI-engine's ε decay (env steps, exp)")
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--out", default=None)
    t.add_argument("--no-action-type-fix", action="store_true",
                   help="P-DQN: keep DI-engine's (1,)-shaped stored action_type (TD target broadcast to [B, B])")
    for name in ("speed-ding", "speed-keel"):
        s = sub.add_parser(name)
        s.add_argument("--batch-size", type=int, default=128)
        s.add_argument("--updates", type=int, default=1000)
        s.add_argument("--warmup", type=int, default=50)
        s.add_argument("--threads", type=int, default=1)
        s.add_argument("--net", choices=["matched", "default"], default="matched")
        s.add_argument("--keel-variant", choices=["default", "as-ding"], default="default")
        s.add_argument("--round", type=int, default=0)
        s.add_argument("--append", default=None, help="append the result as a JSON line to this file")
    c = sub.add_parser("combine")
    c.add_argument("--rounds-dir", required=True)
    c.add_argument("--out", default=str(RESULTS / "ding_speed.json"))
    c.add_argument("--machine", default="")
    c.add_argument("--note", default="")
    args = p.parse_args()
    for name in ("append", "rounds_dir"):
        if getattr(args, name, None):
            setattr(args, name, str(Path(getattr(args, name)).resolve()))
    if args.mode == "train":
        train(args)
    elif args.mode == "combine":
        combine(args)
    else:
        r = (speed_ding if args.mode == "speed-ding" else speed_keel)(args)
        r["round"] = args.round
        line = json.dumps({k: v for k, v in r.items() if k != "model"})
        print(line, flush=True)
        if args.append:
            with open(args.append, "a") as f:
                f.write(line + "\n")


if __name__ == "__main__":
    main()
