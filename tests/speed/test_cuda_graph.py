"""--cuda-graphs: a replayed update equals the eager one (CUDA only: skipped without a GPU), the
branch key picks the right graph, and what cannot be captured is refused in one line."""
from __future__ import annotations

import pytest
import torch

from keelrl.algos import ALGOS
from keelrl.cli import main
from keelrl.errors import KeelError
from keelrl.speed.bench import learner_setup
from keelrl.speed.compiled import agent_parts
from keelrl.train.config import OfflineRunConfig, RunConfig
from keelrl.speed.cuda_graph import GraphedUpdate, branch_key, check_cuda_graphs

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
CASES = [("sac", {"target_update_period": 3}), ("td3", {}), ("td3_bc", {"policy_delay": 3}),
         ("dqn", {"target_update_period": 3}), ("ddpg", {}), ("cql", {}), ("iql", {"lr_decay_steps": 0})]


def tiny_setup(algo: str, overrides: dict, device="cpu"):
    return learner_setup(algo, device, batch_size=8, overrides={"hidden_sizes": (8, 8), **overrides}, fill=64)


@pytest.mark.parametrize("algo, overrides", CASES, ids=[c[0] for c in CASES])
def test_branch_key_decides_what_an_update_changes(algo, overrides):
    """Updates with the same key change the same networks, updates with different keys different ones:
    one graph per key replays the right branch."""
    setup = tiny_setup(algo, overrides)
    nets = agent_parts(setup.agent, torch.nn.Module)
    branches: dict[tuple, set] = {}
    for _ in range(7):
        key = branch_key(setup.agent, ALGOS[algo].branches(setup.agent.cfg).periods)
        before = {name: [p.detach().clone() for p in net.parameters()] for name, net in nets.items()}
        setup.update()
        changed = frozenset(name for name, net in nets.items()
                            if any(not torch.equal(a, b) for a, b in zip(before[name], net.parameters())))
        branches.setdefault(key, set()).add(changed)
    assert all(len(changes) == 1 for changes in branches.values()), branches
    assert len({next(iter(c)) for c in branches.values()}) == len(branches), branches
    periodic = any(p > 1 for p in ALGOS[algo].branches(setup.agent.cfg).periods)
    assert len(branches) == (2 if periodic else 1)


@pytest.mark.parametrize("algo, cfg, device, message", [
    ("sac", ALGOS["sac"].config(), "cpu", "--cuda-graphs needs a CUDA device"),
    ("ppo", ALGOS["ppo"].config(), "cuda", "train ppo without --cuda-graphs"),
    ("iql", ALGOS["iql"].config(), "cuda", "add --lr-decay-steps 0"),
])
def test_what_cannot_be_captured_is_refused(algo, cfg, device, message):
    with pytest.raises(KeelError, match=message):
        check_cuda_graphs(ALGOS[algo], cfg, torch.device(device))
    check_cuda_graphs(ALGOS["iql"], ALGOS["iql"].config(lr_decay_steps=0), torch.device("cuda"))  # allowed


def test_run_configs_refuse_cuda_graphs_on_cpu_and_with_compile():
    for cls, kw in ((RunConfig, {}), (OfflineRunConfig, {"dataset": "keel/x/y-v0"})):
        with pytest.raises(KeelError, match="cuda_graphs needs a CUDA device"):
            cls(device="cpu", cuda_graphs=True, **kw)
        with pytest.raises(KeelError, match="cannot be combined"):
            cls(device="cuda", cuda_graphs=True, compile=True, **kw)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cli_refuses_cuda_graphs_without_a_gpu_before_making_a_folder(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "sac", "--env", "Pendulum-v1", "--cuda-graphs", "--run-dir", str(run_dir)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--cuda-graphs needs a CUDA device" in err
    assert not run_dir.exists()


@needs_cuda
@pytest.mark.parametrize("algo, overrides", CASES, ids=[c[0] for c in CASES])
def test_graph_replay_matches_eager(algo, overrides):
    """Identical agents and batches: each update's metrics and the final weights and optimizer
    moments agree, through warm-up, the capture of each branch and its replays."""
    eager, graphed = tiny_setup(algo, overrides, "cuda"), tiny_setup(algo, overrides, "cuda")
    update = GraphedUpdate(graphed.agent, warmup=2)
    for i in range(9):
        batch_e, batch_g = eager.sample(), graphed.sample()
        torch.manual_seed(i)
        m_eager = eager.learn(batch_e)
        torch.manual_seed(i)
        m_graph = update(batch_g)
        assert m_graph.keys() == m_eager.keys()
        for k in m_eager:
            torch.testing.assert_close(m_graph[k], m_eager[k], rtol=1e-4, atol=1e-5, msg=f"{algo} update {i}: {k}")
    assert len(update.graphs) == (2 if branch_key(eager.agent) else 1)
    assert graphed.agent.num_updates == eager.agent.num_updates == 9
    for name, net in agent_parts(eager.agent, torch.nn.Module).items():
        other = agent_parts(graphed.agent, torch.nn.Module)[name]
        for (k, a), b in zip(net.state_dict().items(), other.state_dict().values()):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=f"{name}.{k}")
