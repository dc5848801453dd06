"""A SAC variant written outside keelrl: its critics regress on the soft target with a Huber loss.
    keel --import sac_huber train sac_huber --env Pendulum-v1 ...   (docs/extending.md)"""
import dataclasses
import functools

import torch.nn.functional as F

import keelrl
from keelrl.algos import sac


def huber_critic_loss(q, target):
    """Σ_i E_B[ Huber_δ=1(Q_i(s, a) - y_i) ] in place of SAC's ½ (Q_i - y_i)². q [N, B], target [N' ∈ {1, N}, B]."""
    loss = F.huber_loss(q, target.expand_as(q), reduction="none").mean(1).sum()
    return loss, {"loss_q": loss.detach(), "q_mean": q.detach().mean()}


keelrl.register_algo(dataclasses.replace(sac.SPEC, name="sac_huber", summary="SAC with a Huber critic loss",
                                         agent=functools.partial(sac.SACAgent, losses={"critic": huber_critic_loss})))
