"""Replay of episodes slot by slot, for pixels and sequences: every frame is stored once, as the
environment gave it (uint8 for pixels), and the transitions, frame stacks and sequences sampled
from the buffer are gathered from those slots on the training device.

Layout. Each of the N environment copies writes its own circular stream of S = capacity // N slots.
A slot holds one frame (uint8 [C, H, W] for pixels, float32 [O] otherwise) and, when a step was
taken from it, that step's action, reward and termination. An episode of L steps takes L + 1 slots,
its observations o_0 .. o_L (no step is taken from the final one, o_L), after k - 1 slots holding
the older frames of o_0's k-frame stack (k = frame_stack; none when k = 1):

    slot      p    ...  p+k-2 | p+k-1  p+k   ...  p+k-1+L
    frame     o_0's older frames | o_0   o_1   ...  o_L
    step                       | a_0   a_1   ...   -

so the stack of the observation in slot j is the frames of slots j-k+1 .. j, and its next
observation is slot j+1: a frame is shared by the k stacks and the sequences that contain it.

Transitions are the slots a step was taken from; a sequence of T steps may start at such a slot
once its T steps are stored or its episode has ended (the steps after the episode's last are then
masked, so a sequence never runs across a reset unmasked). Writing a slot withdraws the slots whose
stacks read it. Sampling is uniform over the transitions (or the sequence starts) with replacement,
by `torch.multinomial` over a 0/1 weight per slot, with no host synchronization.
"""
from __future__ import annotations

import numpy as np
import torch

from keelrl.data.replay import check_fits
from keelrl.device import human_bytes
from keelrl.errors import KeelError
from keelrl.types import Batch, SequenceBatch


