"""Probe runs: an algorithm trained through the real loop on a probe environment (envs/probes.py),
or offline on a dataset recorded on one, then its learned values and actions compared with the
probe's known answer. Each tests/algos/test_<algo>.py runs the probes that fit its action space.

Every probe uses γ = 0.5: TwoStep's first value is then 0.5 and Truncation's 2 (a loop that stored
`done` instead of `terminated` would learn 1 / (1 - 0.5 · 4/5) = 1.67 there).
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from keelrl import OfflineRunConfig, RunConfig, load_agent, train
from keelrl.algos import get_algo

GAMMA = 0.5
VALUE_TOL = 0.15
"""How far a learned value may be from the probe's answer (values lie in [-1, 2])."""
ACTION_TOL = 0.15
"""How far a learned continuous action may be from the best one (actions lie in [-1, 1])."""

VALUE_PROBES = ("ProbeConstant", "ProbeObsReward", "ProbeTwoStep", "ProbeTruncation")
ACTION_PROBES = ("ProbeActionReward", "ProbeObsAction")
ALL_PROBES = VALUE_PROBES + ACTION_PROBES


def env_id(probe: str, discrete: bool = False, hybrid: bool = False) -> str:
    return f"keel/{probe}{'Discrete' if discrete else 'Hybrid' if hybrid else ''}-v0"


def probe_env(probe: str, discrete: bool = False, hybrid: bool = False):
    return gym.make(env_id(probe, discrete, hybrid)).unwrapped


def observations(probe: str) -> list[float]:
    """The observations the probe visits."""
    return {"ProbeObsReward": [-1.0, 1.0], "ProbeObsAction": [-1.0, 1.0], "ProbeTwoStep": [0.0, 1.0]}.get(probe, [0.0])


# --------------------------------------------------------------------------- training

def run_online(algo: str, probe: str, cfg: dict, total_steps: int, tmp_path, discrete: bool = False, seed: int = 0,
               hybrid: bool = False):
    """Train `algo` on the probe through keelrl.train; return the saved agent."""
    spec = get_algo(algo)
    run = RunConfig(env=env_id(probe, discrete, hybrid), total_steps=total_steps, eval_every=0, eval_episodes=0,
                    log_every=10 ** 9, checkpoint_every=10 ** 9, run_dir=str(tmp_path / f"{algo}-{probe}"),
                    progress=False, device="cpu", seed=seed)
    return load_agent(train(algo, run, spec.config(**{"gamma": GAMMA, **cfg})))


def dataset_id(probe: str) -> str:
    """The id of the dataset recorded on a probe: random actions on value probes, noisy best actions on action probes."""
    return f"probe/{probe.lower()}/{'noisy-expert' if probe in ACTION_PROBES else 'random'}-v0"


def record_dataset(probe: str, minari_root, steps: int = 400, seed: int = 0, behavior_noise: float | None = None) -> str:
    """A Minari dataset recorded on the probe: uniform random actions, or (behavior_noise given)
    the best action plus Gaussian noise of that std, clipped to [-1, 1]."""
    from keelrl.data.collection import collect_episodes
    from keelrl.data.offline import write_minari
    from keelrl.envs.make import make_vector_env
    name = dataset_id(probe)
    envs = make_vector_env(env_id(probe), 2)
    env = probe_env(probe)
    rng = np.random.default_rng(seed)

    def policy(obs):
        if behavior_noise is None:
            return rng.uniform(-1, 1, (obs.shape[0], 1)).astype(np.float32)
        best = np.array([[env.best_action(float(o[0]))] for o in obs])
        return np.clip(best + behavior_noise * rng.normal(size=best.shape), -1, 1).astype(np.float32)
    try:
        episodes = collect_episodes(envs, policy, steps, seed)
    finally:
        envs.close()
    write_minari(name, episodes, env_id(probe), None, None, "probe behavior", "probe data", overwrite=True)
    return name


def run_offline(algo: str, dataset: str, cfg: dict, total_steps: int, tmp_path, seed: int = 0):
    spec = get_algo(algo)
    run = OfflineRunConfig(dataset=dataset, total_steps=total_steps, eval_every=0, eval_episodes=0,
                           log_every=10 ** 9, checkpoint_every=10 ** 9, progress=False, device="cpu", seed=seed,
                           run_dir=str(tmp_path / f"{algo}-{dataset.replace('/', '_')}"))
    fields = {f.name for f in __import__("dataclasses").fields(spec.config)}
    return load_agent(train(algo, run, spec.config(**{**({"gamma": GAMMA} if "gamma" in fields else {}), **cfg})))


# --------------------------------------------------------------------------- reading the answer

def _t(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, np.float32).reshape(len(x), -1))


