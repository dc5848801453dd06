"""Each algorithm page documents every Config field and names functions that exist."""
import importlib
import re
from dataclasses import fields
from pathlib import Path

import pytest

import keelrl.algos.sac as sac
from keelrl.algos import ALGOS
from keelrl.algos.bc import BCConfig
from keelrl.commands.collect import CollectConfig
from keelrl.train.config import OfflineRunConfig

DOCS = Path(__file__).resolve().parents[1] / "docs" / "algorithms"
OFFLINE_GUIDE = DOCS.parent / "offline.md"

PAGES = {name: spec.config for name, spec in ALGOS.items() if spec.origin == "keelrl"}
"""Every algorithm keelrl registers has a page: the list comes from the registry, not from this file."""


def test_every_registered_algorithm_has_a_page_and_a_test_file():
    tests = Path(__file__).resolve().parent / "algos"
    for name in PAGES:
        assert (DOCS / f"{name}.md").exists(), f"{name} has no docs/algorithms/{name}.md"
        assert (tests / f"test_{name}.py").exists(), f"{name} has no tests/algos/test_{name}.py"
    assert set(PAGES) >= {"sac", "td3", "ddpg", "dqn", "ppo", "bc", "td3_bc", "cql", "iql", "awac", "sac_n", "edac"}


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
    "pixel_sac": {"keelrl.algos.pixel_sac": ["PixelSACAgent"], "keelrl.nn.pixel_encoder": ["ConvEncoder"],
                  "keelrl.algos.sac": ["soft_q_target", "backup_values", "critic_loss", "actor_loss_reparametrized",
                                       "temperature_loss"],
                  "keelrl.data.augment": ["random_shift"], "keelrl.functional": ["soft_update"]},
    "vae_sac": {"keelrl.algos.vae_sac": ["PixelVAE", "pixel_vae_loss", "VAESACAgent"],
                "keelrl.nn.pixel_encoder": ["ConvDecoder"], "keelrl.nn.vae": ["reparameterize", "gaussian_kl"],
                "keelrl.algos.spec": ["SideUpdate"]},
    "curl_sac": {"keelrl.algos.curl_sac": ["curl_logits", "CURLSACAgent"], "keelrl.functional": ["info_nce_loss"]},
    "slac": {"keelrl.algos.slac": ["SLACAgent", "masked_critic_loss", "masked_actor_loss", "masked_temperature_loss"],
             "keelrl.nn.sequential_latent": ["SequentialLatentModel", "latent_model_loss", "reconstruction_strip"],
             "keelrl.nn.pixel_encoder": ["SLACEncoder", "SLACDecoder"], "keelrl.functional": ["diagonal_gaussian_kl"]},
    "cvae_bc": {"keelrl.algos.cvae_bc": ["cvae_loss", "CVAEBCAgent"], "keelrl.nn.cvae": ["ConditionalVAE"],
                "keelrl.nn.vae": ["GaussianHead", "reparameterize", "gaussian_kl"],
                "keelrl.nn.action_chunks": ["ensemble_weights", "ChunkedActor"],
                "keelrl.data.offline": ["OfflineDataset"]},
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
    # offline
    "bc": {"keelrl.algos.bc": ["bc_mse_loss", "bc_nll_loss", "BCAgent"],
           "keelrl.nn.actors": ["DeterministicActor", "TanhGaussianActor"],
           "keelrl.data.normalization": ["FixedNormalizer"], "keelrl.train.offline": ["prepare_dataset"]},
    "td3_bc": {"keelrl.algos.td3_bc": ["td3_bc_actor_loss", "TD3BCAgent"],
               "keelrl.algos.td3": ["smoothed_target_action", "td3_critic_loss", "DeterministicActorCritic"],
               "keelrl.data.normalization": ["FixedNormalizer"], "keelrl.train.offline": ["prepare_dataset"],
               "keelrl.functional": ["soft_update", "td_target"]},
    "cql": {"keelrl.algos.cql": ["cql_gap", "cql_critic_loss", "lagrange_loss", "CQLAgent"],
            "keelrl.algos.sac": ["soft_q_target", "actor_loss_reparametrized", "temperature_loss"],
            "keelrl.nn.actors": ["TanhGaussianActor"], "keelrl.nn.ensemble": ["EnsembleCritic", "orthogonal_init_"],
            "keelrl.functional": ["soft_update"]},
    "iql": {"keelrl.algos.iql": ["iql_value_loss", "iql_critic_loss", "awr_weights", "iql_actor_loss", "IQLAgent"],
            "keelrl.functional": ["expectile_loss", "td_target", "soft_update"],
            "keelrl.nn.actors": ["GaussianActor", "DeterministicActor"],
            "keelrl.nn.ensemble": ["EnsembleCritic", "EnsembleMLP"], "keelrl.train.offline": ["prepare_dataset"]},
    "awac": {"keelrl.algos.awac": ["awac_critic_loss", "AWACAgent"],
             "keelrl.algos.iql": ["awr_weights", "iql_actor_loss"], "keelrl.nn.actors": ["GaussianActor"],
             "keelrl.functional": ["td_target", "soft_update"]},
    "sac_n": {"keelrl.algos.sac_n": ["ensemble_critic_loss", "SACNAgent"],
              "keelrl.algos.sac": ["soft_q_target", "actor_loss_reparametrized", "temperature_loss"],
              "keelrl.nn.actors": ["TanhGaussianActor"], "keelrl.nn.ensemble": ["EnsembleCritic", "edac_init_"],
              "keelrl.functional": ["soft_update"]},
    "edac": {"keelrl.algos.edac": ["edac_diversity_loss", "critic_action_gradients", "EDACAgent"],
             "keelrl.algos.sac_n": ["SACNAgent", "ensemble_critic_loss", "validate_sac_n"],
             "keelrl.algos.sac": ["soft_q_target", "actor_loss_reparametrized", "temperature_loss"],
             "keelrl.nn.ensemble": ["edac_init_"], "keelrl.functional": ["soft_update"]},
    # hybrid actions
    "hyar": {"keelrl.algos.hyar": ["hyar_vae_loss", "latent_bounds", "to_latent", "from_latent", "relabel_latents",
                                   "HyARAgent"],
             "keelrl.nn.hybrid_vae": ["HybridActionVAE"], "keelrl.nn.vae": ["reparameterize", "gaussian_kl"],
             "keelrl.algos.td3": ["td3_critic_loss", "smoothed_target_action"],
             "keelrl.functional": ["inverted_gradient_loss", "invert_gradients"],
             "keelrl.envs.hybrid.actions": ["chosen_params", "place_params"]},
    "pdqn": {"keelrl.algos.pdqn": ["pdqn_q_loss", "pdqn_param_loss", "PDQNAgent"],
             "keelrl.nn.parameterized": ["ParamQNetwork"], "keelrl.algos.dqn": ["linear_epsilon", "q_regression_loss"],
             "keelrl.functional": ["invert_gradients", "inverted_gradient_loss", "soft_update", "td_target"]},
    "mpdqn": {"keelrl.nn.parameterized": ["ParamQNetwork"], "keelrl.algos.pdqn": ["pdqn_q_loss", "pdqn_param_loss"]},
    "paddpg": {"keelrl.algos.paddpg": ["flat_action", "PADDPGAgent"], "keelrl.algos.td3": ["td3_critic_loss"],
               "keelrl.algos.spec": ["FLAT_HYBRID"],
               "keelrl.functional": ["inverted_gradient_loss", "invert_gradients", "soft_update"]},
    "hppo": {"keelrl.algos.ppo": ["PPOPolicy", "clipped_surrogate_loss", "value_loss", "ppo_loss"],
             "keelrl.functional": ["gae"]},
}


