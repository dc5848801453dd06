"""CVAE behavior cloning: the action probes through the real offline loop; the ELBO loss and the
temporal-ensembling weights by hand (i = 0 the OLDEST prediction, as ACT's formula); a bimodal
action distribution kept by the CVAE and averaged by BC; resume equality with action chunks."""
import numpy as np
import pytest
import torch

from keelrl.algos.bc import BCAgent, BCConfig
from keelrl.algos.cvae_bc import CVAEBCAgent, CVAEBCConfig, cvae_loss
from keelrl.data.synthetic import box_spaces
from keelrl.nn.action_chunks import ChunkedActor, ensemble_weights
from keelrl.types import Batch

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), batch_size=64, lr=3e-3, normalize_obs=False)
STEPS = 500


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, probe_datasets, tmp_path):
    P.check_actions(P.run_offline("cvae_bc", probe_datasets[probe], CFG, STEPS, tmp_path), probe)


def test_probe_actions_with_chunks(probe_datasets, tmp_path):
    """Chunks of 3 on one-step episodes: every step after the first is masked, and the first is learned."""
    probe = P.ACTION_PROBES[-1]
    P.check_actions(P.run_offline("cvae_bc", probe_datasets[probe], {**CFG, "chunk": 3}, STEPS, tmp_path), probe)


# --------------------------------------------------------------------------- pure functions by hand

T = torch.tensor


def test_cvae_loss_by_hand():
    recon = T([[[0.0, 1.0], [1.0, 1.0]], [[0.5, 0.0], [9.0, 9.0]]], requires_grad=True)   # [B=2, K=2, A=2]
    action = T([[[1.0, 1.0], [1.0, -1.0]], [[0.0, 0.0], [0.0, 0.0]]])
    mask = T([[1.0, 1.0], [1.0, 0.0]])                       # the second sequence ended after one step
    mean, log_std = T([[1.0], [0.0]]), T([[0.0], [np.log(2.0)]])
    loss, info = cvae_loss(recon, action, mask, mean, log_std, beta=0.5)
    recon_by_hand = ((1 + 0 + 0 + 4) + 0.25) / 2             # summed over steps and dims, the masked step ignored
    kl_by_hand = (0.5 * 1.0 + 0.5 * (4.0 - 1.0 - 2 * np.log(2.0))) / 2
    assert info["loss_recon"].item() == pytest.approx(recon_by_hand)
    assert info["kl"].item() == pytest.approx(kl_by_hand)
    assert loss.item() == pytest.approx(recon_by_hand + 0.5 * kl_by_hand)
    loss.backward()
    assert (recon.grad[1, 1] == 0).all()                     # nothing flows from a masked step


def test_ensemble_weights_follow_acts_formula_oldest_first():
    m = 0.3
    w = ensemble_weights(4, m)
    by_hand = np.exp(-m * np.arange(4))
    np.testing.assert_allclose(w.numpy(), by_hand / by_hand.sum(), rtol=1e-6)
    assert w[0] > w[-1]                                      # the oldest prediction weighs the most


def test_temporal_ensembling_averages_each_steps_predictions_oldest_first():
    """A predictor whose chunk made at step t predicts the value 10·t + j for step t + j: the action
    at step t must be Σ_i w_i a^(i) over the chunks made at t-k+1..t, i = 0 the oldest."""
    k, m = 3, 0.5
    made = {"t": 0}

    def predict(obs):
        t = made["t"]
        return torch.tensor([[[10.0 * t + j] for j in range(k)]] * obs.shape[0])   # [N, k, 1]
    actor = ChunkedActor(predict, k, "ensemble", m)
    got = []
    for t in range(5):
        made["t"] = t
        got.append(float(actor.act(np.zeros((1, 1)))[0, 0]))
    for t, a in enumerate(got):
        starts = list(range(max(0, t - k + 1), t + 1))          # chunks still covering step t, oldest first
        preds = [10.0 * s + (t - s) for s in starts]
        w = np.exp(-m * np.arange(len(starts)))
        assert a == pytest.approx(float((w * preds).sum() / w.sum()), rel=1e-6), t
    actor.start_episodes(np.array([True]))                     # a new episode forgets the old chunks
    made["t"] = 100
    assert float(actor.act(np.zeros((1, 1)))[0, 0]) == pytest.approx(1000.0)


def test_open_loop_executes_each_chunk_to_its_end_and_restarts_with_an_episode():
    calls = []

    def predict(obs):
        calls.append(len(calls))
        return torch.arange(3.0).reshape(1, 3, 1).repeat(obs.shape[0], 1, 1) + 10 * len(calls)
    actor = ChunkedActor(predict, 3, "open_loop")
    got = [float(actor.act(np.zeros((1, 1)))[0, 0]) for _ in range(4)]
    assert got == [10.0, 11.0, 12.0, 20.0] and len(calls) == 2
    actor.start_episodes(np.array([True]))
    assert float(actor.act(np.zeros((1, 1)))[0, 0]) == 30.0


# --------------------------------------------------------------------------- the reason for a CVAE

def test_the_cvae_keeps_both_modes_where_bc_averages_them():
    """One state, actions +0.8 or -0.8 with equal probability: BC's regression sits between the
    modes; the CVAE's actions decoded from z ~ N(0, I) fall near one mode or the other, both used."""
    torch.manual_seed(0)
    spaces = box_spaces(1, 1)
    g = torch.Generator().manual_seed(0)
    obs = torch.zeros(256, 1)
    cvae = CVAEBCAgent(CVAEBCConfig(hidden_sizes=(32, 32), batch_size=256, lr=3e-3, normalize_obs=False), spaces)
    bc = BCAgent(BCConfig(hidden_sizes=(32, 32), batch_size=256, lr=3e-3, normalize_obs=False), spaces)
    for _ in range(500):
        action = (torch.randint(0, 2, (256, 1), generator=g) * 1.6 - 0.8)
        batch = Batch(obs, action, torch.zeros(256), obs, torch.zeros(256))
        cvae.update(batch)
        bc.update(batch)
    assert abs(float(bc.act(np.zeros((1, 1), np.float32))[0, 0])) < 0.2
    z = torch.randn(400, cvae.latent_dim, generator=g)
    sampled = cvae.predict(torch.zeros(400, 1), z)[:, 0, 0]
    near_a_mode = ((sampled.abs() - 0.8).abs() < 0.2).float().mean()
    assert near_a_mode > 0.8 and 0.25 < (sampled > 0).float().mean() < 0.75


def test_latent_per_episode_is_kept_until_the_episode_restarts():
    agent = CVAEBCAgent(CVAEBCConfig(hidden_sizes=(8, 8), latent="episode", normalize_obs=False), box_spaces(1, 2))
    obs = np.zeros((2, 1), np.float32)
    first = [agent.act(obs) for _ in range(3)]
    assert np.array_equal(first[0], first[1]) and np.array_equal(first[1], first[2])
    assert not np.array_equal(first[0][0], first[0][1])        # each copy its own z
    agent.start_episodes(np.array([False, True]))
    after = agent.act(obs)
    assert np.array_equal(after[0], first[0][0]) and not np.array_equal(after[1], first[0][1])


# --------------------------------------------------------------------------- resume equality

def test_resumed_run_with_chunks_equals_uninterrupted(tiny_dataset, tmp_path):
    from tests.algos.resume import assert_offline_resume_equal
    dataset_id, _ = tiny_dataset(steps=200)
    assert_offline_resume_equal("cvae_bc", CVAEBCConfig(hidden_sizes=(8, 8), batch_size=16, chunk=3, latent="step"),
                                tmp_path, dataset_id)
