"""PPO on the probe environments (tests/algos/probes.py): every probe, continuous and discrete, through
the real loop, its learned state values V(s) and deterministic actions against the known answers.
Below, its pure functions against hand-computed references and its resume equality.
"""
import csv
import math

import pytest
import torch

import keelrl
from keelrl.algos.ppo import PPOConfig, clipped_surrogate_loss, ppo_loss, value_loss

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), lr=3e-3, rollout_steps=64, num_minibatches=2, epochs=4, normalize_obs=False,
           normalize_reward=False, anneal_lr=False, log_std_init=-1.0)
"""No observation or reward normalization, so that V is in the probes' units; σ starts at e^-1 so that
clipping at the action bounds does not bias the mean in a short run."""
STEPS = 1500


@pytest.mark.parametrize("discrete", [False, True], ids=["box", "discrete"])
@pytest.mark.parametrize("probe", P.VALUE_PROBES)
def test_probe_values(probe, discrete, tmp_path):
    agent = P.run_online("ppo", probe, CFG, STEPS, tmp_path, discrete=discrete)
    P.check_values(agent, probe, discrete, state_value=True)


@pytest.mark.parametrize("discrete", [False, True], ids=["box", "discrete"])
@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, discrete, tmp_path):
    P.check_actions(P.run_online("ppo", probe, CFG, STEPS, tmp_path, discrete=discrete), probe, discrete)


def test_learning_rate_anneals_from_full_to_one_nth(tmp_path):
    """lr_k = lr · (1 - k/N) for iterations k = 0..N-1: the first update uses the full rate, the last
    lr/N (not 0, which an annealing fraction computed after the rollout gave)."""
    run = keelrl.RunConfig(env="CartPole-v1", total_steps=192, eval_every=0, eval_episodes=0, log_every=64,
                           run_dir=str(tmp_path / "r"), progress=False, device="cpu")
    run_dir = keelrl.train("ppo", run, keelrl.algos.PPOConfig(hidden_sizes=(8,), rollout_steps=64, num_minibatches=2,
                                                               epochs=1, lr=3e-3))
    with open(run_dir / "metrics.csv") as f:
        lrs = [float(row["lr"]) for row in csv.DictReader(f)]
    assert lrs == pytest.approx([3e-3, 2e-3, 1e-3])


# --------------------------------------------------------------------------- pure functions by hand

# ratios inside and outside [1-ε, 1+ε] = [.8, 1.2], for positive and negative advantages
RATIO = torch.tensor([0.5, 1.1, 1.5, 0.5, 0.9, 1.5])


ADV = torch.tensor([1.0, 1.0, 1.0, -1.0, -2.0, -1.0])


def test_clipped_surrogate_by_hand():
    log_prob = RATIO.log().requires_grad_(True)
    loss, info = clipped_surrogate_loss(log_prob, torch.zeros(6), ADV, clip_coef=0.2)
    # ρÂ           .5, 1.1, 1.5, -.5, -1.8, -1.5
    # clip(ρ)Â     .8, 1.1, 1.2, -.8, -1.8, -1.2
    # min          .5, 1.1, 1.2, -.8, -1.8, -1.5   -> sum -1.3
    assert loss.item() == pytest.approx(1.3 / 6, abs=1e-6)
    assert info["loss_pi"].item() == pytest.approx(1.3 / 6, abs=1e-6)
    expected_kl = sum((r - 1) - math.log(r) for r in RATIO.tolist()) / 6
    assert info["approx_kl"].item() == pytest.approx(expected_kl, rel=1e-5)
    assert info["clip_fraction"].item() == pytest.approx(4 / 6)        # |ρ - 1| > .2 at rows 0, 2, 3, 5
    loss.backward()
    # d/dlogπ of min: ρÂ where the unclipped term is the min (or ρ is inside), 0 where the clipped one is
    torch.testing.assert_close(log_prob.grad, -torch.tensor([0.5, 1.1, 0.0, 0.0, -1.8, -1.5]) / 6)


