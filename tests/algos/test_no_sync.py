"""Learner speed: no algorithm's `update` waits on the device (metrics stay tensors until logged),
and no backward pass computes a gradient for parameters its optimizer step does not update.

On a CPU there is no device to wait on, so `no_host_sync` makes every way of reading a tensor's
value on the host fail instead: `.item()`, `.cpu()`, `.tolist()`, `.numpy()`, `float(t)`,
`int(t)`, `bool(t)` (so `if t:`), `operator.index(t)`, and, below Python, the ops that read a
value to size their output (`nonzero`, boolean-mask indexing, `masked_select`, `unique`, ...).
"""
from __future__ import annotations

import contextlib

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from keelrl.algos import ALGOS
from keelrl.speed.bench import learner_setup
from keelrl.speed.compiled import agent_parts

aten = torch.ops.aten
SYNC_OPS = {aten._local_scalar_dense, aten.is_nonzero, aten.nonzero, aten.nonzero_static, aten.masked_select,
            aten.equal, aten._unique2, aten.unique_consecutive, aten.unique_dim, aten.repeat_interleave}
SYNC_METHODS = ("item", "cpu", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__")


class HostSync(AssertionError):
    pass


class _SyncOps(TorchDispatchMode):
    """Fails on ops whose result needs a tensor's value on the host (a device sync on a GPU)."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func.overloadpacket in SYNC_OPS:
            raise HostSync(f"{func} reads a tensor's value on the host")
        if func.overloadpacket in (aten.index, aten.index_put, aten.index_put_) and any(
                isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in args[1]):
            raise HostSync(f"{func} with a boolean mask sizes its result on the host")
        return func(*args, **kwargs)


@contextlib.contextmanager
def no_host_sync():
    """Inside, any read of a tensor's value on the host raises HostSync."""
    saved = {name: getattr(torch.Tensor, name) for name in SYNC_METHODS}

    def refuse(name):
        def method(self, *args, **kwargs):
            raise HostSync(f"Tensor.{name} reads a tensor's value on the host")
        return method
    try:
        for name in SYNC_METHODS:
            setattr(torch.Tensor, name, refuse(name))
        with _SyncOps():
            yield
    finally:
        for name, method in saved.items():
            setattr(torch.Tensor, name, method)


def tiny_setup(algo: str):
    from dataclasses import fields
    overrides = {f.name: (8, 8) for f in fields(ALGOS[algo].config) if f.name.endswith("hidden_sizes")}  # P-DQN: two
    if ALGOS[algo].trains_from == "rollouts":   # 16 steps in minibatches of 8 (batch_size), 2 epochs: 4 steps
        overrides.update(rollout_steps=16, epochs=2)
    return learner_setup(algo, batch_size=8, overrides=overrides, fill=64, rollout_steps=16)


READS = {
    "item": lambda t: t.sum().item(), "float": lambda t: float(t.sum()), "int": lambda t: int(t.sum()),
    "if": lambda t: 1 if t.sum() > 0 else 0, "tolist": lambda t: t.tolist(), "cpu": lambda t: t.cpu(),
    "numpy": lambda t: t.numpy(), "print": lambda t: f"{t}", "index": lambda t: [0, 1][t[0].long()],
    "nonzero": lambda t: t.nonzero(), "bool_mask": lambda t: t[t > 0],
    "masked_select": lambda t: t.masked_select(t > 0), "unique": lambda t: t.unique(),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_the_guard_catches_each_way_of_reading_a_value(name):
    t = torch.tensor([1.0, 0.0, 2.0])
    with no_host_sync(), pytest.raises(HostSync):
        READS[name](t)
    assert float(t.sum()) == 3.0  # the methods are restored afterwards


@pytest.mark.parametrize("algo", sorted(ALGOS))
def test_sampling_and_update_never_read_a_tensor_on_the_host(algo):
    setup = tiny_setup(algo)
    setup.update()  # lazily built state (optimizer moments) is made outside the guard like inside it
    for _ in range(4):  # several updates: TD3's delayed actor step, target periods
        with no_host_sync():
            metrics = setup.update()  # drawing the batch from the buffer or dataset, then agent.update
        assert metrics and all(isinstance(v, torch.Tensor) for v in metrics.values()), algo
    assert set(metrics) >= set(setup.agent.metric_names)


class GradientLedger:
    """Records, for every backward pass, which trainable tensors of the agent received a gradient,
    and at each optimizer step checks that they all belong to that optimizer."""

    def __init__(self, agent) -> None:
        self.optimizers = agent_parts(agent, torch.optim.Optimizer)
        self.names = {}
        for opt_name, opt in self.optimizers.items():
            for i, p in enumerate(q for g in opt.param_groups for q in g["params"]):
                self.names[p] = f"{opt_name}[{i}]"
                p.register_post_accumulate_grad_hook(self._received)
        for mod_name, module in agent_parts(agent, torch.nn.Module).items():
            for p_name, p in module.named_parameters():
                if p not in self.names:  # trainable but in no optimizer: it must never get a gradient
                    self.names[p] = f"{mod_name}.{p_name}"
                    if p.requires_grad:
                        p.register_post_accumulate_grad_hook(self._received)
        self.pending: set = set()
        self.violations: list[str] = []
        self.steps = 0
        for opt_name, opt in self.optimizers.items():
            opt.register_step_pre_hook(self._stepping(opt_name))

    def _received(self, p) -> None:
        self.pending.add(p)

    def _stepping(self, opt_name):
        def hook(opt, args, kwargs):
            own = {p for g in opt.param_groups for p in g["params"]}
            extra = sorted(self.names[p] for p in self.pending - own)
            if extra:
                self.violations.append(f"before {opt_name}.step(), gradients were computed for {extra}")
            self.pending.clear()
            self.steps += 1
        return hook


@pytest.mark.parametrize("algo", sorted(ALGOS))
def test_no_gradient_for_parameters_a_step_does_not_update(algo):
    """E.g. the critics' weights get no gradient from the actor's loss, and targets none at all."""
    setup = tiny_setup(algo)
    ledger = GradientLedger(setup.agent)
    for _ in range(4):
        setup.update()
    assert ledger.steps > 0 and not ledger.pending
    assert not ledger.violations, "\n".join(ledger.violations)


def test_ledger_notices_a_gradient_for_frozen_critics():
    """The ledger can fail: an actor loss that back-propagates into the critics' weights is caught."""
    setup = tiny_setup("td3")
    ledger = GradientLedger(setup.agent)
    ac = setup.agent.ac
    batch = setup.sample()
    loss = -ac.critic.member(0, batch.obs, ac.actor(batch.obs)).mean()   # critics not frozen
    ac.actor_opt.zero_grad(set_to_none=True)
    loss.backward()
    ac.actor_opt.step()
    assert ledger.violations and "ac.critic_opt" in ledger.violations[0]
