"""SAC-N on datasets recorded on the probe environments (tests/algos/probes.py), through the real
offline loop: learned Q-values (random-action data) and actions (noisy best-action data) against the
known answers. Its backup is soft (-α log π in the target, with α learned), so the bootstrapped probes'
answers are not plain values: it gets the one-step value probes, whose targets do not bootstrap.
Its losses by hand: test_offline_losses.py; its resume equality: tests/train/test_offline_resume.py.
"""
import pytest

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), batch_size=64, normalize_obs=False, actor_lr=3e-3, critic_lr=3e-3, alpha_lr=3e-3, tau=0.05, num_critics=2)
"""Small networks, fast learning rates, no state normalization (values and actions in the probes' units)."""
STEPS = 500


@pytest.mark.parametrize("probe", ("ProbeConstant", "ProbeObsReward"))
def test_probe_values(probe, probe_datasets, tmp_path):
    P.check_values(P.run_offline("sac_n", probe_datasets[probe], CFG, STEPS, tmp_path), probe)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, probe_datasets, tmp_path):
    P.check_actions(P.run_offline("sac_n", probe_datasets[probe], CFG, STEPS, tmp_path), probe)
