"""SLAC: the truncation probe seen as frames (the critic on the model's latents bootstraps through
the time limit), a smoke run on the 16x16 pixel toy with a reconstruction strip, the actor's memory
of the episode (kept apart from evaluation, reset by new episodes), and resume equality."""
import numpy as np
import pytest
import torch

from keelrl.algos.slac import SLACAgent, SLACConfig

from tests.algos import probes as P

TINY = dict(sequence_length=3, z1_dim=4, z2_dim=8, feature_dim=16, base_depth=4, hidden_sizes=(32, 32),
            batch_size=32, model_batch_size=16, model_pretrain=100, buffer_size=3000, learning_starts=200,
            actor_lr=3e-3, critic_lr=3e-3, alpha_lr=3e-3, model_lr=1e-3, tau=0.05)


def test_probe_truncation_values_from_pixels(tmp_path):
    """Reward 1 every step, truncated after 5 (never terminated): the soft value's fixed point
    Q = (1 + γ α H) / (1 - γ), H = E[-log π] (the same at every step), on the latents of the frames."""
    fast = {**TINY, "batch_size": 16, "model_batch_size": 8, "learning_starts": 100, "model_pretrain": 30, "tau": 0.5}
    agent = P.run_pixels("slac", "ProbeTruncation", fast, 400, tmp_path)
    frames = torch.as_tensor(P.frame(0.0)).float().expand(256, 4, 1, 8, 8)          # [B, T+1, C, H, W]
    actions = torch.rand(256, 3, 1) * 2 - 1
    with torch.no_grad():
        features = agent.model.encode(frames)
        z = agent.model.sample_posterior(features, actions).z[:, -1]
        _, logp, _ = agent.actor(agent.history(features[:, 1:], actions[:, 1:])).rsample()
        q = agent.critic(z, torch.rand(256, 1) * 2 - 1).mean().item()
        alpha, entropy = agent.log_alpha.exp().item(), -logp.mean().item()
    want = (1 + P.GAMMA * alpha * entropy) / (1 - P.GAMMA)
    assert abs(q - want) < P.VALUE_TOL, f"Q = {q:.3f}, expected {want:.3f} (bootstrapping through the time limit)"


def pixel_point_agent(**over):
    import gymnasium as gym

    from keelrl.types import Spaces
    spaces = Spaces(gym.spaces.Box(0, 255, (3, 16, 16), np.uint8), gym.spaces.Box(-1.0, 1.0, (2,), np.float32))
    return SLACAgent(SLACConfig(**{**TINY, **over}), spaces)


def test_the_actor_remembers_its_episode_and_forgets_it_at_a_reset():
    agent = pixel_point_agent()
    first, second = np.full((2, 3, 16, 16), 10, np.uint8), np.full((2, 3, 16, 16), 200, np.uint8)
    agent.act(first)
    agent.act(second)
    assert (agent.frames[:, -1] == 200).all() and (agent.frames[:, -2] == 10).all()
    assert np.abs(agent.actions[:, -1]).sum() > 0 and np.abs(agent.actions[:, -2]).sum() > 0
    agent.start_episodes(np.array([True, False]))
    agent.act(second)
    assert (agent.frames[0] == 200).all() and (agent.actions[0, :-1] == 0).all()   # copy 0: a new history
    assert (agent.frames[1, -3] == 10).all()                                          # copy 1: its episode goes on


def test_evaluation_acts_apart_from_the_training_memory(tmp_path):
    import gymnasium as gym

    from keelrl import RunConfig
    from keelrl.train.logging import RunLogger
    from keelrl.train.skeleton import evaluate_and_log
    agent = pixel_point_agent()
    agent.act(np.full((1, 3, 16, 16), 7, np.uint8))       # one training copy: the evaluation's shape too
    agent.act(np.full((1, 3, 16, 16), 9, np.uint8))
    before = {k: np.copy(v) for k, v in agent.memory().items()}
    assert np.abs(before["actions"][0, -1]).sum() > 0
    run = RunConfig(env="keel/PixelPoint-v0", eval_episodes=1, run_dir=str(tmp_path), progress=False)
    env = gym.make("keel/PixelPoint-v0")
    evaluate_and_log(agent, env, run, 0, RunLogger(tmp_path, []), 0.0)
    for k, v in agent.memory().items():
        assert np.array_equal(v, before[k]), k


