"""Study specs: what to sweep, how often, and what counts as good enough.

A study is a YAML mapping (``README.md`` beside this module documents it)::

    name, title, question, seed, replications, duration, bucket,
    base, scenario, sweep {grid, zip}, axis, group_by, thresholds,
    figures, references

:func:`parse_study` validates everything before any simulation runs and
raises :class:`StudyError` naming the key (with a did-you-mean for unknown
ones). Every point's scenario is built and validated by the simulator here,
so a value the simulator refuses fails the study at once.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from privtrak.sim import (
    Scenario,
    ScenarioError,
    builtin_scenario_text,
    parse_scenario,
)
from privtrak.sim._overrides import apply_overrides
from privtrak.sim._units import parse_quantity

from ._metrics import METRICS
from ._overrides import check_key, merge

STUDY_NAMES = ("default", "slow-handler", "memory", "staleness", "accuracy")
"""Studies shipped in ``privtrak/capacity/studies/`` (``builtin:NAME``)."""

FIGURE_TYPES = ("sweep", "timeseries", "capacity")
SERIES_FIGURE_COLUMNS = ("pending_deltas", "modelled_memory_bytes", "in_flight_tasks",
                         "oldest_undelivered_age", "handler_calls", "completed",
                         "latency_p99")


class StudyError(ValueError):
    """An invalid study spec: ``key`` is the dotted spec key, ``why`` the reason."""

    def __init__(self, key: str, why: str) -> None:
        super().__init__(f"study key '{key}': {why}")
        self.key = key
        self.why = why


@dataclass(frozen=True, slots=True)
class Threshold:
    metric: str
    bound: str
    """``max`` (the metric must not exceed ``value``) or ``min``."""
    value: float

    def passes(self, x: float) -> bool:
        if math.isnan(x):
            return False
        return x <= self.value if self.bound == "max" else x >= self.value


@dataclass(frozen=True, slots=True)
class Figure:
    type: str
    name: str
    title: str
    metrics: tuple[str, ...] = ()
    x: str = "axis"
    """``axis`` or a metric name (sweep figures)."""
    log_x: bool = False
    log_y: bool = False
    column: str = ""
    at: tuple[tuple[str, Any], ...] = ()
    analytic: bool = False


@dataclass(frozen=True, slots=True)
class Reference:
    metric: str
    value: float
    label: str


@dataclass(frozen=True, slots=True)
class Point:
    """One combination of swept values: its overrides and its validated scenario."""

    index: int
    assignment: tuple[tuple[str, Any], ...]
    scenario: Scenario

    def value(self, key: str) -> Any:
        return dict(self.assignment)[key]


@dataclass(frozen=True, slots=True)
class Axis:
    key: str
    label: str
    unit: str
    harder: str
    """``higher``: larger axis values are harder to meet (load, latency); or ``lower``."""
    x_metric: str | None
    per: float = 1.0
    """Axis values are shown divided by this (``peer_lifetime`` per announce interval)."""


@dataclass(frozen=True, slots=True)
class Study:
    """A validated study."""

    name: str
    title: str
    question: str
    seed: int
    replications: int
    axis: Axis
    config_keys: tuple[str, ...]
    group_by: tuple[str, ...]
    thresholds: tuple[Threshold, ...]
    figures: tuple[Figure, ...]
    references: tuple[Reference, ...]
    points: tuple[Point, ...]
    raw: dict[str, Any] = field(compare=False)
    text: str = field(compare=False, default="")

    def axis_value(self, point: Point) -> float:
        """The point's axis value as a number, divided by ``axis.per``."""
        return axis_number(self.axis.key, point.value(self.axis.key)) / self.axis.per

    def configuration(self, point: Point) -> tuple[tuple[str, Any], ...]:
        return tuple((k, v) for k, v in point.assignment if k in self.config_keys)