@pytest.mark.parametrize("algo", sorted(NAMED))
def test_page_names_real_functions(algo):
    page = (DOCS / f"{algo}.md").read_text()
    for module, names in NAMED[algo].items():
        mod = importlib.import_module(module)
        for name in names:
            assert f"`{name}" in page, f"docs/algorithms/{algo}.md does not name {name}"
            assert hasattr(mod, name), f"{module} has no {name}"


OFFLINE = sorted(name for name, spec in ALGOS.items() if spec.uses_dataset and spec.origin == "keelrl")


@pytest.mark.parametrize("algo", OFFLINE)
def test_offline_page_names_class_members_that_exist(algo):
    """`Class.member` in an offline page (e.g. `OfflineDataset.obs_moments`) names a real attribute."""
    page = (DOCS / f"{algo}.md").read_text()
    modules = [importlib.import_module(m) for m in
               [*NAMED[algo], "keelrl.data.offline", "keelrl.nn.distributions", "keelrl.algos.td3"]]
    for cls_name, member in set(re.findall(r"`([A-Z]\w+)\.(\w+)`", page)):
        owners = [getattr(m, cls_name) for m in modules if hasattr(m, cls_name)]
        assert owners, f"docs/algorithms/{algo}.md names {cls_name}.{member}, but no module defines {cls_name}"
        assert hasattr(owners[0], member), f"docs/algorithms/{algo}.md names {cls_name}.{member}, which does not exist"