class SequenceReplayBuffer:
    """Steps of `num_envs` environment copies; `sample` gives transitions (`Batch`),
    `sample_sequences` sequences of `sequence_length` steps (`SequenceBatch`).

    obs_shape is one observation's shape as the environment gives it: [k·C, H, W] for a k-frame
    stack of C-channel frames (channels of the oldest frame first), [O] for flat observations
    (frame_stack 1). Observations are returned as float32 with their stored values (0..255 for
    uint8 pixels): a pixel encoder scales them itself.
    """

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], act_dim: int, num_envs: int = 1,
                 device: torch.device | str = "cpu", seed: int = 0, sequence_length: int = 1,
                 frame_stack: int = 1, obs_dtype: torch.dtype = torch.uint8) -> None:
        obs_shape = tuple(int(d) for d in obs_shape)
        if frame_stack < 1 or obs_shape[0] % frame_stack:
            raise KeelError(f"frame_stack must be >= 1 and divide the observation's first dimension "
                             f"{obs_shape[0]}; got {frame_stack}")
        if sequence_length < 1:
            raise KeelError(f"sequence_length must be >= 1, got {sequence_length}")
        slots = capacity // max(num_envs, 1)
        if num_envs < 1 or slots < sequence_length + frame_stack + 1:
            raise KeelError(f"a replay of {capacity} slots over {num_envs} environment copies leaves {slots} per copy; "
                             f"sequences of {sequence_length} steps with {frame_stack}-frame stacks need at least "
                             f"{sequence_length + frame_stack + 1}")
        self.num_envs, self.slots, self.capacity = num_envs, slots, slots * num_envs
        self.frame_stack, self.sequence_length, self.act_dim = frame_stack, sequence_length, act_dim
        self.obs_shape = obs_shape
        self.frame_shape = (obs_shape[0] // frame_stack, *obs_shape[1:])
        self.device = d = torch.device(device)
        frame_bytes = int(np.prod(self.frame_shape)) * torch.empty((), dtype=obs_dtype).element_size()
        self.frame_bytes = self.capacity * frame_bytes
        need = self.nbytes()
        check_fits(need, d, f"a replay of {self.capacity:,} frames {'x'.join(map(str, self.frame_shape))} "
                   f"{str(obs_dtype).removeprefix('torch.')}", "lower --buffer-size")
        n, s = num_envs, slots
        self.frames = torch.zeros(n, s, *self.frame_shape, dtype=obs_dtype, device=d)
        self.action = torch.zeros(n, s, act_dim, device=d)
        self.reward = torch.zeros(n, s, device=d)
        self.terminated = torch.zeros(n, s, device=d)
        self.episode = torch.full((n, s), -1, dtype=torch.int64, device=d)
        self.step_weight = torch.zeros(n, s, device=d)    # 1: a transition starts in this slot
        self.start_weight = torch.zeros(n, s, device=d)   # 1: a sequence may start in this slot
        # host copies of what the writer decides with (reading the device copies would synchronize)
        self._episode = np.full((n, s), -1, dtype=np.int64)
        self._step_ok = np.zeros((n, s), dtype=bool)
        self._start_ok = np.zeros((n, s), dtype=bool)
        self.ptr = np.zeros(n, dtype=np.int64)        # the next slot each copy writes
        self.written = np.zeros(n, dtype=np.int64)    # slots each copy has written in all
        self.at_start = np.ones(n, dtype=bool)        # the next add begins an episode
        self.next_episode = 0
        self.transitions = 0                          # slots holding a transition now
        self.generator = torch.Generator(device=d)
        self.generator.manual_seed(seed)

    def nbytes(self) -> int:
        """The memory the buffer's tensors take: the frames, then per slot the action, reward,
        termination, episode id and two weights (and the host's copies)."""
        per_slot = 4 * self.act_dim + 4 + 4 + 8 + 4 + 4
        return self.frame_bytes + self.capacity * per_slot

    def memory_text(self) -> str:
        """One line for the run's log: what the buffer holds and the memory it takes."""
        per_100k = self.frame_bytes / self.capacity * 100_000
        return (f"replay of {self.capacity:,} frames {'x'.join(map(str, self.frame_shape))} "
                f"{str(self.frames.dtype).removeprefix('torch.')} on {self.device.type}: {human_bytes(self.nbytes())} "
                f"({human_bytes(per_100k)} of frames per 100k)")

    def __len__(self) -> int:
        """The transitions stored (slots a step was taken from)."""
        return self.transitions

    # ---- writing
    def add(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """One step of every copy: obs and next_obs [N, *obs_shape] (next_obs the true next
        observation, the final one when the episode ended), action [N, A], reward, terminated and
        truncated [N]. A copy's first add (and its first after an episode ended) also stores its
        observation's frames."""
        obs, next_obs = np.asarray(obs), np.asarray(next_obs)
        terminated, truncated = np.asarray(terminated, dtype=bool), np.asarray(truncated, dtype=bool)
        if obs.shape != (self.num_envs, *self.obs_shape):
            raise ValueError(f"add() takes observations [{self.num_envs}, {', '.join(map(str, self.obs_shape))}], "
                             f"got {list(obs.shape)}")
        action = torch.as_tensor(np.asarray(action), dtype=torch.float32, device=self.device).reshape(self.num_envs, -1)
        reward = torch.as_tensor(np.asarray(reward), dtype=torch.float32, device=self.device)
        term = torch.as_tensor(terminated, dtype=torch.float32, device=self.device)
        changed: list[tuple[int, np.ndarray]] = []
        for i in range(self.num_envs):
            if self.at_start[i]:
                self.next_episode += 1
                changed.append((i, self._write_frames(i, self._frames_of(obs[i]), self.next_episode)))
            cur = (self.ptr[i] - 1) % self.slots
            ep = self._episode[i, cur]
            self.action[i, cur], self.reward[i, cur], self.terminated[i, cur] = action[i], reward[i], term[i]
            changed.append((i, self._write_frames(i, self._frames_of(next_obs[i])[-1:], ep)))
            self._step_ok[i, cur] = True
            self.transitions += 1
            done = bool(terminated[i] or truncated[i])
            # sequence starts whose T steps are now stored, or whose episode has just ended
            first = cur - self.sequence_length + 1
            starts = np.arange(first, cur + 1) % self.slots if done else np.array([first % self.slots])
            ok = self._step_ok[i, starts] & (self._episode[i, starts] == ep)
            self._start_ok[i, starts[ok]] = True
            changed.append((i, np.concatenate([starts, [cur]])))
            self.at_start[i] = done
        self._sync(changed)

    def start_episode(self, i: int) -> None:
        """Copy i's episode ends here, unfinished (an environment restarted on resume): its open
        episode is closed as a truncation, and the next add begins a new one."""
        if self.at_start[i] or self.written[i] == 0:
            self.at_start[i] = True
            return
        last = (self.ptr[i] - 2) % self.slots          # the last step taken (its next frame is the newest slot)
        ep = self._episode[i, last]
        starts = np.arange(last - self.sequence_length + 1, last + 1) % self.slots
        ok = self._step_ok[i, starts] & (self._episode[i, starts] == ep)
        self._start_ok[i, starts[ok]] = True
        self.at_start[i] = True
        self._sync([(i, starts)])

    def _frames_of(self, obs: np.ndarray) -> torch.Tensor:
        """One observation [k·C, ...] -> its k frames [k, C, ...], the oldest first."""
        return torch.as_tensor(obs).reshape(self.frame_stack, *self.frame_shape)

    def _write_frames(self, i: int, frames: torch.Tensor, episode: int) -> np.ndarray:
        """Write frames [m, ...] into copy i's next m slots; withdraw the transitions and sequence
        starts whose stacks read those slots. Returns the slots whose flags changed."""
        m, k = frames.shape[0], self.frame_stack
        slots = (self.ptr[i] + np.arange(m)) % self.slots
        self.frames[i, torch.as_tensor(slots, device=self.device)] = frames.to(self.device, self.frames.dtype)
        touched = (self.ptr[i] + np.arange(m + k - 1)) % self.slots   # the written slots and the k-1 after them
        self.transitions -= int(self._step_ok[i, touched].sum())
        self._step_ok[i, touched] = False
        self._start_ok[i, touched] = False
        self._episode[i, slots] = episode
        self.ptr[i] = (self.ptr[i] + m) % self.slots
        self.written[i] += m
        return touched

    def _sync(self, changed: list[tuple[int, np.ndarray]]) -> None:
        """Copy the host's flags and episode ids of the changed slots to the device."""
        rows = np.concatenate([np.full(len(s), i) for i, s in changed])
        cols = np.concatenate([s for _, s in changed])
        r, c = torch.as_tensor(rows, device=self.device), torch.as_tensor(cols, device=self.device)
        self.step_weight[r, c] = torch.as_tensor(self._step_ok[rows, cols], dtype=torch.float32, device=self.device)
        self.start_weight[r, c] = torch.as_tensor(self._start_ok[rows, cols], dtype=torch.float32, device=self.device)
        self.episode[r, c] = torch.as_tensor(self._episode[rows, cols], device=self.device)

    # ---- sampling
    def _draw(self, weight: torch.Tensor, batch_size: int, what: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(copy [B], slot [B]) drawn uniformly among the slots of weight 1."""
        empty = not self._start_ok.any() if weight is self.start_weight else self.transitions == 0
        if empty:
            raise ValueError(f"the replay holds no {what} yet")
        flat = torch.multinomial(weight.reshape(-1), batch_size, replacement=True, generator=self.generator)
        return flat // self.slots, flat % self.slots

    def _stacks(self, copy: torch.Tensor, slot: torch.Tensor) -> torch.Tensor:
        """The observations (frame stacks) of slots [...] of copies [...] -> [..., k·C, ...] float32."""
        back = torch.arange(1 - self.frame_stack, 1, device=self.device)            # [k]: -k+1 .. 0
        idx = (slot.unsqueeze(-1) + back) % self.slots                               # [..., k]
        frames = self.frames[copy.unsqueeze(-1).expand_as(idx), idx]                 # [..., k, C, H, W]
        return frames.flatten(-1 - len(self.frame_shape), -len(self.frame_shape)).float()  # [..., k·C, H, W]

    def sample(self, batch_size: int) -> Batch:
        """Transitions (s, a, r, s', terminated) drawn uniformly with replacement."""
        copy, slot = self._draw(self.step_weight, batch_size, "transition")
        nxt = (slot + 1) % self.slots
        return Batch(self._stacks(copy, slot), self.action[copy, slot], self.reward[copy, slot],
                     self._stacks(copy, nxt), self.terminated[copy, slot])

    def sample_sequences(self, batch_size: int) -> SequenceBatch:
        """Sequences of T = sequence_length steps: observations [B, T+1, ...] (of steps 0..T),
        actions [B, T, A], rewards, terminations and the mask [B, T]."""
        copy, start = self._draw(self.start_weight, batch_size, f"sequence of {self.sequence_length} steps")
        t = self.sequence_length
        slots = (start.unsqueeze(1) + torch.arange(t + 1, device=self.device)) % self.slots   # [B, T+1]
        rows = copy.unsqueeze(1).expand_as(slots)                                              # [B, T+1]
        steps, step_rows = slots[:, :t], rows[:, :t]                                           # [B, T]
        same = self.episode[step_rows, steps] == self.episode[copy, start].unsqueeze(1)        # [B, T]
        # a step counts while every step before it did: a slot further on may hold the same episode's
        # earlier lap (an episode longer than the stream), which must not count again
        mask = (same.float() * self.step_weight[step_rows, steps]).cumprod(1)                  # [B, T]
        # a masked step's slot may hold anything (the next episode, older data): zero its values
        return SequenceBatch(self._stacks(rows, slots), self.action[step_rows, steps] * mask.unsqueeze(-1),
                             self.reward[step_rows, steps] * mask, self.terminated[step_rows, steps] * mask, mask)

    # ---- checkpoints
    def state_dict(self) -> dict:
        """The written part of every stream (up to the longest), the flags and the pointers."""
        n = int(min(self.written.max(), self.slots))
        return {"capacity": self.capacity, "num_envs": self.num_envs, "filled": n,
                "frames": self.frames[:, :n].cpu().clone(), "action": self.action[:, :n].cpu().clone(),
                "reward": self.reward[:, :n].cpu().clone(), "terminated": self.terminated[:, :n].cpu().clone(),
                "episode_ids": self._episode[:, :n].copy(), "step_ok": self._step_ok[:, :n].copy(),
                "start_ok": self._start_ok[:, :n].copy(), "ptr": self.ptr.copy(), "written": self.written.copy(),
                "at_start": self.at_start.copy(), "next_episode": self.next_episode, "transitions": self.transitions,
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        if (state["capacity"], state["num_envs"]) != (self.capacity, self.num_envs):
            raise ValueError(f"checkpoint replay holds {state['capacity']} slots over {state['num_envs']} copies; "
                             f"this one {self.capacity} over {self.num_envs}")
        n = state["filled"]
        for name in ("frames", "action", "reward", "terminated"):
            getattr(self, name)[:, :n] = state[name].to(self.device)
        self._episode[:, :n], self._step_ok[:, :n], self._start_ok[:, :n] = (
            state["episode_ids"], state["step_ok"], state["start_ok"])
        self.episode.copy_(torch.as_tensor(self._episode, device=self.device))
        self.step_weight.copy_(torch.as_tensor(self._step_ok, dtype=torch.float32, device=self.device))
        self.start_weight.copy_(torch.as_tensor(self._start_ok, dtype=torch.float32, device=self.device))
        self.ptr, self.written, self.at_start = state["ptr"].copy(), state["written"].copy(), state["at_start"].copy()
        self.next_episode, self.transitions = state["next_episode"], state["transitions"]
        self.generator.set_state(state["generator"])
