"""A sweep spec (docs/sweep.md) read, checked and expanded into trials: algorithms x environments
(or datasets) x the algorithm's hyperparameter grid x seeds. Every trial's Config and run settings
are built here, so their own checks run before anything is launched; a problem is one KeelError
saying what is wrong and what is allowed."""
from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import UnionType
from typing import Literal, Union, get_args, get_origin, get_type_hints

from keelrl.errors import KeelError
from keelrl.train.config import OfflineRunConfig, RunConfig, run_config_class

KEYS = ("name", "out", "imports", "algos", "envs", "datasets", "seeds", "run", "config", "grid", "workers")
MANAGED = ("env", "dataset", "seed", "seeds", "run_dir", "overwrite", "progress")  # the sweep sets these per trial


@dataclass(frozen=True)
class Trial:
    name: str
    algo: str
    run: dict
    """Every RunConfig (or OfflineRunConfig) field, run_dir included."""
    config: dict
    """The Config values the spec sets: its fixed `config` ones and this trial's grid point."""


@dataclass
class Sweep:
    name: str
    out: Path
    trials: list[Trial]
    workers: int | None
    threads_given: bool
    """Whether the spec's `run` sets threads (otherwise parallel trials get one torch thread each)."""
    imports: list[str] = field(default_factory=list)
    """Modules every trial imports first (your own algorithms or environments)."""


def load_spec(path: str | Path, imports: list[str] | tuple[str, ...] = ()) -> Sweep:
    import yaml
    path = Path(path)
    if not path.is_file():
        raise KeelError(f"no sweep spec at {path}: give a YAML file (the format is in docs/sweep.md)")
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise KeelError(f"{path} is not valid YAML: {' '.join(str(e).split())}") from None
    return expand(spec, default_name=path.stem, imports=imports)


def expand(spec, default_name: str = "sweep", imports: list[str] | tuple[str, ...] = ()) -> Sweep:
    """Check the whole spec (each trial's Config and run settings are built, so their own checks
    run) and list its trials; a KeelError names the first problem and what is allowed. `imports`:
    modules imported already (keel --import), added to the spec's own."""
    from keelrl.algos import get_algo
    from keelrl.envs.make import import_module
    if not isinstance(spec, dict):
        raise KeelError(f"a sweep spec is a YAML mapping with the keys {', '.join(KEYS)}")
    _no_unknown(spec, KEYS, "the sweep spec")
    modules = list(dict.fromkeys([*imports, *_names(spec, "imports")]))
    for module in modules:
        import_module(module, "named by the sweep spec's imports")
    for key in ("algos", "seeds"):
        if key not in spec:
            raise KeelError(f"the sweep spec needs {key!r} (its keys: {', '.join(KEYS)})")
    name = str(spec.get("name", default_name))
    out = Path(spec.get("out", f"runs/sweeps/{name}")).resolve()  # absolute: Ray workers run elsewhere
    algos = [get_algo(a) for a in _names(spec, "algos")]
    if not algos:
        raise KeelError("algos must name at least one algorithm, such as [sac, td3]")
    seeds = _seeds(spec["seeds"])
    run, config, grid = (_mapping(spec.get(k), k) for k in ("run", "config", "grid"))
    sources = {"online": _names(spec, "envs"), "offline": _names(spec, "datasets")}
    for key, loop in (("envs", "online"), ("datasets", "offline")):
        users = [a.name for a in algos if a.uses_dataset == (loop == "offline")]
        if users and not sources[loop]:
            raise KeelError(f"{', '.join(users)} train{'s' * (len(users) == 1)} {loop}: the spec needs {key!r}")
        if sources[loop] and not users:
            raise KeelError(f"the spec lists {key} but none of its algorithms trains {loop}")
    for section, values in (("config", config), ("grid", grid)):
        _no_unknown(values, [a.name for a in algos], f"{section} (keyed by algorithm)")
    run_classes = {run_config_class(a) for a in algos}
    allowed = [f.name for cls in run_classes for f in fields(cls) if f.name not in MANAGED]
    managed = [k for k in run if k in MANAGED]
    if managed:
        raise KeelError(f"run.{managed[0]} is set per trial by the sweep (from algos, envs or datasets, seeds "
                        f"and out); remove it from run")
    _no_unknown(run, list(dict.fromkeys(allowed)), "run")
    workers = spec.get("workers")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise KeelError(f"workers must be an integer >= 1, got {workers!r}")

    trials = [t for algo in algos for t in _algo_trials(algo, sources, seeds, run, config, grid, out)]
    twice = [n for n, count in Counter(t.name for t in trials).items() if count > 1]
    if twice:
        raise KeelError(f"two trials would share the folder {twice[0]}: the spec repeats a value (e.g. 0.001 and 1.0e-3)")
    return Sweep(name, out, trials, workers, "threads" in run, modules)