@torch.no_grad()
def q_values(agent, obs: list[float], actions: list[float]) -> np.ndarray:
    """The agent's Q(s, a) for each pair (the mean over an ensemble's members), in the probe's units."""
    o, a = _t(obs), _t(actions)
    if hasattr(agent, "q"):                        # DQN: Q(s, ·) over discrete actions
        return agent.q(o).gather(-1, a.long()).squeeze(-1).numpy()
    holder = getattr(agent, "ac", None) or getattr(agent, "core", None) or agent
    return holder.critic(o, a).mean(0).numpy()


@torch.no_grad()
def state_values(agent, obs: list[float]) -> np.ndarray:
    """V(s) of an agent with a state-value function (PPO)."""
    return agent.policy.value(_t(obs)).numpy()


def actions(agent, obs: list[float]) -> np.ndarray:
    """The deterministic action at each observation (continuous: a float; discrete: the index)."""
    return np.asarray(agent.act(np.asarray(obs, np.float32).reshape(-1, 1), deterministic=True), np.float64).reshape(-1)


def check_values(agent, probe: str, discrete: bool = False, state_value: bool = False) -> None:
    """Learned values at every visited observation (and, for Q, at several actions) are within
    VALUE_TOL of the probe's answer."""
    env = probe_env(probe, discrete)
    for s in observations(probe):
        if state_value:
            got, want = float(state_values(agent, [s])[0]), env.q_value(s, 0, GAMMA)
            assert abs(got - want) < VALUE_TOL, f"{probe}: V({s}) = {got:.3f}, expected {want:.3f}"
            continue
        acts = [0.0, 1.0] if discrete else [-0.5, 0.0, 0.5]
        for a in acts:
            got, want = float(q_values(agent, [s], [a])[0]), env.q_value(s, a, GAMMA)
            assert abs(got - want) < VALUE_TOL, f"{probe}: Q({s}, {a}) = {got:.3f}, expected {want:.3f}"


def check_actions(agent, probe: str, discrete: bool = False) -> None:
    """The deterministic action at every visited observation is the probe's best action."""
    env = probe_env(probe, discrete)
    obs = observations(probe)
    got = actions(agent, obs)
    for s, a in zip(obs, got):
        best = env.best_action(s)
        if discrete:
            assert a == best, f"{probe}: action {a} at obs {s}, expected {best}"
        else:
            assert abs(a - best) < ACTION_TOL, f"{probe}: action {a:.3f} at obs {s}, expected {best:.3f}"


@torch.no_grad()
def entropy_bonus(agent, obs: float, samples: int = 4000) -> float:
    """α · E_{a~π(·|s)}[-log π(a|s)] of an agent with a soft backup (SAC-N, EDAC), by sampling."""
    core = getattr(agent, "core", agent)
    a, logp, _ = core.actor(torch.full((samples, 1), obs)).rsample((1,))
    return float(core.log_alpha.exp()) * float(-logp.mean())


@torch.no_grad()
def soft_target_value(agent, obs: float = 1.0, samples: int = 1024) -> float:
    """E_{a'~π(·|s)}[min_i Q̄_i(s, a') - α log π(a'|s)]: a soft backup's target value at obs (SAC-N, EDAC)."""
    core = getattr(agent, "core", agent)
    o = torch.full((samples, 1), obs)
    a, logp, _ = core.actor(o).rsample((1,))
    return float((core.critic_target(o, a[0]).min(0).values - core.log_alpha.exp() * logp[0]).mean())


@torch.no_grad()
def smoothed_target_value(ac, obs: float = 1.0, samples: int = 256, noise: float = 0.2, clip: float = 0.5) -> float:
    """E[min_i Q̄_i(s, clip(μ'(s) + clip(ε, ±c), ±1))]: TD3's (and TD3+BC's) target value at obs."""
    o = torch.full((samples, 1), obs)
    mu = ac.actor_target(o)
    a = (mu + (noise * torch.randn_like(mu)).clamp(-clip, clip)).clamp(-1, 1)
    return float(ac.critic_target(o, a).min(0).values.mean())


def check_values_soft_backup(agent, probe: str) -> None:
    """check_values for the one-step probes, check_soft_values for the bootstrapped ones."""
    if probe in ("ProbeTwoStep", "ProbeTruncation"):
        check_soft_values(agent, probe)
    else:
        check_values(agent, probe)


def check_soft_values(agent, probe: str) -> None:
    """The bootstrapped probes' answers under a soft backup (-α log π(a'|s') in the target):
    TwoStep Q(0) = γ (1 + B(1)), Q(1) = 1; Truncation Q = (1 + γ B(0)) / (1 - γ), with B(s) the
    agent's own entropy bonus α · E[-log π(·|s)]."""
    if probe == "ProbeTwoStep":
        answers = {0.0: GAMMA * (1.0 + entropy_bonus(agent, 1.0)), 1.0: 1.0}
    elif probe == "ProbeTruncation":
        answers = {0.0: (1.0 + GAMMA * entropy_bonus(agent, 0.0)) / (1.0 - GAMMA)}
    else:
        raise ValueError(f"{probe} does not bootstrap: use check_values")
    for s, want in answers.items():
        for a in (-0.5, 0.0, 0.5):
            got = float(q_values(agent, [s], [a])[0])
            assert abs(got - want) < VALUE_TOL, f"{probe}: Q({s}, {a}) = {got:.3f}, expected the soft value {want:.3f}"


