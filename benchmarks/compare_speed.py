"""Markdown tables of the speed results (results/*_speed_{1,2}t.json, bench_cpu_*.json,
multi_seed_speed*.json), written into RESULTS.md between <!-- speed-tables --> and <!-- /speed-tables -->.

    .venv/bin/python benchmarks/compare_speed.py
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
RES = HERE / "results"
ONLINE = ["sac", "td3", "ddpg", "dqn", "ppo"]
OFFLINE = ["td3_bc", "iql", "cql", "bc", "awac"]
NAMES = {"sac": "SAC", "td3": "TD3", "ddpg": "DDPG", "dqn": "DQN", "ppo": "PPO", "td3_bc": "TD3+BC", "iql": "IQL",
         "cql": "CQL", "bc": "BC", "awac": "AWAC"}


def load(name: str) -> dict | None:
    p = RES / name
    return json.loads(p.read_text()) if p.exists() else None


def peer_table(algos: list[str], peer: str) -> list[str]:
    rows = [f"| algorithm | threads | keelrl updates/s | {peer} updates/s | median ratio | per pair | load average before runs |",
            "|---|---|---|---|---|---|---|"]
    for algo in algos:
        for t in (1, 2):
            d = load(f"{algo}_speed_{t}t.json")
            if d is None:
                continue
            med = d["median_updates_per_s"]
            other = [k for k in med if k != "keelrl"][0]
            loads = d.get("load_average_before_each_run", [])
            span = f"{min(loads):.2f}–{max(loads):.2f}" if loads else "-"
            rows.append(f"| {NAMES[algo]} | {t} | {med['keelrl']:.1f} | {med[other]:.1f} | **{d['median_ratio']:.2f}×** | "
                        f"{', '.join(f'{x:.2f}' for x in d['ratios_per_round'])} | {span} |")
    return rows


def bench_table() -> list[str]:
    reports = {t: load(f"bench_cpu_{t}t.json") for t in (1, 2)}
    if not any(reports.values()):
        return []
    head = next(r for r in reports.values() if r)
    rows = [f"`keel bench --seeds 5 --threads T --updates 100 --warmup 10`, {head['machine']}, torch {head['torch']}:", "",
            "| algorithm | batch | hidden | updates/s, 1 thread | updates/s, 2 threads | seed-updates/s, 1 thread | seed-updates/s, 2 threads |",
            "|---|---|---|---|---|---|---|"]
    by = {t: {r["algo"]: r for r in (rep or {}).get("results", [])} for t, rep in reports.items()}
    for algo in by[1] or by[2]:
        r1, r2 = by[1].get(algo, {}), by[2].get(algo, {})
        any_r = r1 or r2
        f = lambda r, k: f"{r[k]:.1f}" if k in r else "-"  # noqa: E731
        rows.append(f"| {algo} | {any_r.get('batch_size', '-')} | {'×'.join(map(str, any_r.get('hidden_sizes', [])))} | "
                    f"{f(r1, 'updates_per_s')} | {f(r2, 'updates_per_s')} | "
                    f"{f(r1, 'seed_updates_per_s') if 'seeds' in r1 else '-'} | {f(r2, 'seed_updates_per_s') if 'seeds' in r2 else '-'} |")
    return rows


def multi_seed_table() -> list[str]:
    rows = ["| networks | steps per seed (updates) | stacked, 1 process | 5 processes, 1 thread each | 5 processes, default threads | stacked ÷ 1-thread processes | stacked ÷ default processes |",
            "|---|---|---|---|---|---|---|"]
    for name in ("multi_seed_speed.json", "multi_seed_speed_default_threads.json", "multi_seed_speed_64x64.json"):
        d = load(name)
        if d is None:
            continue
        m = d["median_seed_steps_per_s"]
        f = lambda x: "not run" if x is None else f"{x:.1f}"  # noqa: E731
        r = lambda x: "-" if x is None else f"{x:.2f}×"  # noqa: E731
        rows.append(f"| {'×'.join(map(str, d['hidden_sizes']))}, batch {d['batch_size']} | {d['steps_per_seed']} "
                    f"({d['updates_per_seed']}) | {f(m.get('stacked'))} | {f(m.get('separate-1t'))} | {f(m.get('separate'))} | "
                    f"**{r(d['ratio_stacked_vs_separate_1t'])}** | {r(d['ratio_stacked_vs_separate_default_threads'])} |")
    return rows


def main() -> None:
    out = ["#### Online learner against Stable-Baselines3 (`speed.py --algo A --threads T`)", "", *peer_table(ONLINE, "SB3"),
           "", "#### Offline learner against d3rlpy (`speed.py --algo A --threads T`; CQL 20 updates a run)", "",
           *peer_table(OFFLINE, "d3rlpy"), "", "#### Every algorithm (`keel bench`)", "", *bench_table(), "",
           "#### 5 seeds of SAC on Hopper-v5: one process against five (`multi_seed_speed.py`), seed-steps per second", "",
           *multi_seed_table()]
    text = "\n".join(out)
    print(text)
    results = HERE / "RESULTS.md"
    md = results.read_text()
    new = re.sub(r"<!-- speed-tables -->.*<!-- /speed-tables -->", lambda _: f"<!-- speed-tables -->\n{text}\n<!-- /speed-tables -->",
                 md, flags=re.S)
    if new != md:
        tmp = results.with_suffix(".tmp")
        tmp.write_text(new)
        os.replace(tmp, results)


if __name__ == "__main__":
    main()
