"""What the fuzzer's traces look like: figures for the record.

``python -m privtrak.conformance._fuzz_stats [--preset P ...] [--examples N]
[--seed S] [--mix]`` draws ``N`` traces from the fuzzer's own strategy
(:func:`._fuzz_traces.traces`, in one Hypothesis run exactly as ``privtrak conform
fuzz`` draws them), runs each on the reference and prints JSON:

* ``length``: the distribution of trace lengths in steps (min, quartiles,
  max, mean, and a histogram in buckets of five);
* ``seed_adapter_accepts``: the share of traces whose configuration an
  adapter of the seed alone can run (:func:`._fuzz.seed_adapter_accepts`);
* ``rules``: for each SPEC.md rule, the share of traces that reached it, as
  told by the observations (an outcome, a reject code, a record kind, a
  delivery, a failed batch, a seed panic, a step kind).

No adapter is involved; the figures depend only on the code and the seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed

from ._execute import BeyondModel, Execution
from ._fuzz_traces import Trace, seed_adapter_accepts, traces
from ._steps import (
    AnnounceObservation,
    DeliverObservation,
    GcObservation,
    Observation,
    ReportStep,
    SnapshotRestoreStep,
    StateObservation,
    Step,
    StopObservation,
    TakeObservation,
)

_BY_OUTCOME = {"baseline": "R3", "credited": "R3.2", "reset": "R4.1", "stopped": "R5.1",
               "stopped_unknown": "R5.3", "expired": "R7.2"}
_BY_REJECT = {"bad_credential": "R1.1", "unknown_user": "R1.2", "counter_out_of_range": "R9.2",
              "pending_full": "R6.7",
              "closing": "R8.1", "handler_failed": "R6.6"}


def rules_reached(steps: Sequence[Step], observations: Sequence[Observation]) -> set[str]:
    """The rules a run exercised, told by its steps and observations."""
    rules: set[str] = {"R0"}
    for step, obs in zip(steps, observations, strict=False):
        if isinstance(obs, AnnounceObservation):
            rules.add(_BY_OUTCOME.get(obs.outcome.value, "R3"))
            if obs.reject is not None:
                rules.add(_BY_REJECT[obs.reject.value])
            rec = obs.record
            if rec is not None:
                rules.add({"transfer": "R3.3", "event": "R5.2", "purge": "R7.4"}[rec.kind])
                if rec.up < 0 or rec.down < 0:
                    rules.add("R4.1")
                if abs(rec.up) > 2**62 or abs(rec.down) > 2**62:
                    rules.add("R9.1")
            if obs.deliveries:
                rules.update(("R6.1", "R6.3"))
            if obs.seed_would_panic:
                rules.update(("R7.1", "R7.3"))
        elif isinstance(obs, DeliverObservation | StopObservation):
            if any(d.outcome.value != "ok" for d in obs.deliveries):
                rules.add("R6.5")
            if any(d.batch.records and d.batch.records[0].kind == "purge"
                   for d in obs.deliveries):
                rules.add("R7.4")
            if isinstance(obs, StopObservation):
                rules.update(("R8", "R8.2") if obs.returned or obs.dropped_records else ("R8",))
        elif isinstance(obs, GcObservation):
            rules.add("R7")
            if obs.seed_would_panic:
                rules.add("R7.3")
        elif isinstance(obs, TakeObservation):
            if obs.batch is not None:
                rules.add("R6.4")
        elif isinstance(obs, StateObservation):
            rules.update(("R11", "R11.1"))
            if obs.next_deadline is not None:
                rules.add("R6.2")
        if isinstance(step, SnapshotRestoreStep):
            rules.add("R8.3")
        if isinstance(step, ReportStep):
            rules.add("R6.4")
    return rules


def collect(presets: Sequence[str], examples: int, seed: int, *, mix: bool = False,
            snapshots: bool = True) -> list[tuple[Trace, set[str]]]:
    """``examples`` traces of the fuzzer's strategy with the rules each reached."""
    out: list[tuple[Trace, set[str]]] = []

    def record(trace: Trace) -> None:
        execution = Execution(trace.config, trace.start, trace.allow_list)
        observations: list[Observation] = []
        for step in trace.steps:
            try:
                observations.append(execution.apply(step))
            except BeyondModel:
                break
        out.append((trace, rules_reached(trace.steps, observations)))

    test = given(traces(presets, snapshots, mix=mix))(record)
    test = hypothesis_seed(seed)(test)
    test = settings(max_examples=examples, database=None, deadline=None,
                    phases=(Phase.generate,), verbosity=Verbosity.quiet,
                    suppress_health_check=list(HealthCheck))(test)
    test()
    return out


def figures(runs: Sequence[tuple[Trace, set[str]]]) -> dict[str, Any]:
    """The JSON figures of the module docstring."""
    lengths = sorted(len(t.steps) for t, _ in runs)
    quart = statistics.quantiles(lengths, n=4) if len(lengths) > 1 else lengths * 3
    buckets = Counter(5 * (n // 5) for n in lengths)
    reached: Counter[str] = Counter(r for _, rules in runs for r in rules)
    n = len(runs)
    return {
        "traces": n,
        "length": {"min": lengths[0], "p25": quart[0], "median": quart[1], "p75": quart[2],
                   "max": lengths[-1], "mean": round(statistics.fmean(lengths), 2),
                   "histogram_by_5": {f"{b}-{b + 4}": buckets[b] for b in sorted(buckets)}},
        "seed_adapter_accepts": round(sum(seed_adapter_accepts(t.config)
                                          for t, _ in runs) / n, 4),
        "rules": {r: round(reached[r] / n, 4) for r in sorted(reached, key=_rule_key)},
    }


def _rule_key(rule: str) -> tuple[int, ...]:
    return tuple(int(p) for p in rule[1:].split("."))


def main(argv: Sequence[str] | None = None) -> int:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m privtrak.conformance._fuzz_stats")
    parser.add_argument("--preset", action="append", choices=("seed", "recommended"),
                        default=[])
    parser.add_argument("--examples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mix", action="store_true",
                        help="also draw policy mixes (as for an adapter of both presets)")
    args = parser.parse_args(argv)
    presets = args.preset or ["seed", "recommended"]
    runs = collect(presets, args.examples, args.seed, mix=args.mix,
                   snapshots="seed" not in presets or len(presets) > 1)
    print(json.dumps({"presets": presets, "seed": args.seed, "mix": args.mix,
                      **figures(runs)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
