"""EDAC, Ensemble-Diversified Actor-Critic (An, Moon, Kim & Song 2021).

SAC-N with a smaller ensemble, made to work by diversifying the critics' action-gradients, so that
the ensemble's minimum penalizes out-of-data actions with fewer members:

    ES(θ) = 1/(N-1) Σ_{i≠j} ⟨ ∇_a Q_i(s, a) / ‖∇_a Q_i‖ , ∇_a Q_j(s, a) / ‖∇_a Q_j‖ ⟩,  (s, a) ~ D   (Eq. 5)
    critic loss   SAC-N's + η · E_D[ ES ]

i.e. the sum over ordered pairs of distinct critics (the Gram matrix with its diagonal masked) of
the cosine similarity of their action-gradients at the dataset's actions, averaged over the
batch. Everything else is SAC-N's (algos/sac_n.py). Defaults are CORL's: η = 1, N = 10 (the
paper's hopper settings, N = 50, are the hopper presets).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from keelrl.algos import sac_n
from keelrl.algos.sac_n import SACNAgent, validate_sac_n
from keelrl.algos.spec import AlgoSpec, named_losses
from keelrl.envs.spaces import continuous_actions
from keelrl.errors import check
from keelrl.nn.ensemble import EnsembleCritic
from keelrl.types import Batch, Spaces


@dataclass
class EDACConfig:
    """EDAC. Defaults are CORL's (An et al. 2021's code settings)."""

    hidden_sizes: tuple[int, ...] = (256, 256, 256)
    """Hidden layer widths of the actor and of each critic."""
    actor_lr: float = 3e-4
    """Adam learning rate of the policy."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics."""
    alpha_lr: float = 3e-4
    """Adam learning rate of log α."""
    batch_size: int = 256
    """Transitions per gradient update."""
    gamma: float = 0.99
    """Discount factor γ."""
    tau: float = 0.005
    """Polyak coefficient of the target critics."""
    num_critics: int = 10
    """N, the critics in the ensemble; the target and the actor use the minimum over all of them."""
    eta: float = 1.0
    """η, the weight of the gradient-diversity term ES in the critic loss."""
    normalize_obs: bool = False
    """Standardize states with the dataset's mean and std (off in the paper)."""
    log_std_min: float = -5.0
    """Lower clamp of the policy's log σ."""
    log_std_max: float = 2.0
    """Upper clamp of the policy's log σ."""

    def __post_init__(self) -> None:
        validate_sac_n(self)
        check(self.eta >= 0, f"eta must be >= 0, got {self.eta}")

# The paper's ensemble sizes and η, as CORL's configs (configs/offline/edac/<task>/<dataset>_v2.yaml).
PRESETS: dict[str, dict] = {
    "hopper-medium": {"num_critics": 50, "eta": 1.0},
    "hopper-medium-replay": {"num_critics": 50, "eta": 1.0},
    "halfcheetah-medium": {"num_critics": 10, "eta": 1.0},
}


def edac_diversity_loss(action_grads: torch.Tensor, eps: float = 1e-10) -> tuple[torch.Tensor, dict]:
    """ES = E_B[ 1/(N-1) Σ_{i≠j} cos(∇_a Q_i, ∇_a Q_j) ]  (Eq. 5). action_grads [N, B, A], with graph."""
    assert action_grads.dim() == 3 and action_grads.shape[0] >= 2, f"action_grads must be [N>=2, B, A], got {tuple(action_grads.shape)}"
    n = action_grads.shape[0]
    unit = action_grads / (action_grads.norm(dim=-1, keepdim=True) + eps)       # [N, B, A]
    unit = unit.transpose(0, 1)                                                 # [B, N, A]
    gram = unit @ unit.transpose(1, 2)                                          # [B, N, N]
    off_diagonal = gram * (1.0 - torch.eye(n, device=gram.device, dtype=gram.dtype))
    loss = off_diagonal.sum(dim=(1, 2)).mean() / (n - 1)
    return loss, {"diversity": loss.detach()}


def critic_action_gradients(critic: EnsembleCritic, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """∇_a Q_i(s, a) for every member at once, with the graph kept for a second derivative.

    obs [B, O], action [B, A] -> [N, B, A]. Each member gets its own copy of the actions, so the
    gradient of Σ_i Q_i with respect to copy i is member i's gradient."""
    n = critic.ensemble_size
    a = action.unsqueeze(0).expand(n, *action.shape).clone().requires_grad_(True)
    q = critic(obs.unsqueeze(0).expand(n, *obs.shape), a)                       # [N, B]
    (grads,) = torch.autograd.grad(q.sum(), a, create_graph=True)
    return grads


class EDACAgent:
    """SAC-N's agent with the diversity penalty η · ES added to its critic loss."""

    algo = "edac"
    metric_names = SACNAgent.metric_names + ("diversity",)
    eager_networks = ("critic",)
    """Not compiled by --compile: ES differentiates ∇_a Q again, and torch.compile has no double backward."""

    def __init__(self, cfg: EDACConfig, spaces: Spaces, device: torch.device | str = "cpu",
                 losses: dict | None = None) -> None:
        self.cfg = cfg
        self.losses = named_losses({**sac_n.LOSSES, "diversity": edac_diversity_loss}, losses, "edac")
        self.core = SACNAgent(cfg, spaces, device, {k: self.losses[k] for k in sac_n.LOSSES}, critic_penalty=self._penalty)
        self.device, self.obs_norm = self.core.device, self.core.obs_norm

    def _penalty(self, critic: EnsembleCritic, batch: Batch) -> tuple[torch.Tensor, dict]:
        loss, info = self.losses["diversity"](critic_action_gradients(critic, batch.obs, batch.action))
        return self.cfg.eta * loss, info

    @property
    def num_updates(self) -> int:
        return self.core.num_updates

    def act(self, obs, deterministic: bool = True):
        return self.core.act(obs, deterministic)

    def set_obs_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.core.set_obs_normalization(mean, std)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self.core.update(batch)

    def state_dict(self) -> dict:
        return self.core.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.core.load_state_dict(state)


SPEC = AlgoSpec("edac", EDACConfig, EDACAgent, "EDAC: SAC-N with gradient-diversified critics (offline)", "dataset",
                continuous_actions, sac_n.needs, presets=PRESETS)
