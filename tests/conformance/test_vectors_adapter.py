"""The reference adapter: protocol v1 in process and over a real subprocess."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

from privtrak.conformance import (
    MUTANTS,
    Case,
    Execution,
    describe_mutant,
    load_strict,
    packaged_vector_dir,
)
from privtrak.conformance import _generate as generate
from privtrak.conformance._adapter import ALL_FEATURES, AdapterInfo, serve
from privtrak.conformance._cases_random import random_case
from privtrak.conformance._steps import Step
from privtrak.conformance._steps_json import encode_observation, encode_step
from privtrak.conformance.cli import vectors
from privtrak.reference import Config, UserId, config_to_mapping


def case_messages(case: Case) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = [{"type": "reset", "case": case.id, "preset": case.preset,
                                   "config": config_to_mapping(case.config),
                                   "start": case.start}]
    msgs += [{"type": "step", "index": i, "step": encode_step(s.step)}
             for i, s in enumerate(case.steps)]
    return msgs


def converse(lines: list[str], factory: Any = Execution,
             info: AdapterInfo | None = None) -> tuple[list[dict[str, Any]], str, int]:
    out, err = io.StringIO(), io.StringIO()
    args = (factory,) if info is None else (factory, info)
    status = serve(*args, stdin=io.StringIO("".join(line + "\n" for line in lines)),
                   stdout=out, stderr=err)
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue(), status


@cache
def shipped(group: str) -> list[Case]:
    return load_strict(packaged_vector_dir() / f"{group}.json")


def some_cases() -> list[Case]:
    seed = shipped("seed")
    rec = shipped("recommended")
    return [*seed[:6], *rec[:6], *[c for c in rec if "snapshot" in c.features][:1]]


def check_replies(case: Case, replies: list[dict[str, Any]]) -> None:
    assert replies[0] == {"type": "ready"}, case.id
    for index, (reply, s) in enumerate(zip(replies[1:], case.steps, strict=True)):
        assert reply == {"type": "observation", "index": index,
                         "observation": encode_observation(s.expect)}, (case.id, index)


def test_in_process_conversation_matches_vectors() -> None:
    cases = some_cases()
    lines = [json.dumps({"type": "hello", "protocol": 2})]
    for case in cases:
        lines += [json.dumps(m) for m in case_messages(case)]
    lines.append(json.dumps({"type": "bye"}))
    lines.append("this line is never read")
    replies, err, status = converse(lines)
    assert status == 0 and err == ""
    hello = replies.pop(0)
    assert hello["type"] == "hello" and hello["protocol"] == 2
    assert set(hello["features"]) == set(ALL_FEATURES)
    for case in cases:
        n = len(case.steps) + 1
        check_replies(case, replies[:n])
        replies = replies[n:]
    assert replies == []


def test_protocol_errors_are_answered_and_the_loop_goes_on() -> None:
    replies, err, status = converse([
        "not json",
        "[1, 2]",
        json.dumps({"type": "step", "index": 0, "step": {"op": "state", "now": 0}}),
        json.dumps({"type": "dance", "index": 3}),
        json.dumps({"type": "reset", "case": "c", "preset": "seed",
                    "config": {"preset": "seed", "bogus": 1}, "start": 0}),
        json.dumps({"type": "reset", "case": "c", "preset": "recommended",
                    "config": {"preset": "seed"}, "start": 0}),
        json.dumps({"type": "reset", "case": "c", "preset": "seed",
                    "config": {"preset": "seed"}, "start": -5}),
        json.dumps({"type": "reset", "case": "c", "preset": "seed",
                    "config": {"preset": "seed"}, "start": 10}),
        json.dumps({"type": "step", "index": 0, "step": {"op": "state", "now": 3}}),
        json.dumps({"type": "step", "index": 1, "step": {"op": "fly", "now": 11}}),
        json.dumps({"type": "step", "index": 2, "step": {"op": "state", "now": 12}}),
    ])
    assert status == 0  # end of input without bye also ends cleanly
    kinds = [(r["type"], r.get("index")) for r in replies]
    assert kinds == [("error", None), ("error", None), ("error", 0), ("error", 3),
                     ("unsupported", None), ("unsupported", None), ("unsupported", None),
                     ("ready", None), ("error", 0), ("error", 1), ("observation", 2)]
    assert "bogus" in replies[4]["reason"] and "invalid config" in replies[4]["reason"]
    assert "backwards" in replies[8]["message"]
    assert "case 'c': step 1: step.op" in replies[9]["message"]
    assert err.count("privtrak adapter:") == 6


class Exploding(Execution):
    def apply(self, step: Step) -> Any:
        raise KeyError("boom")


def test_a_crashing_implementation_is_reported_per_step() -> None:
    info = AdapterInfo("exploding", "0", ("preset:seed",))
    replies, err, _ = converse([
        json.dumps({"type": "hello", "protocol": 1}),
        json.dumps({"type": "reset", "case": "c", "preset": "recommended",
                    "config": {"preset": "recommended"}, "start": 0}),
        json.dumps({"type": "reset", "case": "c", "preset": "seed",
                    "config": {"preset": "seed"}, "start": 0}),
        json.dumps({"type": "step", "index": 0, "step": {"op": "state", "now": 0}}),
    ], Exploding, info)
    assert replies[0]["implementation"] == "exploding"
    assert replies[1] == {"type": "unsupported",
                          "reason": "preset 'recommended' not supported"}
    assert replies[3]["type"] == "error" and "KeyError" in replies[3]["message"]
    assert "Traceback" in err


def factory_seen(config: Config, start: int,
                 allow_list: frozenset[UserId] | None = None) -> Execution:
    assert config.batch_size == 7 and start == 42
    assert allow_list == frozenset({UserId(bytes(16))})
    return Execution(config, start, allow_list)


def test_factory_gets_the_parsed_config_and_start() -> None:
    replies, _, _ = converse([json.dumps({
        "type": "reset", "case": "c", "preset": "seed",
        "config": {"preset": "seed", "batch_size": 7}, "allow_list": ["00" * 16],
        "config_yaml": "preset: seed\nbatch_size: 7\n", "start": 42})], factory_seen)
    assert replies == [{"type": "ready"}]


def test_reset_with_a_yaml_config_that_disagrees_is_declined() -> None:
    """config_yaml (the seed's YAML form, Go durations) must say what config says."""
    ok, _, _ = converse([json.dumps({
        "type": "reset", "case": "c", "preset": "seed", "config": {"preset": "seed",
        "gc_interval": 90}, "config_yaml": "preset: seed\ngc_interval: 1m30s\n",
        "allow_list": None, "start": 0})])
    assert ok == [{"type": "ready"}]
    bad, _, _ = converse([json.dumps({
        "type": "reset", "case": "c", "preset": "seed", "config": {"preset": "seed",
        "gc_interval": 90}, "config_yaml": "preset: seed\ngc_interval: 90ms\n",
        "allow_list": None, "start": 0})])
    assert bad[0]["type"] == "unsupported" and "gc_interval" in bad[0]["reason"]
    unknown, _, _ = converse([json.dumps({
        "type": "reset", "case": "c", "preset": "seed",
        "config": {"preset": "seed", "flux": 1}, "allow_list": None, "start": 0})])
    assert unknown[0]["type"] == "unsupported" and "flux" in unknown[0]["reason"]


def run_subprocess(args: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "privtrak", *args], input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)


