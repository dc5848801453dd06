"""CURL: the action probes seen as frames; the bilinear logits and InfoNCE by hand; the contrastive
step trains the encoder and W, the key (target) encoder only by averaging; resume equality."""
import pytest
import torch

from keelrl.algos.curl_sac import CURLSACAgent, CURLSACConfig, curl_logits
from keelrl.functional import info_nce_loss

from tests.algos import probes as P
from tests.algos.test_pixel_sac import TINY, batch, pixel_spaces


@pytest.mark.parametrize("probe", P.ACTION_PROBES)
def test_probe_actions_from_pixels(probe, tmp_path):
    P.check_pixel_actions(P.run_pixels("curl_sac", probe, TINY, 400, tmp_path), probe)


def test_curl_logits_by_hand():
    q, k = torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    w = torch.tensor([[1.0, 2.0], [0.0, 1.0]])
    raw = torch.tensor([[3.0, 2.0], [2.0, 2.0]])        # q_i W k_j
    torch.testing.assert_close(curl_logits(q, k, w), raw - raw.max(1, keepdim=True).values)
    torch.testing.assert_close(info_nce_loss(curl_logits(q, k, w))[0], info_nce_loss(raw)[0])  # the shift changes nothing


def test_the_contrastive_step_trains_the_encoder_and_w_not_the_key_encoder():
    agent = CURLSACAgent(CURLSACConfig(**TINY), pixel_spaces())
    enc = [p.detach().clone() for p in agent.sac.encoder.parameters()]
    key = [p.detach().clone() for p in agent.sac.encoder_target.parameters()]
    w = agent.w.detach().clone()
    info = agent.contrastive_step(batch().obs)
    assert {"loss_contrastive", "contrastive_accuracy"} <= info.keys()
    assert any(not torch.equal(x, p) for x, p in zip(enc, agent.sac.encoder.parameters()))
    assert all(torch.equal(x, p) for x, p in zip(key, agent.sac.encoder_target.parameters()))
    assert not torch.equal(w, agent.w)


def test_resumed_run_equals_uninterrupted(tmp_path):
    from tests.algos.resume import assert_online_resume_equal
    cfg = CURLSACConfig(**{**TINY, "learning_starts": 30, "batch_size": 8})
    assert_online_resume_equal("curl_sac", cfg, tmp_path, "keel/PixelPoint-v0", num_envs=2, total=120, stop_at=60)