def _algo_trials(algo, sources: dict, seeds: list[int], run: dict, config: dict, grid: dict, out: Path) -> list[Trial]:
    """One algorithm's trials: its environments (or datasets) x its grid x the seeds."""
    offline = algo.uses_dataset
    run_cls = run_config_class(algo)
    fixed = coerce_fields(algo.config, _mapping(config.get(algo.name), f"config.{algo.name}"), f"config.{algo.name}")
    axes = _mapping(grid.get(algo.name), f"grid.{algo.name}")
    for key, values in axes.items():
        if key in fixed:
            raise KeelError(f"{algo.name}: {key} is both fixed (config.{algo.name}) and swept (grid.{algo.name})")
        if not isinstance(values, list) or not values:
            raise KeelError(f"grid.{algo.name}.{key} must be a non-empty list of values, got {values!r}")
    axes = {k: [coerce_fields(algo.config, {k: v}, f"grid.{algo.name}")[k] for v in vs] for k, vs in sorted(axes.items())}
    run_values = coerce_fields(run_cls, {k: v for k, v in run.items() if k in {f.name for f in fields(run_cls)}}, "run")
    trials = []
    for point in itertools.product(*axes.values()):
        swept = dict(zip(axes, point))
        _build(algo.config, {**fixed, **swept}, algo.name)
        for source in sources["offline" if offline else "online"]:
            for seed in seeds:
                tag = trial_name(algo.name, source, swept, seed)
                kw = {**run_values, "dataset" if offline else "env": source, "seed": seed,
                      "run_dir": str(out / tag), "progress": True}
                trials.append(Trial(tag, algo.name, asdict(_build(run_cls, kw, tag)), {**fixed, **swept}))
    return trials


def trial_name(algo: str, source: str, params: dict, seed: int) -> str:
    """algo-env-key=value-...-sSEED, the grid's keys sorted; readable and the same on every rerun."""
    def fmt(v) -> str:
        if isinstance(v, bool) or v is None:
            return str(v).lower()
        if isinstance(v, (tuple, list)):
            return "x".join(fmt(x) for x in v)
        return repr(v) if isinstance(v, float) else str(v)
    parts = [algo, source, *(f"{k}={fmt(v)}" for k, v in sorted(params.items())), f"s{seed}"]
    return re.sub(r"[^\w.=+-]", "_", "-".join(parts))


def _no_unknown(values: dict, allowed, where: str) -> None:
    bad = [k for k in values if k not in allowed]
    if bad:
        raise KeelError(f"unknown key {bad[0]!r} in {where}; allowed: {', '.join(map(str, allowed)) or 'none'}")


def _mapping(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise KeelError(f"{where} must be a mapping (key: value), got {value!r}")
    return value


def _names(spec: dict, key: str) -> list[str]:
    value = spec.get(key) or []
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise KeelError(f"{key} must be a list of names, got {spec.get(key)!r}")
    return list(dict.fromkeys(value))


def _seeds(value) -> list[int]:
    """[0, 1, 2], a single seed, or an inclusive range "0-4"."""
    if isinstance(value, str) and re.fullmatch(r"\d+-\d+", value.strip()):
        lo, hi = map(int, value.split("-"))
        if lo <= hi:
            return list(range(lo, hi + 1))
    value = [value] if isinstance(value, int) else value
    if isinstance(value, list) and value and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value):
        return list(dict.fromkeys(value))
    raise KeelError(f"seeds must be a list of integers >= 0 or a range such as \"0-4\", got {value!r}")


def _build(cls, values: dict, where: str):
    """cls(**values): its __post_init__ checks run now, before anything is launched."""
    try:
        return cls(**values)
    except KeelError as e:
        raise KeelError(f"{where}: {e}") from None


def coerce_fields(cls, values: dict, where: str) -> dict:
    """The YAML `values` as the types of `cls`'s fields; an unknown name lists the allowed ones."""
    hints = get_type_hints(cls)
    names = [f.name for f in fields(cls) if f.name not in MANAGED]
    _no_unknown(values, names, where)
    return {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in values.items()}


def _coerce(value, hint, where: str):
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):
        if value is None and type(None) in args:
            return None
        return _coerce(value, next(a for a in args if a is not type(None)), where)
    if origin is Literal:
        if value in args:
            return value
        raise KeelError(f"{where} must be one of {', '.join(map(str, args))}, got {value!r}")
    if origin is tuple:
        if isinstance(value, list):
            return tuple(_coerce(v, args[0], where) for v in value)
        raise KeelError(f"{where} must be a list such as [256, 256], got {value!r}")
    if hint is bool and isinstance(value, bool):
        return value
    if hint in (int, float) and not isinstance(value, bool):
        try:  # YAML reads 3e-4 (no dot) as a string
            number = float(value) if isinstance(value, str) else value
        except ValueError:
            number = None
        if hint is float and isinstance(number, (int, float)):
            return float(number)
        if hint is int and isinstance(number, (int, float)) and float(number).is_integer():
            return int(number)
    if hint is str and isinstance(value, str):
        return value
    kind = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))
    raise KeelError(f"{where} must be {kind}, got {value!r}")


def check_sources(trials: list[Trial], datasets: bool = True) -> None:
    """Each online (algorithm, environment) pair is checked the way `keel train` checks it (the id
    exists, the spaces suit the algorithm), and each dataset is looked for where Minari keeps them
    (unless `datasets` is False: on a Ray cluster the nodes read them); the trials read the data."""
    from keelrl.algos import check_spaces, get_algo
    from keelrl.data.offline import check_dataset_id, dataset_dir, datasets_root
    from keelrl.envs.make import env_label, make_env
    from keelrl.types import Spaces
    pairs: dict[str, set[str]] = {}
    for t in trials:
        if "env" in t.run:
            pairs.setdefault(t.run["env"], set()).add(t.algo)
        elif datasets:
            check_dataset_id(t.run["dataset"])
            if not (dataset_dir(t.run["dataset"]) / "data").is_dir():
                raise KeelError(f"no Minari dataset {t.run['dataset']!r} under {datasets_root()} (set "
                                f"MINARI_DATASETS_PATH to look elsewhere; `keel collect` makes datasets)")
    for env_id, algos in pairs.items():
        env = make_env(env_id)
        try:
            for algo in sorted(algos):
                check_spaces(get_algo(algo), Spaces.of(env), env_label(env_id))
        finally:
            env.close()
