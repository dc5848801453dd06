"""Episodes for offline datasets: collect_episodes records exactly the transitions the vector env
produced, cut where each copy's episodes ended; episodes_from_transitions recovers the episodes of
a replay buffer; concatenate_episodes renumbers."""
import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from minari.data_collector.episode_buffer import EpisodeBuffer

from keelrl.data.collection import collect_episodes, concatenate_episodes, episodes_from_transitions


class Recording:
    """A real SyncVectorEnv that keeps what it returned (the reference the test compares against)."""

    def __init__(self, envs):
        self.envs, self.num_envs, self.log = envs, envs.num_envs, []

    def reset(self, **kw):
        obs, info = self.envs.reset(**kw)
        self.first_obs = obs.copy()
        return obs, info

    def step(self, action):
        next_obs, reward, term, trunc, info = self.envs.step(action)
        final = info.get("final_obs")
        self.log.append((action.copy(), reward.copy(), term.copy(), trunc.copy(), next_obs.copy(),
                         None if final is None else [None if f is None else np.array(f) for f in final]))
        return next_obs, reward, term, trunc, info


def _time_limited(num_envs, max_steps=20):
    return SyncVectorEnv([lambda: gym.make("InvertedPendulum-v5", max_episode_steps=max_steps)] * num_envs,
                         autoreset_mode=AutoresetMode.SAME_STEP)


def _reference(rec, steps):
    """The episodes rec's log holds, copy by copy, cut at each end: [(end order key, obs, act, rew, term, trunc)]."""
    n, out = rec.num_envs, []
    for i in range(n):
        obs, act, rew = [rec.first_obs[i]], [], []
        for k, (a, r, te, tr, nxt, final) in enumerate(rec.log):
            if k * n + i >= steps:                         # past the budget: not recorded
                break
            act.append(a[i])
            rew.append(r[i])
            if te[i] or tr[i]:
                obs.append(final[i])
                out.append(((k, i), obs, act, rew, bool(te[i]), not te[i]))
                obs, act, rew = [nxt[i]], [], []
            else:
                obs.append(nxt[i])
        if act:                                            # still running when the budget ran out
            out.append(((len(rec.log), i), obs, act, rew, False, True))
    return sorted(out, key=lambda e: e[0])


