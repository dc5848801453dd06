"""Space checks are the specs' (envs/spaces.py), and the algorithms they suggest instead come from the
registry: an algorithm registered by a user is suggested too."""
import dataclasses

import gymnasium as gym
import numpy as np
import pytest

from keelrl.algos import ALGOS, check_spaces, get_algo, register_algo
from keelrl.envs.spaces import box_or_discrete_actions, continuous_actions, discrete_actions
from keelrl.errors import KeelError
from keelrl.types import Spaces

OBS = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
BOX = Spaces(OBS, gym.spaces.Box(-1, 1, (2,), np.float32))
DISCRETE = Spaces(OBS, gym.spaces.Discrete(4))
IMAGE = Spaces(gym.spaces.Box(0, 255, (3, 8, 8), np.uint8), gym.spaces.Discrete(4))


def test_checks_accept_what_they_name():
    assert continuous_actions(BOX, "x") is None and discrete_actions(DISCRETE, "x") is None
    assert box_or_discrete_actions(BOX, "x") is None and box_or_discrete_actions(DISCRETE, "x") is None
    assert "continuous (Box) actions" in continuous_actions(DISCRETE, "x")
    assert "discrete actions" in discrete_actions(BOX, "x")
    assert "flat Box observations" in discrete_actions(IMAGE, "x")
    unbounded = Spaces(OBS, gym.spaces.Box(-np.inf, np.inf, (2,), np.float32))
    assert "finite bounds" in continuous_actions(unbounded, "x")


def test_suggestions_come_from_the_registry():
    with pytest.raises(KeelError) as e:
        check_spaces(get_algo("sac"), DISCRETE, "Grid-v0")
    assert str(e.value) == "SAC needs continuous (Box) actions, but Grid-v0 has Discrete(4); for discrete actions use DQN or PPO"
    with pytest.raises(KeelError) as e:
        check_spaces(get_algo("iql"), DISCRETE, "dataset d")
    assert str(e.value).endswith("for discrete actions use DQN or PPO (online)")
    with pytest.raises(KeelError) as e:
        check_spaces(get_algo("dqn"), IMAGE, "Pixels-v0")
    assert "flat Box observations" in str(e.value) and "use" not in str(e.value).split(";")[-1]


def test_a_registered_algorithm_is_suggested_too():
    spec = dataclasses.replace(get_algo("dqn"), name="my_dqn")
    try:
        register_algo(spec)
        with pytest.raises(KeelError, match="use DQN, PPO or MY_DQN"):
            check_spaces(get_algo("sac"), DISCRETE, "Grid-v0")
        with pytest.raises(KeelError, match="registered already"):
            register_algo(dataclasses.replace(spec))
    finally:
        ALGOS.pop("my_dqn", None)
