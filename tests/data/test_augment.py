"""Random crops and shifts: each image cut at its own corner, reproducible from the generator."""
import pytest
import torch
import torch.nn.functional as F

from keelrl.data.augment import center_crop, random_crop, random_shift


def images(b=6, c=2, h=10, w=10):
    return torch.arange(b * c * h * w, dtype=torch.float32).reshape(b, c, h, w)


def test_random_crop_is_a_window_of_each_image_at_its_own_corner():
    x = images()
    out = random_crop(x, 7, torch.Generator().manual_seed(0))
    assert out.shape == (6, 2, 7, 7)
    corners = set()
    for b in range(6):
        found = [(i, j) for i in range(4) for j in range(4) if torch.equal(out[b], x[b, :, i:i + 7, j:j + 7])]
        assert len(found) == 1
        corners.add(found[0])
    assert len(corners) > 1                         # not one corner for the whole batch


def test_random_shift_pads_with_the_border_and_keeps_the_shape():
    x = images(b=64)
    g = torch.Generator().manual_seed(1)
    out = random_shift(x, pad=2, generator=g)
    assert out.shape == x.shape
    padded = F.pad(x, (2, 2, 2, 2), mode="replicate")
    shifts = set()
    for b in range(64):
        found = [(i, j) for i in range(5) for j in range(5) if torch.equal(out[b], padded[b, :, i:i + 10, j:j + 10])]
        assert found
        shifts.add(found[0])
    assert len(shifts) > 10
    assert torch.equal(random_shift(x, 2, torch.Generator().manual_seed(1)), out)   # reproducible
    u8 = random_shift(torch.randint(0, 255, (3, 3, 8, 8), dtype=torch.uint8), 1)
    assert u8.dtype == torch.float32


def test_center_crop_and_bad_sizes():
    x = images()
    assert torch.equal(center_crop(x, 6), x[..., 2:8, 2:8])
    with pytest.raises(ValueError, match="does not fit"):
        random_crop(x, 11)
    with pytest.raises(ValueError, match="square"):
        random_shift(images(h=8, w=10))