_KNOWN = ("name", "title", "question", "seed", "replications", "duration", "bucket", "base",
          "scenario", "sweep", "axis", "group_by", "thresholds", "figures", "references")


def _unknown(key: str, name: str, known: Sequence[str]) -> StudyError:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else f"; known: {', '.join(known)}"
    return StudyError(key, f"unknown key{hint}")


def _mapping(key: str, raw: object, known: Sequence[str] | None = None) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise StudyError(key, f"must be a mapping, got {raw!r}")
    if known is not None:
        for k in raw:
            if k not in known:
                raise _unknown(f"{key}.{k}" if key else str(k), str(k), known)
    return raw


def axis_number(key: str, value: object) -> float:
    """A swept value as a number (durations in seconds)."""
    try:
        return parse_quantity(key, value, duration=True)
    except ScenarioError as exc:
        raise StudyError(f"axis ({key})", f"value {value!r} is not a number: {exc.why}") from None


_SIZES = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}


def _quantity(key: str, raw: object, unit: str) -> float:
    if isinstance(raw, str) and unit == "bytes":
        for suffix, factor in _SIZES.items():
            if raw.endswith(suffix):
                try:
                    return float(raw.removesuffix(suffix)) * factor
                except ValueError:
                    break
    try:
        return parse_quantity(key, raw, duration=unit == "s")
    except ScenarioError as exc:
        raise StudyError(key, exc.why) from None


def base_mapping(base: object, source_dir: Path | None) -> dict[str, Any]:
    """The base scenario as a mapping: ``builtin:NAME`` or a YAML file path."""
    if not isinstance(base, str):
        raise StudyError("base", f"must be builtin:NAME or a scenario file path, got {base!r}")
    try:
        if base.startswith("builtin:"):
            text = builtin_scenario_text(base.removeprefix("builtin:"))
        else:
            path = Path(base)
            if not path.is_absolute() and source_dir is not None:
                path = source_dir / path
            text = path.read_text(encoding="utf-8")
    except ScenarioError as exc:
        raise StudyError("base", f"{exc.value!r} {exc.why}") from None
    except OSError as exc:
        raise StudyError("base", f"cannot read {base!r}: {exc.strerror}") from None
    loaded = yaml.safe_load(text)
    return dict(loaded or {})


def _dimensions(raw: object) -> list[list[tuple[tuple[str, Any], ...]]]:
    sweep = _mapping("sweep", raw, ("grid", "zip"))
    dims: list[list[tuple[tuple[str, Any], ...]]] = []
    for key, values in _mapping("sweep.grid", sweep.get("grid") or {}).items():
        where = f"sweep.grid.{key}"
        if not isinstance(values, list) or not values:
            raise StudyError(where, "must be a non-empty list of values")
        dims.append([((str(key), v),) for v in values])
    zipped = _mapping("sweep.zip", sweep.get("zip") or {})
    if zipped:
        lengths = {k: len(v) if isinstance(v, list) else -1 for k, v in zipped.items()}
        for k, n in lengths.items():
            if n <= 0:
                raise StudyError(f"sweep.zip.{k}", "must be a non-empty list of values")
        if len(set(lengths.values())) != 1:
            raise StudyError("sweep.zip", f"lists must have the same length, got {lengths}")
        n = next(iter(lengths.values()))
        dims.append([tuple((str(k), zipped[k][i]) for k in zipped) for i in range(n)])
    if not dims:
        raise StudyError("sweep", "sweeps nothing: give grid or zip keys with values")
    for dim in dims:
        for key, _ in dim[0]:
            if (why := check_key(key)) is not None:
                raise StudyError(f"sweep ({key})", why)
    return dims


