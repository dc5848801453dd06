#!/usr/bin/env bash
# Shows that the probes catch wiring bugs: each mutation is applied to the working tree, the probes that
# should catch it run, and the file is restored with git checkout (never committed). Run from a clean tree.
# Usage: bash tests/probe_mutations.sh
cd "$(dirname "$0")/.."
run() {  # name, file, python replacement (old -> new), tests
  local name="$1" file="$2" old="$3" new="$4"; shift 4
  python3 - "$file" "$old" "$new" <<'PY'
import sys
f, old, new = sys.argv[1:]
s = open(f).read()
assert s.count(old) == 1, (f, old, s.count(old))
open(f, "w").write(s.replace(old, new))
PY
  echo "=== mutation: $name"
  timeout 900 .venv/bin/python -m pytest --no-header -p no:cacheprovider -n 2 -q "$@" 2>&1 | grep -E "^FAILED|passed|failed" | sed 's/ - .*//'
  git checkout -q -- "$file"
}
run "off-policy loop stores done for terminated" src/keelrl/train/off_policy.py \
  "self.buffer.add(self.obs, self.agent.to_policy_space(env_action), reward, real_next, term)" \
  "self.buffer.add(self.obs, self.agent.to_policy_space(env_action), reward, real_next, done)" \
  tests/algos/test_sac.py tests/algos/test_td3.py tests/algos/test_ddpg.py tests/algos/test_dqn.py
run "on-policy loop stores done for terminated" src/keelrl/train/on_policy.py \
  "                             term, done)" "                             done, done)" tests/algos/test_ppo.py
run "SAC's target computed with the online critic" src/keelrl/algos/sac.py \
  "q_next = self._critic_values(self.critic_target, batch.next_obs, next_a)" \
  "q_next = self._critic_values(self.critic, batch.next_obs, next_a)" tests/algos/test_sac.py
run "DQN's target computed with the online network" src/keelrl/algos/dqn.py \
  "y = q_target(batch.reward, batch.terminated, discount, self.q_target(batch.next_obs), q_next_online)" \
  "y = q_target(batch.reward, batch.terminated, discount, self.q(batch.next_obs), q_next_online)" tests/algos/test_dqn.py
run "CQL's target computed with the online critics" src/keelrl/algos/cql.py \
  "q_next = self._q(self.critic_target, batch.next_obs, next_a)" \
  "q_next = self._q(self.critic, batch.next_obs, next_a)" tests/algos/test_cql.py
run "TD3+BC's target computed with the online networks" src/keelrl/algos/td3.py \
  "q_next = critic_target(batch.next_obs, next_action).min(0).values" \
  "q_next = critic(batch.next_obs, next_action).min(0).values" tests/algos/test_td3_bc.py tests/algos/test_td3.py
run "PPO's log-probabilities swapped in the ratio" src/keelrl/algos/ppo.py \
  "    log_ratio = log_prob - old_log_prob" "    log_ratio = old_log_prob - log_prob" tests/algos/test_ppo.py
run "SAC's actor loss with log π and Q swapped in sign (entropy term)" src/keelrl/algos/sac.py \
  "    loss = (alpha * log_prob - q_pi).mean()" "    loss = (-alpha * log_prob - q_pi).mean()" tests/algos/test_sac.py
git status --short