def test_approx_kl_is_zero_at_ratio_one_and_positive_elsewhere():
    lp = torch.tensor([0.3, -1.0])
    _, same = clipped_surrogate_loss(lp, lp.clone(), torch.ones(2), 0.2)
    assert same["approx_kl"].item() == 0.0 and same["clip_fraction"].item() == 0.0
    _, moved = clipped_surrogate_loss(lp + 0.05, lp, torch.ones(2), 0.2)
    assert moved["approx_kl"].item() == pytest.approx(math.exp(0.05) - 1 - 0.05, rel=1e-4)


@pytest.mark.parametrize("clip, expected", [
    (None, (1 + 1 + 4) / 3),
    # clipped V: (.2, 2.7, .3) -> errors (3.24, .49, 2.89); max with (1, 1, 4) -> (3.24, 1, 4)
    (0.2, (3.24 + 1 + 4) / 3),
])
def test_value_loss_by_hand(clip, expected):
    value, target, old = torch.tensor([1.0, 3.0, 0.0]), torch.tensor([2.0, 2.0, 2.0]), torch.tensor([0.0, 2.5, 0.5])
    loss, info = value_loss(value, target, old, clip)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert info["loss_v"].item() == pytest.approx(expected, rel=1e-6)


def test_ppo_loss_combines_the_terms_with_normalized_advantages():
    cfg = PPOConfig(clip_coef=0.2, vf_coef=0.5, ent_coef=0.01, clip_value=None, normalize_advantage=True)
    log_prob, old = torch.tensor([math.log(1.1), 0.0]), torch.zeros(2)
    adv = torch.tensor([1.0, 3.0])            # mean 2, std (unbiased) √2 -> normalized (-1/√2, 1/√2)
    value, target = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 3.0])
    entropy = torch.tensor([1.0, 2.0])
    loss, info = ppo_loss(log_prob, old, adv, value, target, value.clone(), entropy, cfg)
    a = 1 / math.sqrt(2)
    # row 0: ρ = 1.1, Â = -a: min(-1.1a, -1.1a); row 1: ρ = 1, Â = a
    loss_pi = -(-1.1 * a + a) / 2
    loss_v = (1 + 4) / 2
    assert info["loss_pi"].item() == pytest.approx(loss_pi, rel=1e-5)
    assert info["loss_v"].item() == pytest.approx(loss_v)
    assert info["entropy"].item() == pytest.approx(1.5)
    assert loss.item() == pytest.approx(loss_pi + 0.5 * loss_v - 0.01 * 1.5, rel=1e-5)
    # normalized advantages: a positive affine change of Â leaves the loss as it is
    loss2, _ = ppo_loss(log_prob, old, 10 * adv - 7, value, target, value.clone(), entropy, cfg)
    assert loss2.item() == pytest.approx(loss.item(), rel=1e-5)
    # without normalization the raw advantages count: row 0: min(1.1, 1.1), row 1: 3
    cfg.normalize_advantage = False
    _, raw = ppo_loss(log_prob, old, adv, value, target, value.clone(), entropy, cfg)
    assert raw["loss_pi"].item() == pytest.approx(-(1.1 + 3.0) / 2, rel=1e-5)



# --------------------------------------------------------------------------- resume equality

@pytest.mark.parametrize("env, total, stop_at", [("Pendulum-v1", 768, 384), ("CartPole-v1", 768, 512)],
                         ids=["box", "discrete"])
def test_resumed_run_equals_uninterrupted(tmp_path, env, total, stop_at):
    from keelrl.algos import PPOConfig
    from tests.algos.resume import assert_online_resume_equal
    assert_online_resume_equal("ppo", PPOConfig(hidden_sizes=(16, 16), rollout_steps=64, num_minibatches=4, epochs=2),
                               tmp_path, env, 2, total, stop_at)