@pytest.mark.parametrize("steps", [100, 101])
def test_collect_episodes_records_exactly_steps_transitions_with_correct_ends(steps):
    rng = np.random.default_rng(0)
    rec = Recording(_time_limited(3))

    def policy(obs):  # copy 0 nearly still (reaches the 20-step limit), copies 1, 2 random (fall: terminations)
        a = rng.uniform(-1.0, 1.0, (3, 1)).astype(np.float32)
        a[0] *= 0.01
        return a

    episodes = collect_episodes(rec, policy, steps, seed=7)
    rec.envs.close()
    assert sum(len(e.rewards) for e in episodes) == steps                # 100 and 101 are not multiples of 3
    assert len(rec.log) == -(-steps // 3)                                # no vector step more than needed
    kinds = {"terminated": 0, "truncated": 0}
    for j, e in enumerate(episodes):
        t = len(e.rewards)
        assert e.id == j and e.observations.shape == (t + 1, 4) and e.actions.shape == (t, 1)
        assert e.terminations.shape == e.truncations.shape == (t,)
        ends = e.terminations | e.truncations
        assert ends.sum() == 1 and ends[-1], f"episode {j}: exactly one end flag, at its last step"
        assert not (e.terminations[-1] and e.truncations[-1])
        kinds["terminated" if e.terminations[-1] else "truncated"] += 1
    assert kinds["terminated"] > 0 and kinds["truncated"] > 0
    assert any(len(e.rewards) == 20 and e.truncations[-1] for e in episodes)   # the time limit

    reference = _reference(rec, steps)
    assert len(episodes) == len(reference)
    for e, (_, obs, act, rew, term, trunc) in zip(episodes, reference):
        # a finished episode's last observation is info["final_obs"], not the reset observation
        np.testing.assert_array_equal(e.observations, np.array(obs))
        np.testing.assert_array_equal(e.actions, np.array(act))
        np.testing.assert_allclose(e.rewards, rew)
        assert (bool(e.terminations[-1]), bool(e.truncations[-1])) == (term, trunc)
    # the first episode of copy i is seeded with seed + i
    assert sorted(e.seed for e in episodes if e.seed is not None) == [7, 8, 9]


def test_time_limit_final_observation_is_the_info_final_obs():
    rec = Recording(SyncVectorEnv([lambda: gym.make("Pendulum-v1", max_episode_steps=20)],
                                  autoreset_mode=AutoresetMode.SAME_STEP))
    rng = np.random.default_rng(1)
    episodes = collect_episodes(rec, lambda o: rng.uniform(-2, 2, (1, 1)).astype(np.float32), 50, seed=0)
    assert [len(e.rewards) for e in episodes] == [20, 20, 10]
    assert all(e.truncations[-1] and not e.terminations.any() for e in episodes)
    for e, k in zip(episodes[:2], (19, 39)):
        final = rec.log[k][5][0]
        np.testing.assert_array_equal(e.observations[-1], final)
        assert not np.array_equal(final, rec.log[k][4][0])                  # the reset observation differs
    np.testing.assert_array_equal(episodes[1].observations[0], rec.log[19][4][0])   # the next episode starts there
    np.testing.assert_array_equal(episodes[2].observations[-1], rec.log[49][4][0])  # budget end: last next_obs


# --------------------------------------------------------------------------- replay buffer -> episodes

def _episode(rng, t, terminated, first_obs=None):
    obs = rng.standard_normal((t + 1, 2)).astype(np.float32)
    if first_obs is not None:
        obs[0] = first_obs
    term, trunc = np.zeros(t, bool), np.zeros(t, bool)
    (term if terminated else trunc)[-1] = True
    return EpisodeBuffer(id=0, seed=None, observations=obs, actions=rng.uniform(-1, 1, (t, 1)).astype(np.float32),
                         rewards=rng.standard_normal(t), terminations=term, truncations=trunc)


def _known_episodes():
    """copy 0: A terminates (3 steps), B hits a time limit (2), C is cut by the end of the buffer (1);
    copy 1: D terminates (2), then E (4, terminates) happens to restart from D's last observation."""
    rng = np.random.default_rng(3)
    a, b, c, d = _episode(rng, 3, True), _episode(rng, 2, False), _episode(rng, 1, False), _episode(rng, 2, True)
    e = _episode(rng, 4, True, first_obs=d.observations[-1])
    return [a, b, c], [d, e]


def _transitions(episodes):
    cat = lambda f: np.concatenate([f(e) for e in episodes])  # noqa: E731
    return (cat(lambda e: e.observations[:-1]), cat(lambda e: e.actions), cat(lambda e: e.rewards),
            cat(lambda e: e.observations[1:]), cat(lambda e: e.terminations.astype(np.float32)))


def _assert_same_episodes(got, expected):
    assert len(got) == len(expected)
    for j, (g, e) in enumerate(zip(got, expected)):
        assert g.id == j
        np.testing.assert_array_equal(g.observations, e.observations)
        np.testing.assert_array_equal(g.actions, e.actions)
        np.testing.assert_array_equal(g.rewards, e.rewards)
        np.testing.assert_array_equal(g.terminations, e.terminations)
        np.testing.assert_array_equal(g.truncations, e.truncations)


def test_episodes_from_transitions_one_env():
    copy0, copy1 = _known_episodes()
    episodes = [*copy0, *copy1]
    got = episodes_from_transitions(*_transitions(episodes), num_envs=1)
    _assert_same_episodes(got, episodes)


def test_episodes_from_transitions_two_envs_interleaved():
    copy0, copy1 = _known_episodes()
    t0, t1 = _transitions(copy0), _transitions(copy1)
    assert len(t0[0]) == len(t1[0]) == 6
    # the online loop inserts copy 0's and copy 1's transition of each step in turn: rows 0, 2, 4... are copy 0's
    interleaved = [np.stack([x, y], 1).reshape(-1, *x.shape[1:]) for x, y in zip(t0, t1)]
    np.testing.assert_array_equal(interleaved[0][1], copy1[0].observations[0])
    got = episodes_from_transitions(*interleaved, num_envs=2)
    _assert_same_episodes(got, [*copy0, *copy1])


def test_concatenate_episodes_renumbers_and_keeps_data():
    copy0, copy1 = _known_episodes()
    copy1 = [dataclasses.replace(e, id=10 + j, seed=99) for j, e in enumerate(copy1)]
    out = concatenate_episodes(copy0, copy1)
    _assert_same_episodes(out, [*copy0, *copy1])
    assert [e.seed for e in out] == [None] * 5
    assert concatenate_episodes() == []
