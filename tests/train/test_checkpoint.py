"""Agent files and checkpoints: round trips, atomic writes."""
import numpy as np
import pytest
import torch

from keelrl.algos.sac import SACAgent, SACConfig
from keelrl.data.replay import ReplayBuffer
from keelrl.types import Spaces
from keelrl.state_file import Unstorable
from keelrl.train.checkpoint import load_agent, read_checkpoint, save_agent, write_checkpoint


def test_save_load_agent_round_trip(tmp_path):
    torch.manual_seed(0)
    agent = SACAgent(SACConfig(hidden_sizes=(8, 8), num_critics=3, backup="redq"),
                     Spaces.box(3, np.array([-2.0, 0.0]), np.array([2.0, 1.0])))
    buf = ReplayBuffer(100, 3, 2)
    buf.add(np.random.randn(64, 3), np.random.uniform(-1, 1, (64, 2)), np.random.randn(64), np.random.randn(64, 3), np.zeros(64))
    agent.update(buf.sample(16))
    save_agent(agent, tmp_path / "a.pt")
    loaded = load_agent(tmp_path / "a.pt")
    obs = np.random.randn(5, 3)
    np.testing.assert_array_equal(agent.act(obs, deterministic=True), loaded.act(obs, deterministic=True))
    assert loaded.cfg == agent.cfg and loaded.num_updates == 1
    a = loaded.act(obs, deterministic=True)
    assert (a[:, 0] >= -2).all() and (a[:, 0] <= 2).all() and (a[:, 1] >= 0).all() and (a[:, 1] <= 1).all()
    # optimizer state came along: the next update is identical
    torch.manual_seed(1)
    b = buf.sample(16)
    torch.manual_seed(2)
    i1 = agent.update(b)
    torch.manual_seed(2)
    i2 = loaded.update(b)
    assert i1["loss_q"] == i2["loss_q"] and i1["loss_pi"] == i2["loss_pi"]


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "c.pt"
    write_checkpoint({"keelrl": "agent", "algo": "sac", "agent": {"v": 1}}, path)
    with pytest.raises(Unstorable, match=r"state.x is a builtins.function"):
        write_checkpoint({"keelrl": "agent", "algo": "sac", "agent": {}, "x": lambda: None}, path)   # no code in a file
    assert read_checkpoint(path)["agent"] == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]              # no temporary file left behind
