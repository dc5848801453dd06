"""Each algorithm page documents every Config field and names functions that exist."""
import importlib
import re
from dataclasses import fields
from pathlib import Path

import pytest

import keelrl.algos.sac as sac
from keelrl.algos.ddpg import DDPGConfig
from keelrl.algos.dqn import DQNConfig
from keelrl.algos.ppo import PPOConfig
from keelrl.algos.sac import SACConfig
from keelrl.algos.td3 import TD3Config

DOCS = Path(__file__).resolve().parents[1] / "docs" / "algorithms"

PAGES = {"sac": SACConfig, "td3": TD3Config, "ddpg": DDPGConfig, "dqn": DQNConfig, "ppo": PPOConfig}


@pytest.mark.parametrize("algo", sorted(PAGES))
def test_page_covers_every_config_field(algo):
    page = (DOCS / f"{algo}.md").read_text()
    missing = [f.name for f in fields(PAGES[algo]) if f"`{f.name}`" not in page]
    assert not missing, f"docs/algorithms/{algo}.md does not mention {missing}"


def test_sac_page_names_real_loss_functions():
    page = (DOCS / "sac.md").read_text()
    named = set(re.findall(r"`(\w+_loss\w*|soft_q_target|backup_values)`", page))
    assert named >= {"critic_loss", "actor_loss_reparametrized", "actor_loss_reinforce", "temperature_loss",
                     "soft_q_target"}
    for name in named:
        assert hasattr(sac, name), name


NAMED = {  # page -> the functions and classes its equation table maps the equations to, by module
    "td3": {"keelrl.algos.td3": ["smoothed_target_action", "td3_critic_loss", "deterministic_actor_loss",
                                 "DeterministicActorCritic", "TD3Agent"],
            "keelrl.functional": ["soft_update", "td_target"]},
    "ddpg": {"keelrl.algos.td3": ["td3_critic_loss", "deterministic_actor_loss", "DeterministicActorCritic",
                                  "validate_deterministic_ac"],
             "keelrl.algos.ddpg": ["DDPGAgent"], "keelrl.functional": ["soft_update"]},
    "dqn": {"keelrl.algos.dqn": ["q_target", "q_regression_loss", "linear_epsilon", "DQNAgent"],
            "keelrl.nn.qnets": ["QNetwork"], "keelrl.data.nstep": ["NStepWriter"],
            "keelrl.functional": ["n_step_returns", "hard_update", "soft_update"]},
    "ppo": {"keelrl.algos.ppo": ["clipped_surrogate_loss", "value_loss", "ppo_loss", "PPOPolicy", "PPOAgent"],
            "keelrl.functional": ["gae", "reverse_linear_scan"],
            "keelrl.data.normalization": ["ObservationNormalizer", "RewardScaler", "RunningMeanStd"],
            "keelrl.data.rollout": ["RolloutBuffer"], "keelrl.train.on_policy": ["RolloutLoop"]},
}


@pytest.mark.parametrize("algo", sorted(NAMED))
def test_page_names_real_functions(algo):
    page = (DOCS / f"{algo}.md").read_text()
    for module, names in NAMED[algo].items():
        mod = importlib.import_module(module)
        for name in names:
            assert f"`{name}" in page, f"docs/algorithms/{algo}.md does not name {name}"
            assert hasattr(mod, name), f"{module} has no {name}"
