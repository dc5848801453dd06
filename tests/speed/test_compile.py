"""--compile: compiled networks give the eager updates (within float tolerance), and checkpoints of a
compiled run load without compile.

Compiling takes seconds per network variant, so only DQN (two small graphs) runs by default; the
other algorithms are marked slow (KEEL_SLOW=1 runs them).
"""
from __future__ import annotations

import pytest
import torch
import torch._dynamo
from torch._dynamo.utils import counters

from keelrl.algos import ALGOS, DQNConfig
from keelrl.speed.bench import learner_setup
from keelrl.train.checkpoint import load_agent
from keelrl.speed.compiled import agent_parts, compile_networks
from keelrl.train.config import RunConfig
from keelrl.train.dispatch import train

UPDATES = 5   # covers TD3's delayed actor step (every 2nd) and the first target updates
SLOW = sorted(set(ALGOS) - {"dqn"})


def tiny_setup(algo: str):
    overrides = {"hidden_sizes": (8, 8)}
    if ALGOS[algo].trains_from == "rollouts":
        overrides.update(num_minibatches=2, epochs=2)
    if algo == "dqn":
        overrides.update(target_update_period=2)
    return learner_setup(algo, batch_size=8, overrides=overrides, fill=64, rollout_steps=16)


def learned_state(agent) -> dict[str, torch.Tensor]:
    """Every network's tensors (by network and key) and every optimizer's moment estimates."""
    state = {f"{name}/{k}": v for name, net in agent_parts(agent, torch.nn.Module).items()
             for k, v in net.state_dict().items()}
    for name, opt in agent_parts(agent, torch.optim.Optimizer).items():
        for i, s in enumerate(opt.state.values()):
            state.update({f"{name}/{i}/{k}": v for k, v in s.items() if isinstance(v, torch.Tensor)})
    return state


@pytest.mark.parametrize("algo", ["dqn", *(pytest.param(a, marks=pytest.mark.slow) for a in SLOW)])
def test_compiled_updates_match_eager(algo):
    torch._dynamo.reset()  # compile afresh: another test's cached graphs would hide this one's
    counters.clear()
    eager, compiled = tiny_setup(algo), tiny_setup(algo)
    assert compile_networks(compiled.agent)
    for i in range(UPDATES):
        torch.manual_seed(i)
        m_eager = eager.update()
        torch.manual_seed(i)
        m_compiled = compiled.update()
        for k in m_eager:
            torch.testing.assert_close(m_compiled[k], m_eager[k], rtol=1e-4, atol=1e-5, msg=f"{algo} update {i}: {k}")
    assert counters["stats"]["unique_graphs"] > 0, "no compiled graph ran"
    a, b = learned_state(eager.agent), learned_state(compiled.agent)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5, msg=k)


def test_compiled_run_checkpoint_loads_without_compile(tmp_path):
    """A compiled training run's checkpoint has plain state_dict keys (no `_orig_mod.`) and loads
    into an agent that is not compiled."""
    torch._dynamo.reset()
    run = RunConfig(env="CartPole-v1", total_steps=160, eval_every=0, eval_episodes=1, checkpoint_every=1000,
                    run_dir=str(tmp_path / "run"), progress=False, device="cpu", compile=True)
    cfg = DQNConfig(hidden_sizes=(8, 8), batch_size=8, learning_starts=100, updates_per_step=1.0, update_every=1,
                    target_update_period=10)
    run_dir = train("dqn", run, cfg)
    agent = load_agent(run_dir)
    assert agent.q.forward.__func__ is type(agent.q).forward   # an eager network
    keys = [k for net in (agent.q, agent.q_target) for k in net.state_dict()]
    assert keys and not any("_orig_mod" in k for k in keys)
    assert agent.num_updates == 60
