import os

import pytest
import torch

os.environ.setdefault("MUJOCO_GL", "egl")


@pytest.fixture(autouse=True)
def _one_thread():
    """Tests are small: one thread is faster and makes float results reproducible."""
    torch.set_num_threads(1)
    yield