def test_a_smoke_run_on_the_pixel_toy_writes_a_reconstruction_strip(tmp_path):
    from keelrl import RunConfig, load_agent, train
    from keelrl.data.sequence_replay import SequenceReplayBuffer
    run = RunConfig(env="keel/PixelPoint-v0", total_steps=120, eval_every=120, eval_episodes=1, log_every=40,
                    checkpoint_every=10 ** 9, run_dir=str(tmp_path / "run"), progress=False, device="cpu")
    agent = load_agent(train("slac", run, SLACConfig(**{**TINY, "learning_starts": 60, "model_pretrain": 20,
                                                        "batch_size": 8, "model_batch_size": 4})))
    assert agent.model_updates == 20 + 60 and agent.num_updates == 60
    buf = SequenceReplayBuffer(200, (3, 16, 16), 2, sequence_length=3)
    rng = np.random.default_rng(0)
    for t in range(10):
        o = rng.integers(0, 255, (1, 3, 16, 16), dtype=np.uint8)
        buf.add(o, rng.uniform(-1, 1, (1, 2)), np.zeros(1), o, np.zeros(1), np.zeros(1))
    strip = agent.reconstructions(buf.sample_sequences(1))
    assert strip.dtype == np.uint8 and strip.shape == (3 * 16, 4 * 16, 3)
    import matplotlib.pyplot as plt
    plt.imsave(tmp_path / "strip.png", strip)
    assert (tmp_path / "strip.png").stat().st_size > 0


def test_resumed_run_equals_uninterrupted(tmp_path):
    from tests.algos.resume import assert_online_resume_equal
    cfg = SLACConfig(**{**TINY, "learning_starts": 30, "model_pretrain": 5, "batch_size": 8, "model_batch_size": 4})
    assert_online_resume_equal("slac", cfg, tmp_path, "keel/PixelPoint-v0", num_envs=2, total=120, stop_at=60)


def test_masked_sac_losses_by_hand():
    from keelrl.algos.slac import masked_actor_loss, masked_critic_loss, masked_temperature_loss
    q, y, valid = torch.tensor([[1.0, 5.0], [3.0, 7.0]]), torch.tensor([[2.0, 0.0]]), torch.tensor([1.0, 0.0])
    loss, info = masked_critic_loss(q, y, valid)
    assert loss.item() == pytest.approx(0.5 * (1.0 + 1.0))          # only sequence 0: ½(1-2)² + ½(3-2)²
    assert info["q_mean"].item() == pytest.approx(2.0)
    loss, info = masked_actor_loss(torch.tensor([1.0, 9.0]), torch.tensor([-2.0, 4.0]), torch.tensor(0.5), valid)
    assert loss.item() == pytest.approx(0.5 * -2.0 - 1.0) and info["entropy"].item() == pytest.approx(2.0)
    loss, _ = masked_temperature_loss(torch.tensor(0.0), torch.tensor([-2.0, 4.0]), -1.0, valid)
    assert loss.item() == pytest.approx(-(1.0 * (-2.0 - 1.0)))


def test_sequences_need_a_warm_up_as_long_as_a_sequence(tmp_path, capsys):
    from keelrl.cli import main
    assert main(["train", "slac", "--env", "keel/PixelPoint-v0", "--learning-starts", "4", "--sequence-length", "8",
                 "--run-dir", str(tmp_path / "r")]) == 1
    assert "--learning-starts must be at least 8" in capsys.readouterr().err