def parse_study(raw: object, *, source_dir: Path | None = None, text: str = "") -> Study:
    """Validate a decoded study mapping; raises :class:`StudyError`."""
    top = _mapping("", raw, _KNOWN)
    name = str(top.get("name", "study"))
    seed = top.get("seed", 1)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise StudyError("seed", f"must be a non-negative whole number, got {seed!r}")
    reps = top.get("replications", 3)
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 2:
        raise StudyError("replications", "must be a whole number of at least 2 (a "
                         f"confidence interval needs two), got {reps!r}")
    base = base_mapping(top.get("base", "builtin:default"), source_dir)
    base = merge(base, _mapping("scenario", top.get("scenario") or {}))
    for key in ("duration", "bucket"):
        if key in top:
            base = {**base, key: top[key]}
    dims = _dimensions(top.get("sweep"))
    swept = [k for dim in dims for k, _ in dim[0]]
    if len(set(swept)) != len(swept):
        raise StudyError("sweep", "a key is swept twice")
    axis_raw = _mapping("axis", top.get("axis"), ("key", "label", "unit", "harder", "x_metric",
                                                   "per"))
    axis_key = axis_raw.get("key")
    if axis_key not in swept:
        raise StudyError("axis.key", f"{axis_key!r} is not a swept key (swept: {swept})")
    harder = axis_raw.get("harder", "higher")
    if harder not in ("higher", "lower"):
        raise StudyError("axis.harder", f"must be higher or lower, got {harder!r}")
    x_metric = axis_raw.get("x_metric")
    if x_metric is not None and x_metric not in METRICS:
        raise _unknown("axis.x_metric", str(x_metric), list(METRICS))
    per = axis_raw.get("per", 1)
    if isinstance(per, bool) or not isinstance(per, int | float) or per <= 0:
        raise StudyError("axis.per", f"must be a positive number, got {per!r}")
    axis = Axis(str(axis_key), str(axis_raw.get("label", axis_key)),
                str(axis_raw.get("unit", "")), str(harder), x_metric, float(per))
    axis_dim = next(d for d in dims if any(k == axis.key for k, _ in d[0]))
    for values in axis_dim:
        axis_number(axis.key, dict(values)[axis.key])
    config_keys = tuple(k for d in dims if d is not axis_dim for k, _ in d[0])
    group_by = top.get("group_by") or []
    if not isinstance(group_by, list) or any(g not in config_keys for g in group_by):
        raise StudyError("group_by", f"must list swept keys other than the axis "
                         f"({list(config_keys)}), got {group_by!r}")
    thresholds = []
    for metric, bound in _mapping("thresholds", top.get("thresholds") or {}).items():
        if metric not in METRICS:
            raise _unknown(f"thresholds.{metric}", str(metric), list(METRICS))
        b = _mapping(f"thresholds.{metric}", bound, ("max", "min"))
        if len(b) != 1:
            raise StudyError(f"thresholds.{metric}", "give exactly one of max or min")
        kind, value = next(iter(b.items()))
        thresholds.append(Threshold(str(metric), str(kind), _quantity(
            f"thresholds.{metric}.{kind}", value, METRICS[str(metric)].unit)))
    if not thresholds:
        raise StudyError("thresholds", "a study needs at least one threshold")
    figures = tuple(_figure(i, f, swept, config_keys)
                    for i, f in enumerate(_list("figures", top.get("figures") or [])))
    references = []
    for i, r in enumerate(_list("references", top.get("references") or [])):
        m = _mapping(f"references[{i}]", r, ("metric", "value", "label"))
        if m.get("metric") not in METRICS:
            raise _unknown(f"references[{i}].metric", str(m.get("metric")), list(METRICS))
        metric = str(m["metric"])
        references.append(Reference(metric, _quantity(f"references[{i}].value", m.get("value"),
                                                       METRICS[metric].unit),
                                    str(m.get("label", ""))))
    points = []
    for index, combo in enumerate(itertools.product(*dims)):
        assignment = tuple(kv for part in combo for kv in part)
        try:
            scenario = parse_scenario(apply_overrides(base, [
                f"{key}={_yaml_value(value)}" for key, value in assignment]))
        except ScenarioError as exc:
            where = ", ".join(f"{k}={v}" for k, v in assignment)
            raise StudyError(f"scenario ({where})", str(exc)) from None
        points.append(Point(index, assignment, scenario))
    return Study(name=name, title=str(top.get("title", name)),
                 question=str(top.get("question", "")), seed=seed, replications=reps,
                 axis=axis, config_keys=config_keys, group_by=tuple(group_by),
                 thresholds=tuple(thresholds), figures=figures, references=tuple(references),
                 points=tuple(points), raw=dict(top), text=text)


