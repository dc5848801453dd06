"""BC on datasets recorded on the probe environments (tests/algos/probes.py), through the real
offline loop: learned Q-values (random-action data) and actions (noisy best-action data) against the
known answers. BC has no value function: it gets the action probes, on data of the noisy best action.
Below, its pure functions against hand-computed references and its resume equality.
"""
import pytest
import torch

from keelrl.algos.bc import bc_mse_loss, bc_nll_loss

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), batch_size=64, lr=3e-3, normalize_obs=False)
"""Small networks, fast learning rates, no state normalization (values and actions in the probes' units)."""
STEPS = 500


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, probe_datasets, tmp_path):
    P.check_actions(P.run_offline("bc", probe_datasets[probe], CFG, STEPS, tmp_path), probe)


# --------------------------------------------------------------------------- pure functions by hand

T = torch.tensor


def test_bc_mse_loss_by_hand():
    pi = T([[0.0, 1.0], [1.0, 1.0]], requires_grad=True)
    a = T([[1.0, 1.0], [1.0, -1.0]])
    loss, info = bc_mse_loss(pi, a)
    assert loss.item() == pytest.approx(1.25) and info["loss_bc"].item() == pytest.approx(1.25)   # (1 + 0 + 0 + 4) / 4
    loss.backward()
    torch.testing.assert_close(pi.grad, T([[-0.5, 0.0], [0.0, 1.0]]))
    with pytest.raises(AssertionError, match="shapes"):
        bc_mse_loss(pi, a[:, :1])


def test_bc_nll_loss_by_hand():
    lp = T([-1.0, -3.0], requires_grad=True)
    loss, info = bc_nll_loss(lp)
    assert loss.item() == pytest.approx(2.0)
    loss.backward()
    torch.testing.assert_close(lp.grad, T([-0.5, -0.5]))
    with pytest.raises(AssertionError, match="log_prob"):
        bc_nll_loss(T([[-1.0]]))



# --------------------------------------------------------------------------- resume equality

def test_resumed_run_equals_uninterrupted(tiny_dataset, tmp_path):
    from keelrl.algos import BCConfig
    from tests.algos.resume import assert_offline_resume_equal
    dataset_id, _ = tiny_dataset(steps=200)
    assert_offline_resume_equal("bc", BCConfig(hidden_sizes=(8, 8), batch_size=16, actor="gaussian"), tmp_path, dataset_id)
