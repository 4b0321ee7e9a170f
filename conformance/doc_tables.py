"""The configuration tables of SPEC.md and PROTOCOL.md, rendered from the code.

Three markdown tables restate the keys of a configuration, their values and
their defaults per preset:

* ``SPEC.md`` section 1, the policy table (``| policy field | values | ...``);
* ``SPEC.md`` R10, the numeric keys (``| key | seed | recommended | unit |``);
* ``PROTOCOL.md`` section 4, every key of ``CONFIG`` (``| key | values | ...``).

The source of each is :mod:`privtrak.reference`'s ``_policy.py`` (fields,
values, presets, rules) and :func:`~privtrak.reference.default_config` (the
numeric defaults). This module renders each table from that source; run ::

    python -m privtrak.conformance.doc_tables          # report drift, exit 1 if any
    python -m privtrak.conformance.doc_tables --write  # rewrite the tables in place

from the root of a checkout (the files are ``reference/SPEC.md`` and
``conformance/PROTOCOL.md`` below the current directory; ``--spec`` and
``--protocol`` name others). Only the table is rewritten; the text around it is kept.
``tests/conformance/test_doc_tables.py`` checks every table, and the
JSON schemas, against the code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from privtrak.reference import PRESETS, default_config
from privtrak.reference._policy import POLICY_FIELDS, POLICY_RULES, policy_values

NUMERIC_KEYS: tuple[str, ...] = (
    "batch_size", "shard_count", "gc_interval", "peer_lifetime",
    "prometheus_reporting_interval", "max_batch_age", "max_pending",
    "retry_backoff_initial", "retry_backoff_max",
)
"""The configuration keys that are not ``preset`` and not a policy field."""

_SPEC_UNITS = {
    "batch_size": "records",
    "shard_count": "shards",
    "gc_interval": "duration, whole seconds",
    "peer_lifetime": "duration, whole seconds",
    "prometheus_reporting_interval": "duration",
    "max_batch_age": "duration, whole seconds",
    "max_pending": "records",
    "retry_backoff_initial": "duration, whole seconds",
    "retry_backoff_max": "duration, whole seconds",
}
_PROTOCOL_VALUES = {
    "batch_size": "records per batch",
    "shard_count": "shards",
    "gc_interval": "seconds",
    "peer_lifetime": "seconds",
    "prometheus_reporting_interval": "seconds (not observable)",
    "max_batch_age": 'seconds, or `"off"`',
    "max_pending": 'records, or `"off"`',
    "retry_backoff_initial": "seconds",
    "retry_backoff_max": "seconds",
}
_PRESET_ORDER = ("seed", "recommended")


@dataclass(frozen=True, slots=True)
class Table:
    """One documented table: the file it lives in and its header row."""

    name: str
    doc: str
    """``spec`` or ``protocol``."""
    header: tuple[str, ...]


SPEC_POLICY = Table("SPEC.md policy table", "spec",
                    ("policy field", "values", "seed", "recommended", "rule"))
SPEC_NUMERIC = Table("SPEC.md R10 table", "spec", ("key", "seed", "recommended", "unit"))
PROTOCOL_CONFIG = Table("PROTOCOL.md CONFIG table", "protocol",
                        ("key", "values", "seed preset", "recommended preset"))
TABLES = (SPEC_POLICY, SPEC_NUMERIC, PROTOCOL_CONFIG)


def _code(text: str) -> str:
    return f"`{text}`"


def _policy_text(value: object) -> str:
    """A policy value as the documents write it (``true``, ``reset``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(getattr(value, "value", value))


def go_duration_text(seconds: float) -> str:
    """``seconds`` in the largest Go unit that states it exactly (``3m``, ``1h``, ``1s``)."""
    exact = Fraction(seconds)
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if exact >= size and exact % size == 0:
            return f"{exact // size}{unit}"
    return f"{float(exact)}s"


def rows(table: Table) -> list[tuple[str, ...]]:
    """The body rows of ``table`` as the code says they must read."""
    configs = {p: default_config(p) for p in _PRESET_ORDER}
    out: list[tuple[str, ...]] = []
    if table is SPEC_POLICY:
        for name in POLICY_FIELDS:
            listed = ", ".join(_code(_policy_text(v)) for v in policy_values(name))
            out.append((_code(name), listed,
                        *(_code(_policy_text(getattr(configs[p].policy, name)))
                          for p in _PRESET_ORDER), POLICY_RULES[name]))
    elif table is SPEC_NUMERIC:
        for key in NUMERIC_KEYS:
            cells = []
            for preset in _PRESET_ORDER:
                value = getattr(configs[preset], key)
                if value is None:
                    cells.append("off")
                elif key in ("batch_size", "shard_count", "max_pending"):
                    cells.append(str(value))
                else:
                    cells.append(go_duration_text(value))
            out.append((_code(key), *cells, _SPEC_UNITS[key]))
    else:
        out.append((_code("preset"), ", ".join(_code(p) for p in PRESETS),
                    *(_code(p) for p in _PRESET_ORDER)))
        for key in NUMERIC_KEYS:
            cells = []
            for preset in _PRESET_ORDER:
                value = getattr(configs[preset], key)
                cells.append('`"off"`' if value is None else str(value))
            out.append((_code(key), _PROTOCOL_VALUES[key], *cells))
        for name in POLICY_FIELDS:
            choices = policy_values(name)
            boolean = choices == (False, True)
            listed = "bool" if boolean else ", ".join(_code(str(v)) for v in choices)
            defaults = [_policy_text(getattr(configs[p].policy, name)) for p in _PRESET_ORDER]
            out.append((_code(name), listed,
                        *(d if boolean else _code(d) for d in defaults)))
    return out


def render(table: Table) -> str:
    """``table`` as markdown: header, separator, body rows, one per line."""
    lines = [_row(table.header), "|" + "---|" * len(table.header)]
    lines.extend(_row(r) for r in rows(table))
    return "\n".join(lines) + "\n"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def find_table(text: str, table: Table) -> tuple[int, int]:
    """The character span of ``table`` (header to last row, newline included) in ``text``.

    Raises ``ValueError`` naming the table when its header row is not in
    ``text`` exactly once.
    """
    header = _row(table.header) + "\n"
    start = text.find(header)
    if start < 0 or text.find(header, start + 1) >= 0:
        found = "not found" if start < 0 else "found more than once"
        raise ValueError(f"{table.name}: header row {header.strip()!r} {found}")
    end = start
    while end < len(text) and text.startswith("|", end):
        newline = text.find("\n", end)
        end = len(text) if newline < 0 else newline + 1
    return start, end


def parse_table(text: str, table: Table) -> list[tuple[str, ...]]:
    """The body rows of ``table`` in ``text``, each a tuple of stripped cells."""
    start, end = find_table(text, table)
    lines = text[start:end].splitlines()[2:]
    return [tuple(cell.strip() for cell in line.strip().strip("|").split("|"))
            for line in lines]


def rewrite(text: str, tables: Sequence[Table]) -> str:
    """``text`` with each of ``tables`` replaced by its rendering."""
    for table in tables:
        start, end = find_table(text, table)
        text = text[:start] + render(table) + text[end:]
    return text


DEFAULT_PATHS = {"spec": Path("reference/SPEC.md"), "protocol": Path("conformance/PROTOCOL.md")}
"""``spec``/``protocol`` -> the document, relative to the root of a checkout."""


def main(argv: Sequence[str] | None = None) -> int:
    """Report (exit 1) or, with ``--write``, fix the tables that differ from the code."""
    parser = argparse.ArgumentParser(
        prog="python -m privtrak.conformance.doc_tables",
        description="Check the configuration tables of SPEC.md and PROTOCOL.md against "
                    "the code; --write rewrites the tables that differ.")
    parser.add_argument("--spec", type=Path, default=DEFAULT_PATHS["spec"],
                        help="SPEC.md to use (default: %(default)s)")
    parser.add_argument("--protocol", type=Path, default=DEFAULT_PATHS["protocol"],
                        help="PROTOCOL.md to use (default: %(default)s)")
    parser.add_argument("--write", action="store_true", help="rewrite tables that differ")
    args = parser.parse_args(argv)
    paths = {"spec": args.spec, "protocol": args.protocol}
    drifted = 0
    for doc, path in paths.items():
        tables = [t for t in TABLES if t.doc == doc]
        try:
            text = path.read_text(encoding="utf-8")
            new = rewrite(text, tables)
        except OSError as exc:
            print(f"{path}: cannot read it ({exc.strerror}); run from the root of a checkout "
                  "or name the file with --spec/--protocol", file=sys.stderr)
            return 2
        except ValueError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            return 2
        if new == text:
            continue
        drifted += 1
        changed = ", ".join(t.name for t in tables if parse_table(text, t) != rows(t))
        if not args.write:
            print(f"{path}: does not match the code: {changed}; run with --write to rewrite")
            continue
        try:
            path.write_text(new, encoding="utf-8")
        except OSError as exc:
            print(f"{path}: cannot write it ({exc.strerror})", file=sys.stderr)
            return 2
        print(f"{path}: rewrote {changed}")
    return 1 if drifted and not args.write else 0


if __name__ == "__main__":
    sys.exit(main())
