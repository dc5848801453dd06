"""SAC on the probe environments (tests/algos/probes.py): every probe of a continuous action space,
through the real loop, its learned Q-values and actions within the stated tolerance of the known answers.
Its losses by hand: test_sac_losses.py; its resume equality: tests/train/test_resume.py.
"""
import pytest
import torch

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
