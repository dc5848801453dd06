"""IQL on datasets recorded on the probe environments (tests/algos/probes.py), through the real
offline loop: learned Q-values (random-action data) and actions (noisy best-action data) against the
known answers.
Its losses by hand: test_offline_losses.py; its resume equality: tests/train/test_offline_resume.py.
"""
import pytest

from tests.algos import probes as P

CFG = dict(hidden_sizes=(32, 32), batch_size=64, normalize_obs=False, actor_lr=3e-3, critic_lr=3e-3, value_lr=3e-3, tau=0.05, normalize_reward=False,
           lr_decay_steps=0)
"""Small networks, fast learning rates, no state normalization (values and actions in the probes' units)."""
STEPS = 500


@pytest.mark.parametrize("probe", P.VALUE_PROBES)
def test_probe_values(probe, probe_datasets, tmp_path):
    P.check_values(P.run_offline("iql", probe_datasets[probe], CFG, STEPS, tmp_path), probe)


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions(probe, probe_datasets, tmp_path):
    P.check_actions(P.run_offline("iql", probe_datasets[probe], CFG, STEPS, tmp_path), probe)