@pytest.mark.parametrize("algo", OFFLINE)
def test_offline_page_lists_every_preset(algo):
    page = (DOCS / f"{algo}.md").read_text()
    guide = OFFLINE_GUIDE.read_text()
    for preset, values in ALGOS[algo].presets.items():
        assert f"`{preset}`" in page, f"docs/algorithms/{algo}.md does not list preset {preset}"
        assert f"`{preset}`" in guide, f"docs/offline.md does not list preset {preset}"
        for field in values:
            assert f"`{field}`" in page, f"docs/algorithms/{algo}.md does not show {field} of preset {preset}"


def test_offline_guide_links_every_offline_algorithm():
    guide = OFFLINE_GUIDE.read_text()
    for algo in OFFLINE:
        assert (DOCS / f"{algo}.md").exists(), f"offline algorithm {algo} has no docs/algorithms/{algo}.md"
        assert f"(algorithms/{algo}.md)" in guide, f"docs/offline.md does not link algorithms/{algo}.md"
        assert f"`keel train {algo}`" in guide, f"docs/offline.md does not show keel train {algo}"


@pytest.mark.parametrize("config", [CollectConfig, OfflineRunConfig], ids=lambda c: c.__name__)
def test_offline_guide_covers_every_field(config):
    guide = OFFLINE_GUIDE.read_text()
    missing = [f.name for f in fields(config) if f"`{f.name}`" not in guide]
    assert not missing, f"docs/offline.md does not mention {config.__name__} fields {missing}"


def test_offline_guide_names_real_functions():
    guide = OFFLINE_GUIDE.read_text()
    named = {"keelrl.data.offline": ["load_minari", "OfflineDataset"],
             "keelrl.train.offline": ["prepare_dataset"], "keelrl.data.normalization": ["FixedNormalizer"],
             "keelrl.commands.collect": ["CollectConfig"], "keelrl.train.config": ["OfflineRunConfig"],
             "keelrl.train.checkpoint": ["load_agent"]}
    for module, names in named.items():
        mod = importlib.import_module(module)
        for name in names:
            assert f"`{name}" in guide, f"docs/offline.md does not name {name}"
            assert hasattr(mod, name), f"{module} has no {name}"


def test_user_docs_speak_to_users():
    """The README and docs say what keelrl does, not how a page came to be written: no work sessions,
    no time running out, no study notes' file names."""
    root = Path(__file__).resolve().parents[1]
    pages = [root / "README.md", *sorted((root / "docs").rglob("*.md")), root / "benchmarks" / "RESULTS.md"]
    for page in pages:
        text = page.read_text()
        for phrase in ("the session", "this session", "time ran out", "study notes", "the notes (", "seeds/00"):
            assert phrase not in text, f"{page.relative_to(root)} says {phrase!r}"