# --------------------------------------------------------------------------- which network bootstraps

FROZEN_TAU = 1e-9
"""τ for a target network that stays, for a probe's few hundred updates, at its random initialization."""


def check_bootstrap(agent, target_value: float, discrete: bool = False) -> None:
    """On ProbeTwoStep with a frozen target network, Q(0, a) must learn γ · (the frozen target's value
    at obs 1), which `target_value` gives, and not γ · 1 (what bootstrapping from the trained online
    network would learn). The frozen value must be far enough from 1 for the probe to tell them apart."""
    plain = GAMMA * 1.0
    expected = GAMMA * target_value
    assert abs(expected - plain) > 2 * VALUE_TOL, f"the frozen target's value {target_value:.3f} is too close to 1"
    for a in ([0.0, 1.0] if discrete else [-0.5, 0.0, 0.5]):
        got = float(q_values(agent, [0.0], [a])[0])
        assert abs(got - expected) < VALUE_TOL, \
            f"Q(0, {a}) = {got:.3f}: expected γ·Q̄(1) = {expected:.3f} from the frozen target (not {plain} from the online critic)"


# --------------------------------------------------------------------------- hybrid actions

HYBRID_PARAMS = (-0.5, 0.0, 0.5)
"""The parameter values at which a hybrid agent's Q(s, k, x) is read."""


def hybrid_action(k: int, x: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(index [1], parameters [1, 2]): action k with parameter x in its slot (the probes' slices are (0,1), (1,2))."""
    params = torch.zeros(1, 2)
    params[0, k] = x
    return torch.tensor([k]), params


def check_hybrid_values(agent, probe: str, tol: float = VALUE_TOL) -> None:
    """An agent's Q(s, k, x) (its `q_value`) within tol of the hybrid probe's answer at every visited
    observation, both discrete actions and several parameters."""
    env = probe_env(probe, hybrid=True)
    for s in observations(probe):
        for k in (0, 1):
            for x in HYBRID_PARAMS:
                got = float(agent.q_value(torch.tensor([[s]]), *hybrid_action(k, x))[0])
                want = env.q_value(s, (k, x), GAMMA)
                assert abs(got - want) < tol, f"{probe}: Q({s}, {k}, {x}) = {got:.3f}, expected {want:.3f}"


def check_hybrid_actions(agent, probe: str, tol: float = ACTION_TOL) -> None:
    """The deterministic hybrid action at every visited observation: the best discrete action, and its
    parameter (in the probe's [-1, 1]) within tol of the best one."""
    env = probe_env(probe, hybrid=True)
    obs = observations(probe)
    index, params = agent.act(np.asarray(obs, np.float32).reshape(-1, 1), deterministic=True)
    for s, k, x in zip(obs, index, params):
        best_k, best_x = env.best_action(s)
        assert k == best_k, f"{probe}: discrete action {k} at obs {s}, expected {best_k}"
        assert abs(x[k] - best_x) < tol, f"{probe}: parameter {x[k]:.3f} at obs {s}, expected {best_x:.3f}"


# --------------------------------------------------------------------------- pixel probes

def run_pixels(algo: str, probe: str, cfg: dict, total_steps: int, tmp_path, seed: int = 0):
    """Train `algo` on the probe's pixel version (keel/<probe>Pixels-v0, frames [1, 8, 8]); return the agent."""
    spec = get_algo(algo)
    run = RunConfig(env=f"keel/{probe}Pixels-v0", total_steps=total_steps, eval_every=0, eval_episodes=0,
                    log_every=10 ** 9, checkpoint_every=10 ** 9, run_dir=str(tmp_path / f"{algo}-{probe}"),
                    progress=False, device="cpu", seed=seed)
    return load_agent(train(algo, run, spec.config(**{"gamma": GAMMA, **cfg})))


def frame(s: float) -> np.ndarray:
    """The pixel probes' frame of observation s: [1, 1, 8, 8] uint8."""
    return np.full((1, 1, 8, 8), round(127.5 * (1.0 + s)), dtype=np.uint8)


def check_pixel_actions(agent, probe: str, tol: float = ACTION_TOL) -> None:
    """The deterministic action on the frame of every visited observation is the probe's best action."""
    env = probe_env(probe)
    for s in observations(probe):
        if hasattr(agent, "start_episodes"):
            agent.start_episodes(np.ones(1, bool))
        a = float(np.asarray(agent.act(frame(s), deterministic=True)).reshape(-1)[0])
        best = env.best_action(s)
        assert abs(a - best) < tol, f"{probe} (pixels): action {a:.3f} at obs {s}, expected {best:.3f}"
