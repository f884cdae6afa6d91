"""Read and check an experiment file (TOML) into plain data; nothing here runs anything.

An experiment file has these tables (docs/experiments.md has a full example):

    [experiment]   name, description, base ("micro" or a model directory), seeds,
                   world_seed, run_name (a template), jobs
    [drift]        drift-capture options every stage shares (eval_set, samples, judge, …)
    [datasets.X]   path = FILE | "micro:NAME", moves = stance it should move; or
                   mix = [X, Y, …] (+ limit_each); or select = {from, keep, min_margin}
    [[stage]]      name, algorithm, dataset, parent, moved, note + `vdbench train` options;
                   any option may be a list (a grid axis); [stage.ALGO] options apply to
                   one algorithm only
    [[audit]]      name, dataset, limit: value-gap audits of datasets

Every error names the file and the line of the offending table or key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vdbench.errors import InputError

STANCES = ("support", "neutral", "oppose")
ALGORITHMS = ("sft", "dpo", "simpo", "ppo")
SELECT_REASONS = ("gap-support", "gap-oppose", "no-flip", "confident")
DEFAULT_RUN_NAME = "{experiment}.{stage}{grid}.s{seed}"
# Keys of a [[stage]] that are not `vdbench train` options.
STAGE_KEYS = ("name", "algorithm", "dataset", "parent", "moved", "note")
# `vdbench train` options the experiment sets itself.
RESERVED = ("data", "db", "run", "seed", "output_dir", "model", "json", "func", "command",
            "algorithm", "parent", "reward_model")
# Drift-capture options ([drift] and stages): passed to every `vdbench train`.
DRIFT_KEYS = ("eval_set", "every", "eval_steps", "samples", "max_new_tokens", "temperature",
              "top_p", "gen_batch_size", "judge", "sync_generate", "save_checkpoints")
EXPERIMENT_KEYS = ("name", "description", "base", "seeds", "world_seed", "run_name", "jobs")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    kind: str  # "file" | "micro" | "mix" | "select"
    value: Any  # a path, a micro-world dataset name, the mixed names, or the select table
    moves: str | None
    line: int
    limit_each: int | None = None


@dataclass(frozen=True)
class StageSpec:
    name: str
    algorithms: tuple[str, ...]
    datasets: tuple[str, ...]
    parent: str | None
    moved: str | None
    note: str
    options: dict[str, Any]  # option -> value or list of values (a grid axis)
    by_algorithm: dict[str, dict[str, Any]]
    line: int
    option_lines: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditSpec:
    name: str
    dataset: str
    limit: int | None
    note: str
    line: int


@dataclass(frozen=True)
class ExperimentSpec:
    name: str
    description: str
    source: Path | None
    base: str  # "micro" or a model directory
    world_seed: int
    seeds: tuple[int, ...]
    run_name: str
    jobs: int | None
    drift: dict[str, Any]
    datasets: dict[str, DatasetSpec]
    stages: tuple[StageSpec, ...]
    audits: tuple[AuditSpec, ...]
    raw: dict[str, Any]

    @property
    def uses_micro(self) -> bool:
        return self.base == "micro" or any(d.kind == "micro" for d in self.datasets.values())


class _Lines:
    """Line numbers of tables and keys in the TOML text (tomllib does not keep them)."""

    def __init__(self, text: str, where: str):
        self.lines = text.splitlines()
        self.where = where

    def table(self, header: str, index: int = 0) -> int:
        pattern = re.compile(rf"^\s*\[\[?\s*{re.escape(header)}\s*\]\]?\s*(#.*)?$")
        hits = [i + 1 for i, line in enumerate(self.lines) if pattern.match(line)]
        return hits[index] if index < len(hits) else (hits[-1] if hits else 1)

    def has_table(self, header: str) -> bool:
        pattern = re.compile(rf"^\s*\[\[?\s*{re.escape(header)}\s*\]\]?\s*(#.*)?$")
        return any(pattern.match(line) for line in self.lines)

    def key(self, key: str, after: int = 1) -> int:
        """The first line at or after `after` that assigns `key` (inline or dotted)."""
        pattern = re.compile(rf"^\s*(\"{re.escape(key)}\"|{re.escape(key)})\s*=")
        for i in range(max(0, after - 1), len(self.lines)):
            if i >= after and self.lines[i].lstrip().startswith("[["):
                break
            if pattern.match(self.lines[i]):
                return i + 1
        return after

    def at(self, line: int) -> str:
        return f"{self.where}:{line}"


def load_spec(path: str | Path) -> ExperimentSpec:
    """Parse and check an experiment file; raises InputError with file:line on any problem."""
    path = Path(path)
    if path.is_dir():
        raise InputError("is a directory, not an experiment file", where=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such experiment file", where=str(path),
                         hint="built-in experiments: " + ", ".join(builtin_names())) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", where=str(path)) from None
    return parse_spec(text, source=path)


def parse_spec(text: str, source: Path | None = None) -> ExperimentSpec:
    where = str(source) if source else "<experiment>"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise InputError(f"not valid TOML: {exc}",
                         where=f"{where}:{match.group(1)}" if match else where) from None
    lines = _Lines(text, where)
    unknown = sorted(set(raw) - {"experiment", "drift", "datasets", "stage", "audit"})
    if unknown:
        raise InputError(f"unknown table [{unknown[0]}]", where=lines.at(lines.table(unknown[0])),
                         hint="tables: [experiment], [drift], [datasets], [[stage]], [[audit]]")
    head = _table(raw, "experiment", lines)
    _no_unknown(head, EXPERIMENT_KEYS, lines, lines.table("experiment"), "[experiment]")
    name = _string(head, "name", lines, lines.table("experiment"), required=True)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise InputError(f"experiment name {name!r} may hold only letters, digits, '.', '_', '-'",
                         where=lines.at(lines.key("name", lines.table("experiment"))))
    seeds_line = lines.key("seeds", lines.table("experiment"))
    seeds = head.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
        raise InputError("seeds must be a non-empty list of non-negative integers",
                         where=lines.at(seeds_line))
    if len(set(seeds)) != len(seeds):
        raise InputError("seeds repeat a value", where=lines.at(seeds_line))
    base = head.get("base", "micro")
    if not isinstance(base, str) or not base:
        raise InputError("base must be \"micro\" or a model directory",
                         where=lines.at(lines.key("base", lines.table("experiment"))))
    if base != "micro":
        base = str(_relative(base, source))
    run_name = head.get("run_name", DEFAULT_RUN_NAME)
    if not isinstance(run_name, str) or "{stage}" not in run_name or "{grid}" not in run_name:
        raise InputError("run_name must be a string holding {stage} and {grid}",
                         where=lines.at(lines.key("run_name", lines.table("experiment"))))
    jobs = head.get("jobs")
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1):
        raise InputError("jobs must be a positive integer",
                         where=lines.at(lines.key("jobs", lines.table("experiment"))))
    world_seed = head.get("world_seed", 0)
    if not isinstance(world_seed, int) or isinstance(world_seed, bool) or world_seed < 0:
        raise InputError("world_seed must be a non-negative integer",
                         where=lines.at(lines.key("world_seed", lines.table("experiment"))))
    drift = _table(raw, "drift", lines, required=False)
    _no_unknown(drift, DRIFT_KEYS, lines, lines.table("drift"), "[drift]")
    datasets = _datasets(raw, lines, source)
    stages = _stages(raw, lines, datasets)
    audits = _audits(raw, lines, datasets)
    if not stages and not audits:
        raise InputError("the experiment declares no [[stage]] and no [[audit]]", where=where)
    return ExperimentSpec(
        name=name, description=str(head.get("description", "")), source=source, base=base,
        world_seed=world_seed, seeds=tuple(seeds), run_name=run_name, jobs=jobs,
        drift=dict(drift), datasets=datasets, stages=stages, audits=audits, raw=raw)


def _table(raw: dict, name: str, lines: _Lines, *, required: bool = True) -> dict[str, Any]:
    value = raw.get(name)
    if value is None:
        if required:
            raise InputError(f"missing table [{name}]", where=lines.where)
        return {}
    if not isinstance(value, dict):
        raise InputError(f"[{name}] must be a table", where=lines.at(lines.table(name)))
    return value


def _no_unknown(table: dict, known: tuple[str, ...], lines: _Lines, line: int, what: str) -> None:
    for key in table:
        if key not in known:
            raise InputError(f"unknown option {key!r} in {what}", where=lines.at(lines.key(key, line)),
                             hint="known: " + ", ".join(known))


def _string(table: dict, key: str, lines: _Lines, line: int, *, required: bool = False) -> str:
    value = table.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value:
        raise InputError(f"{key} must be a non-empty string" if key in table else f"missing {key}",
                         where=lines.at(lines.key(key, line) if key in table else line))
    return value


def _relative(value: str, source: Path | None) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() or source is None else (source.parent / path)


def _stance(value: Any, lines: _Lines, line: int, key: str) -> str | None:
    if value is None:
        return None
    if value not in STANCES:
        raise InputError(f"{key} must be one of {', '.join(STANCES)}, got {value!r}",
                         where=lines.at(lines.key(key, line)))
    return str(value)


def _datasets(raw: dict, lines: _Lines, source: Path | None) -> dict[str, DatasetSpec]:
    from vdbench.micro.files import DATASET_FILES

    table = _table(raw, "datasets", lines, required=False)
    out: dict[str, DatasetSpec] = {}
    for name, value in table.items():
        line = (lines.table(f"datasets.{name}") if lines.has_table(f"datasets.{name}")
                else lines.key(name, lines.table("datasets")))
        entry = value if isinstance(value, dict) else {"path": value}
        known = ("path", "moves", "mix", "limit_each", "select")
        _no_unknown(entry, known, lines, line, f"[datasets.{name}]")
        kinds = [k for k in ("path", "mix", "select") if k in entry]
        if len(kinds) != 1:
            raise InputError(f"dataset {name!r} needs exactly one of path, mix, select",
                             where=lines.at(line))
        moves = _stance(entry.get("moves"), lines, line, "moves")
        if "path" in entry:
            path = entry["path"]
            if not isinstance(path, str) or not path:
                raise InputError(f"dataset {name!r}: path must be a string", where=lines.at(line))
            if path.startswith("micro:"):
                key = path.removeprefix("micro:")
                if key not in DATASET_FILES or key == "pretrain":
                    raise InputError(f"no micro-world dataset {key!r}", where=lines.at(line),
                                     hint="micro datasets: " + ", ".join(
                                         k for k in DATASET_FILES if k != "pretrain"))
                out[name] = DatasetSpec(name, "micro", key, moves, line)
            else:
                resolved = _relative(path, source)
                if not resolved.exists():
                    raise InputError(f"dataset {name!r}: no such file {resolved}", where=lines.at(line))
                out[name] = DatasetSpec(name, "file", str(resolved), moves, line)
        elif "mix" in entry:
            parts = entry["mix"]
            if not isinstance(parts, list) or len(parts) < 2 or not all(isinstance(p, str) for p in parts):
                raise InputError(f"dataset {name!r}: mix must list at least two dataset names",
                                 where=lines.at(line))
            limit = entry.get("limit_each")
            if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
                raise InputError("limit_each must be a positive integer", where=lines.at(line))
            out[name] = DatasetSpec(name, "mix", tuple(parts), moves, line, limit_each=limit)
        else:
            sel = entry["select"]
            if not isinstance(sel, dict) or "from" not in sel or "keep" not in sel:
                raise InputError(f"dataset {name!r}: select needs from and keep",
                                 where=lines.at(line))
            if sel["keep"] not in SELECT_REASONS:
                raise InputError(f"select keep must be one of {', '.join(SELECT_REASONS)}",
                                 where=lines.at(line))
            extra = sorted(set(sel) - {"from", "keep", "min_margin", "limit"})
            if extra:
                raise InputError(f"unknown option {extra[0]!r} in select", where=lines.at(line))
            out[name] = DatasetSpec(name, "select", dict(sel), moves, line)
    for spec in out.values():  # references between datasets
        refs = spec.value if spec.kind == "mix" else (spec.value["from"],) if spec.kind == "select" else ()
        for ref in refs:
            if ref not in out:
                raise InputError(f"dataset {spec.name!r} refers to {ref!r}, which is not declared",
                                 where=lines.at(spec.line))
            if out[ref].kind in ("mix", "select") and spec.kind == "mix":
                raise InputError(f"dataset {spec.name!r}: a mix of derived datasets is not supported",
                                 where=lines.at(spec.line))
    return out


def _listed(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def _stages(raw: dict, lines: _Lines, datasets: dict[str, DatasetSpec]) -> tuple[StageSpec, ...]:
    from vdbench.experiments.options import check_option

    items = raw.get("stage", [])
    if not isinstance(items, list):
        raise InputError("stages are declared as [[stage]] tables", where=lines.at(lines.table("stage")))
    stages: list[StageSpec] = []
    names: set[str] = set()
    for index, item in enumerate(items):
        line = lines.table("stage", index)
        name = _string(item, "name", lines, line, required=True)
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise InputError(f"stage name {name!r} may hold only letters, digits, '.', '_', '-'",
                             where=lines.at(lines.key("name", line)))
        if name in names:
            raise InputError(f"stage {name!r} is declared twice", where=lines.at(line))
        algorithms = _listed(item.get("algorithm"))
        if item.get("algorithm") is None or not algorithms:
            raise InputError(f"stage {name!r}: " + ("missing algorithm" if "algorithm" not in item
                             else "empty grid for algorithm"),
                             where=lines.at(lines.key("algorithm", line)))
        for algo in algorithms:
            if algo not in ALGORITHMS:
                raise InputError(f"stage {name!r}: unknown algorithm {algo!r}",
                                 where=lines.at(lines.key("algorithm", line)),
                                 hint="algorithms: " + ", ".join(ALGORITHMS))
        data = _listed(item.get("dataset"))
        if item.get("dataset") is None or not data:
            raise InputError(f"stage {name!r}: " + ("missing dataset" if "dataset" not in item
                             else "empty grid for dataset"),
                             where=lines.at(lines.key("dataset", line)))
        for d in data:
            if d not in datasets:
                raise InputError(f"stage {name!r}: dataset {d!r} is not declared in [datasets]",
                                 where=lines.at(lines.key("dataset", line)))
        parent = item.get("parent")
        if parent is not None and parent not in names:
            raise InputError(f"stage {name!r}: parent {parent!r} is not a stage declared above it",
                             where=lines.at(lines.key("parent", line)),
                             hint="declare the parent stage first" if any(
                                 s.get("name") == parent for s in items) else
                             "stages so far: " + (", ".join(sorted(names)) or "none"))
        moved = _stance(item.get("moved"), lines, line, "moved")
        options: dict[str, Any] = {}
        by_algorithm: dict[str, dict[str, Any]] = {}
        option_lines: dict[str, int] = {}
        for key, value in item.items():
            if key in STAGE_KEYS:
                continue
            if key in ALGORITHMS and isinstance(value, dict):
                if key not in algorithms:
                    raise InputError(f"stage {name!r}: [stage.{key}] options, but {key} is not "
                                     f"one of its algorithms", where=lines.at(lines.table(f"stage.{key}")))
                sub_line = lines.table(f"stage.{key}", _sub_index(items, index, key))
                for k, v in value.items():
                    check_option(key, k, v, lines.at(lines.key(k, sub_line)))
                by_algorithm[key] = dict(value)
                continue
            key_line = lines.key(key, line)
            option_lines[key] = key_line
            for algo in algorithms:
                check_option(algo, key, value, lines.at(key_line))
            options[key] = value
        stages.append(StageSpec(name=name, algorithms=algorithms, datasets=data, parent=parent,
                                moved=moved, note=str(item.get("note", "")), options=options,
                                by_algorithm=by_algorithm, line=line, option_lines=option_lines))
        names.add(name)
    return tuple(stages)


def _sub_index(items: list, index: int, algo: str) -> int:
    """Which `[stage.ALGO]` header (in file order) belongs to stage number `index`."""
    return sum(1 for item in items[:index] if isinstance(item.get(algo), dict))


def _audits(raw: dict, lines: _Lines, datasets: dict[str, DatasetSpec]) -> tuple[AuditSpec, ...]:
    items = raw.get("audit", [])
    if not isinstance(items, list):
        raise InputError("audits are declared as [[audit]] tables", where=lines.at(lines.table("audit")))
    out = []
    for index, item in enumerate(items):
        line = lines.table("audit", index)
        _no_unknown(item, ("name", "dataset", "limit", "note"), lines, line, "[[audit]]")
        name = _string(item, "name", lines, line, required=True)
        dataset = _string(item, "dataset", lines, line, required=True)
        if dataset not in datasets:
            raise InputError(f"audit {name!r}: dataset {dataset!r} is not declared in [datasets]",
                             where=lines.at(lines.key("dataset", line)))
        limit = item.get("limit")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            raise InputError("limit must be a positive integer", where=lines.at(lines.key("limit", line)))
        out.append(AuditSpec(name, dataset, limit, str(item.get("note", "")), line))
    return tuple(out)


def builtin_dir() -> Path:
    from importlib import resources

    return Path(str(resources.files("vdbench") / "data" / "experiments"))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.toml"))


def resolve_file(value: str) -> Path:
    """An experiment file path, or the name of a built-in experiment (`micro-paper`)."""
    path = Path(value).expanduser()
    if path.exists() or path.suffix == ".toml" or "/" in value:
        return path
    builtin = builtin_dir() / f"{value}.toml"
    if builtin.is_file():
        return builtin
    raise InputError(f"no experiment file or built-in experiment {value!r}",
                     hint="built-in experiments: " + ", ".join(builtin_names()))