def test_adapter_subprocess_passes_cases_over_the_real_protocol() -> None:
    cases = [shipped("seed")[4], shipped("recommended")[9], shipped("defects")[3],
             random_case("recommended", 0)]
    lines = [json.dumps({"type": "hello", "protocol": 1})]
    for case in cases:
        lines += [json.dumps(m) for m in case_messages(case)]
    lines.append(json.dumps({"type": "bye"}))
    proc = run_subprocess(["adapter"], "\n".join(lines) + "\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    replies = [json.loads(line) for line in proc.stdout.splitlines()]
    assert replies.pop(0)["implementation"] == "privtrak-reference"
    for case in cases:
        n = len(case.steps) + 1
        check_replies(case, replies[:n])
        replies = replies[n:]


def test_unknown_mutant_is_a_usage_error_that_suggests_the_closest_name() -> None:
    proc = run_subprocess(["adapter", "--mutant", "purge-to-early"], "")
    assert proc.returncode == 3  # a command-line error; 2 means an adapter could not run
    assert "unknown mutant 'purge-to-early' (did you mean 'purge-too-early'?)" in proc.stderr
    assert "--list-mutants" in proc.stderr


def test_list_mutants_prints_every_mutant_with_what_it_breaks() -> None:
    proc = run_subprocess(["adapter", "--list-mutants"], "")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(MUTANTS)
    for line, name in zip(lines, MUTANTS, strict=True):
        assert describe_mutant(name) in line
    assert "--list-mutants" in run_subprocess(["adapter", "--help"], "").stdout


def test_vectors_check_command(tmp_path: Path) -> None:
    out = tmp_path / "v"
    assert vectors.run(argparse.Namespace(out=out, check=False)) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"{g}.json" for g in generate.GROUPS] + ["SHA256SUMS"])
    for name in names:
        assert (out / name).read_bytes() == (packaged_vector_dir() / name).read_bytes()
    assert vectors.run(argparse.Namespace(out=out, check=True)) == 0
    (out / "seed.json").write_text("{}\n", encoding="utf-8")
    (out / "defects.json").unlink()
    bad = run_subprocess(["vectors", "--out", str(out), "--check"], "")
    assert bad.returncode == 1
    assert "seed.json" in bad.stderr and "defects.json" in bad.stderr
    assert "recommended.json" not in bad.stderr