def _yaml_value(value: object) -> str:
    """A swept value as the YAML text of a ``--set key=value`` override."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 30)
    return text.removesuffix("\n...\n").strip()


def _list(key: str, raw: object) -> list[Any]:
    if not isinstance(raw, list):
        raise StudyError(key, f"must be a list, got {raw!r}")
    return raw


_FIGURE_KEYS = ("type", "name", "title", "metrics", "x", "log_x", "log_y", "column", "at",
                "analytic")


def _figure(i: int, raw: object, swept: list[str], config_keys: tuple[str, ...]) -> Figure:
    where = f"figures[{i}]"
    f = _mapping(where, raw, _FIGURE_KEYS)
    kind = f.get("type")
    if kind not in FIGURE_TYPES:
        raise StudyError(f"{where}.type", f"must be one of {list(FIGURE_TYPES)}, got {kind!r}")
    name = f.get("name")
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise StudyError(f"{where}.name", f"must be a file-name-safe word, got {name!r}")
    metrics = tuple(str(m) for m in _list(f"{where}.metrics", f.get("metrics", [])))
    for m in metrics:
        if m not in METRICS:
            raise _unknown(f"{where}.metrics", m, list(METRICS))
    x = str(f.get("x", "axis"))
    if kind == "sweep":
        if not metrics:
            raise StudyError(f"{where}.metrics", "a sweep figure needs at least one metric")
        if x != "axis" and x not in METRICS:
            raise _unknown(f"{where}.x", x, ["axis", *METRICS])
    column = str(f.get("column", ""))
    at: tuple[tuple[str, Any], ...] = ()
    if kind == "timeseries":
        if column not in SERIES_FIGURE_COLUMNS:
            raise StudyError(f"{where}.column", f"must be one of {list(SERIES_FIGURE_COLUMNS)}"
                             f", got {column!r}")
        at_map = _mapping(f"{where}.at", f.get("at") or {})
        for k in at_map:
            if k not in swept:
                raise StudyError(f"{where}.at.{k}", f"is not a swept key (swept: {swept})")
        at = tuple((str(k), v) for k, v in at_map.items())
    if kind == "capacity" and x not in config_keys:
        raise StudyError(f"{where}.x", f"must be a configuration key {list(config_keys)}")
    return Figure(type=str(kind), name=name, title=str(f.get("title", name)), metrics=metrics,
                  x=x, log_x=bool(f.get("log_x", False)), log_y=bool(f.get("log_y", False)),
                  column=column, at=at, analytic=bool(f.get("analytic", False)))


def load_study(source: str) -> Study:
    """A study from ``builtin:NAME`` or a YAML file path."""
    if source.startswith("builtin:"):
        name = source.removeprefix("builtin:")
        if name not in STUDY_NAMES:
            raise StudyError("<study>", f"no shipped study {name!r}; known: "
                             f"{', '.join(STUDY_NAMES)}")
        text = (resources.files("privtrak.capacity") / "studies" / f"{name}.yaml").read_text(
            encoding="utf-8")
        source_dir = None
    else:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise StudyError("<study>", f"cannot read {source!r}: {exc.strerror}") from None
        source_dir = path.parent
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StudyError("<study>", f"{source} is not valid YAML: {exc}") from None
    return parse_study(raw if raw is not None else {}, source_dir=source_dir, text=text)
