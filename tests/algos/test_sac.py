"""SAC on the probe environments (tests/algos/probes.py): every probe of a continuous action space,
through the real loop, its learned Q-values and actions within the stated tolerance of the known answers.
Below, its pure functions against hand-computed references and its resume equality.
"""
import math

import pytest
import torch

from keelrl.algos.sac import actor_loss_reinforce, actor_loss_reparametrized, backup_values, critic_loss, soft_q_target, temperature_loss

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), batch_size=64, learning_starts=50, buffer_size=5000, actor_lr=3e-3, critic_lr=3e-3, alpha_lr=3e-3,
           backup_entropy=False, tau=0.05)
"""Small networks and fast learning rates; τ = 0.05 so that values propagate in a few hundred updates. Backup_entropy=False: the probes' answers are plain (not soft) values."""
STEPS = 400


@pytest.mark.parametrize("probe", P.VALUE_PROBES)
def test_probe_values(probe, tmp_path):
    P.check_values(P.run_online("sac", probe, CFG, STEPS, tmp_path), probe)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, tmp_path):
    P.check_actions(P.run_online("sac", probe, CFG, STEPS, tmp_path), probe)


def test_bootstraps_from_the_target_critic(tmp_path):
    """A frozen target (τ ≈ 0): Q(0, a) learns γ · E_{a'~π(·|1)}[min_i Q̄_i(1, a')], not γ · 1."""
    agent = P.run_online("sac", "ProbeTwoStep", {**CFG, "tau": P.FROZEN_TAU}, STEPS, tmp_path)
    with torch.no_grad():
        obs = torch.ones(256, 1)
        a, _, _ = agent.actor(obs).rsample((1,))
        target = float(agent.critic_target(obs, a[0]).min(0).values.mean())
    P.check_bootstrap(agent, target)


def test_policy_update_period_updates_the_actor_once_per_g_critic_updates():
    """REDQ's schedule (policy_update_period = G): the critics change every update, the actor and α
    only on every G-th, and between them the last actor metrics are reported."""
    from keelrl.speed.bench import learner_setup
    setup = learner_setup("sac", batch_size=8, overrides={"hidden_sizes": (8, 8), "policy_update_period": 3}, fill=64)
    agent, changed, reported = setup.agent, [], []
    for _ in range(6):
        actor = [p.detach().clone() for p in agent.actor.parameters()]
        critic = [p.detach().clone() for p in agent.critic.parameters()]
        info = setup.update()
        changed.append((any(not torch.equal(a, b) for a, b in zip(actor, agent.actor.parameters())),
                        all(not torch.equal(a, b) for a, b in zip(critic, agent.critic.parameters()))))
        reported.append(float(info["loss_pi"]))
    assert changed == [(False, True), (False, True), (True, True)] * 2
    assert reported[0] == reported[1] == 0.0 and reported[2] == reported[3] == reported[4] != reported[5]


# --------------------------------------------------------------------------- pure functions by hand

# Q̄ values of N=3 target critics for K=1 action sample and B=2 states: q_next[i, 0, b]
Q_NEXT = torch.tensor([[[1.0, 5.0]], [[3.0, 2.0]], [[-1.0, 4.0]]])


@pytest.mark.parametrize("backup, expected", [
    ("min", [[[-1.0, 2.0]]]),
    ("mean", [[[1.0, 11.0 / 3.0]]]),
    ("single", Q_NEXT.tolist()),
])
def test_backup_values(backup, expected):
    torch.testing.assert_close(backup_values(Q_NEXT, backup), torch.tensor(expected))


def test_doubleq_swaps_the_two_critics():
    q = torch.tensor([[[1.0, 2.0]], [[3.0, 4.0]]])
    torch.testing.assert_close(backup_values(q, "doubleq"), torch.tensor([[[3.0, 4.0]], [[1.0, 2.0]]]))


def test_redq_takes_min_over_the_subset():
    subset = torch.tensor([0, 2])     # critics 1 and 3 of 3: min(1, -1) = -1, min(5, 4) = 4
    torch.testing.assert_close(backup_values(Q_NEXT, "redq", subset), torch.tensor([[[-1.0, 4.0]]]))


def test_soft_q_target_by_hand():
    r, d = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 1.0])
    q_next = torch.tensor([[[10.0, 10.0], [20.0, 30.0]]])    # N'=1, K=2, B=2
    logp = torch.tensor([[-1.0, 0.0], [1.0, 2.0]])           # K=2, B=2
    alpha, gamma = torch.tensor(0.5), 0.9
    # state 0: mean_k(Q - α logπ) = ((10 + 0.5) + (20 - 0.5)) / 2 = 15 -> 1 + 0.9 * 15 = 14.5
    # state 1 terminated: y = r = 2
    y = soft_q_target(r, d, q_next, logp, alpha, gamma, backup_entropy=True)
    torch.testing.assert_close(y, torch.tensor([[14.5, 2.0]]))
    # without the entropy bonus: mean_k Q = (10 + 20) / 2 = 15, the log-probs no longer count
    y_plain = soft_q_target(r, d, q_next, logp, alpha, gamma, backup_entropy=False)
    torch.testing.assert_close(y_plain, torch.tensor([[1 + 0.9 * 15.0, 2.0]]))
    # the bonus does count when the log-probs do not cancel: mean_k(-α logπ) = -0.5 * 2 = -1
    logp2 = torch.tensor([[2.0, 0.0], [2.0, 0.0]])
    y2 = soft_q_target(r, d, q_next, logp2, alpha, gamma, backup_entropy=True)
    torch.testing.assert_close(y2, torch.tensor([[1 + 0.9 * (15.0 - 1.0), 2.0]]))


