"""The human summary of a run: the text ``privtrak sim`` prints and writes
to ``summary.md``.

Deterministic (no wall-clock figure): the same result gives the same text.
Every figure says what it is made of: the byte table lists each term of
``transferred = credited + pending + returned + unreported + lost.*`` with
exact byte counts, so the sum can be checked by eye; memory is the modelled
memory of the simulated (Go) tracker, not of the process that ran the
simulation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._results import SimulationResult

MEMORY_MEASURES = ("modelled memory of a Go tracker's accounting path (the memory cost "
                   "model applied to the simulated gauges), not the memory of this process")
"""What ``results.json["memory"]`` measures, in words."""


def human_bytes(n: float) -> str:
    """``n`` bytes in binary units (``1.5 GiB``); signs are kept."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024:
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def human_seconds(x: float | None) -> str:
    """A duration in s, ms or us with three significant digits; ``-`` for none."""
    if x is None:
        return "-"
    if x == 0:
        return "0 s"
    if x < 1e-3:
        return f"{x * 1e6:.3g} us"
    if x < 1:
        return f"{x * 1e3:.3g} ms"
    return f"{x:.3g} s"


def _percent(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.3g}%"


def bytes_lines(r: SimulationResult) -> list[str]:
    """The byte table: transferred, then each term of the identity."""
    b = r.bytes
    terms: dict[str, int] = b["terms"]
    width = max(len(f"{v:,}") for v in (b["transferred"], *terms.values()))
    lines = [f"  bytes (up + down): transferred = {' + '.join(terms)}"]
    lines.append(f"    {'transferred':<18} {b['transferred']:>{width},}  "
                 f"({human_bytes(b['transferred'])})")
    for i, (name, value) in enumerate(terms.items()):
        sign = "=" if i == 0 else "+"
        lines.append(f"  {sign} {name:<18} {value:>{width},}  ({human_bytes(value)})")
    verdict = ("exact (the terms add up to transferred, byte for byte, in each direction)"
               if r.conserved else f"BROKEN: {r.accounting['conservation']['difference']}")
    lines.append(f"    conservation: {verdict}")
    if b["duplicated"]:
        lines.append(f"    duplicated {b['duplicated']:,} ({human_bytes(b['duplicated'])}): "
                     "applied by the database more than once, outside the sum")
    return lines


def summary_text(r: SimulationResult) -> str:
    """The summary of a run, several lines, no trailing newline."""
    s, sc, rates, lat = r.summary, r.scenario, r.rates, r.latency
    age = s["max_oldest_undelivered_age"]
    head = (f"{sc['name']}: {sc['hook_mode']}, preset {sc['tracker']['preset']}, "
            f"seed {sc['seed']}, {r.simulated_seconds:.0f} s simulated")
    if r.partial:
        head += f" (INTERRUPTED: partial run of {sc['duration']:.0f} s)"
    rpc = rates["records_per_call"]
    lines = [
        head,
        f"  verdict: {r.stability['message']}",
        f"  announces: {s['announces_offered']} offered, {s['announces_completed']} completed, "
        f"{s['announces_failed']} failed, {s['announces_timed_out']} timed out, "
        f"{s['announces_rejected']} rejected",
        f"  answer latency: p50 {human_seconds(lat['p50'])}, p90 {human_seconds(lat['p90'])}, "
        f"p99 {human_seconds(lat['p99'])}, max {human_seconds(lat['max'])} "
        f"(over {lat['count']} answers)",
        f"  database: {s['handler_calls']} calls ({rates['db_calls_per_s']:.3g}/s), "
        f"{s['handler_failures']} failed, "
        f"{'-' if rpc is None else f'{rpc:.3g}'} records per call, connections "
        f"{_percent(rates['connection_utilization'])} busy",
        f"  shard locks: {_percent(rates['shard_lock_utilization'])} busy, mean wait "
        f"{human_seconds(r.queueing['mean_wait'])}",
        f"  tracker: peak {s['peak_pending_deltas']} pending deltas, peak {s['peak_tasks']} "
        f"tasks, oldest undelivered delta at most {age if age is not None else 0:.0f} s",
        f"  memory: peak {human_bytes(r.memory['peak_bytes'] or 0)}, {r.memory['measures']}",
        *bytes_lines(r),
    ]
    return "\n".join(lines)


def bytes_breakdown(accounting: dict[str, Any]) -> dict[str, Any]:
    """Bytes per accounting term, up and down added, for ``results.json["bytes"]``."""
    rows = accounting["rows"]

    def both(name: str) -> int:
        return int(rows[name]["up"]) + int(rows[name]["down"])

    terms = {name: both(name) for name in rows if name not in ("transferred", "duplicated")}
    lost = {name: v for name, v in terms.items() if name.startswith("lost.")}
    return {
        "identity": "transferred = " + " + ".join(terms),
        "transferred": both("transferred"),
        "terms": terms,
        "lost_total": sum(lost.values()),
        "sum_of_terms": sum(terms.values()),
        "duplicated": both("duplicated"),
    }