def test_truncation_bootstraps_termination_does_not():
    y = soft_q_target(torch.zeros(2), torch.tensor([0.0, 1.0]), torch.ones(1, 1, 2), torch.zeros(1, 2),
                      torch.tensor(0.0), 0.5, True)
    torch.testing.assert_close(y, torch.tensor([[0.5, 0.0]]))


def test_critic_loss_by_hand():
    q = torch.tensor([[1.0, 2.0], [0.0, 4.0]], requires_grad=True)   # N=2, B=2
    y = torch.tensor([[2.0, 2.0]])                                    # shared target
    loss, info = critic_loss(q, y)
    # ½ mean((1-2)², 0) + ½ mean((0-2)², (4-2)²) = ½·0.5 + ½·4 = 2.25
    assert loss.item() == pytest.approx(2.25)
    loss.backward()
    torch.testing.assert_close(q.grad, torch.tensor([[-0.5, 0.0], [-1.0, 1.0]]))  # (q - y) / B


def test_actor_loss_reparametrized_by_hand():
    q = torch.tensor([[1.0, 3.0]])
    logp = torch.tensor([[-2.0, 0.5]])
    loss, info = actor_loss_reparametrized(q, logp, torch.tensor(0.2))
    # mean(0.2 * logp - q) = mean(-0.4 - 1, 0.1 - 3) = -2.15
    assert loss.item() == pytest.approx(-2.15)
    assert info["entropy"].item() == pytest.approx(0.75)


def test_actor_loss_reinforce_gradient_is_the_score_function():
    logp = torch.tensor([[-1.0, 0.5]], requires_grad=True)
    q, b, alpha = torch.tensor([[2.0, 1.0]]), torch.tensor([0.5, 1.5]), torch.tensor(0.1)
    loss, _ = actor_loss_reinforce(q, logp, b, alpha)
    loss.backward()
    # d loss / d logp = -(Q - α logπ - b) / (K·B), advantages held constant
    adv = torch.tensor([[2.0 + 0.1 - 0.5, 1.0 - 0.05 - 1.5]])
    torch.testing.assert_close(logp.grad, -adv / 2)


def test_reinforce_and_reparametrized_agree_in_expectation():
    """Both estimators are unbiased for ∇_μ E[Q(tanh u)], u ~ N(μ, σ²), with Q(a) = -(a - 0.3)²."""
    from keelrl.nn.distributions import TanhNormal
    torch.manual_seed(0)
    mu = torch.zeros(1, 1, requires_grad=True)
    log_std = torch.full((1, 1), -1.0)
    q_fn = lambda a: -(a - 0.3).pow(2).squeeze(-1)  # noqa: E731
    n = 200_000
    dist = TanhNormal(mu, log_std)
    a, logp, u = dist.rsample((n,))
    loss_rep, _ = actor_loss_reparametrized(q_fn(a), logp, torch.tensor(0.0))
    g_rep, = torch.autograd.grad(loss_rep, mu)
    dist = TanhNormal(mu, log_std)
    with torch.no_grad():
        a2, _, u2 = dist.rsample((n,))
    loss_rf, _ = actor_loss_reinforce(q_fn(a2), dist.log_prob_pre_tanh(u2), q_fn(dist.mode.detach().unsqueeze(0))[0],
                                      torch.tensor(0.0))
    g_rf, = torch.autograd.grad(loss_rf, mu)
    assert g_rep.item() < 0  # pushing μ towards 0.3 lowers the loss
    assert g_rf.item() == pytest.approx(g_rep.item(), rel=0.05)


def test_temperature_loss_eq18():
    log_alpha = torch.tensor(math.log(0.5), requires_grad=True)
    logp = torch.tensor([-1.0, -3.0])          # entropy estimate 2
    loss, info = temperature_loss(log_alpha, logp, target_entropy=-1.0)
    # J = mean(-α (logπ + H̄)) = -0.5 * mean(-2, -4) = 1.5
    assert loss.item() == pytest.approx(1.5)
    loss.backward()
    # entropy 2 > target -1: the gradient on log α is positive, so descent lowers α
    assert log_alpha.grad.item() == pytest.approx(1.5)
    loss_low, _ = temperature_loss(torch.tensor(0.0), torch.tensor([3.0]), target_entropy=-1.0)
    assert loss_low.item() == pytest.approx(-2.0)  # entropy -3 < target -1: raising α lowers J


def test_shape_contract_is_checked():
    with pytest.raises(AssertionError, match="shapes"):
        critic_loss(torch.zeros(2, 3), torch.zeros(1, 4))



# --------------------------------------------------------------------------- resume equality

def test_resumed_run_equals_uninterrupted(tmp_path):
    from keelrl.algos import SACConfig
    from tests.algos.resume import assert_online_resume_equal
    assert_online_resume_equal("sac", SACConfig(hidden_sizes=(16, 16), batch_size=32, learning_starts=100, buffer_size=5000), tmp_path, "Pendulum-v1", 1, 400, 231)
