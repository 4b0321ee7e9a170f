"""Key expectations of committed vectors, stated by hand on the raw JSON.

These read the files as plain JSON (not through the builders or the
executor), so a wrong executor that regenerated the vectors would fail here.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from privtrak.conformance import packaged_vector_dir
from privtrak.reference import fnv1a_32

JSON = dict[str, Any]


@cache
def raw_cases() -> dict[str, JSON]:
    out: dict[str, JSON] = {}
    for name in ("seed.json", "recommended.json", "defects.json"):
        doc = json.loads((packaged_vector_dir() / name).read_text(encoding="utf-8"))
        out.update({c["id"]: c for c in doc["cases"]})
    return out


def expects(case_id: str) -> list[JSON]:
    return [s["expect"] for s in raw_cases()[case_id]["steps"]]


def steps(case_id: str) -> list[JSON]:
    return [s["step"] for s in raw_cases()[case_id]["steps"]]


def test_negative_delta_only_under_seed() -> None:
    seed = expects("seed/R4.1/counters-decrease")
    assert seed[1]["outcome"] == "credited"
    assert (seed[1]["record"]["up"], seed[1]["record"]["down"]) == ("-900", "-450")
    rec = expects("recommended/R4.1/counters-decrease")
    assert (rec[1]["outcome"], rec[1]["record"]) == ("reset", None)
    assert rec[2]["record"]["up"] == "50"


def test_two_peers_interleave_only_when_keyed_without_peer() -> None:
    seed = expects("seed/R2.1/two-peers-one-torrent")
    assert [e["record"]["up"] if e["record"] else None for e in seed[:3]] == [None, "-990",
                                                                             "1090"]
    rec = expects("recommended/R2.1/two-peers-one-torrent")
    assert [e["outcome"] for e in rec[:3]] == ["baseline", "baseline", "credited"]
    assert rec[2]["record"]["up"] == "100"
    assert all(e["peer_id"] is not None for e in rec[3]["entries"])
    assert all(e["peer_id"] is None for e in seed[3]["entries"])


def test_ghost_baseline() -> None:
    seed = expects("seed/R5.3/stopped-unknown-entry")
    assert seed[0]["outcome"] == "baseline" and len(seed[1]["entries"]) == 1
    rec = expects("recommended/R5.3/stopped-unknown-entry")
    assert rec[0]["outcome"] == "stopped_unknown" and rec[1]["entries"] == []


def test_on_path_failure_rejects_announce_but_keeps_accounting() -> None:
    seed = expects("seed/R6.6/failed-delivery-and-the-announce")
    failed = seed[2]
    assert (failed["status"], failed["reject"], failed["outcome"]) == (
        "rejected", "handler_failed", "credited")
    assert failed["record"]["up"] == "50"
    assert [d["outcome"] for d in failed["deliveries"]] == ["fail_after_commit"]
    rec = expects("recommended/R6.6/failed-delivery-and-the-announce")
    assert (rec[2]["status"], rec[2]["deliveries"]) == ("ok", [])


def test_retained_batch_keeps_its_id_merged_batch_gets_a_new_one() -> None:
    rec = expects("recommended/R6.5/failed-batch")
    ids = [[d["batch"]["batch_id"] for d in e.get("deliveries", [])] for e in rec]
    assert [i for i in ids if i] == [[1], [1]]
    seed = expects("seed/R6.5/failed-batch")
    batches = [d["batch"] for e in seed for d in e.get("deliveries", [])]
    assert [(b["batch_id"], len(b["records"])) for b in batches] == [(1, 2), (2, 3)]
    assert batches[1]["records"][:2] == batches[0]["records"]


def test_backoff_schedule_is_exponential() -> None:
    rec = expects("recommended/R6.5/repeated-failures")
    deliver_steps = [s for s in steps("recommended/R6.5/repeated-failures")
                     if s["op"] == "deliver"]
    deliver_expects = [e for s, e in zip(steps("recommended/R6.5/repeated-failures"), rec,
                                         strict=True) if s["op"] == "deliver"]
    times = [s["now"] for s, e in zip(deliver_steps, deliver_expects, strict=True)
             if e["deliveries"]]
    assert times == [1, 2, 4, 8]


def test_counter_above_int64() -> None:
    seed = expects("seed/R9.2/counter-above-int64")
    assert seed[1]["record"]["up"] == str(-(2**63))
    rec = expects("recommended/R9.2/counter-above-int64")
    assert (rec[1]["outcome"], rec[1]["reject"]) == ("rejected", "counter_out_of_range")
    big = expects("seed/R9.1/large-counters")[1]["record"]
    assert big["up"] == str(2**63 - 1) and big["down"] == str(2**53 + 1)


def test_seed_panic_flag_in_gc() -> None:
    gcs = [e for s, e in zip(steps("seed/R7.3/seed-expiry-panic"),
                             expects("seed/R7.3/seed-expiry-panic"), strict=True)
           if s["op"] == "gc"]
    # The seed's GC panics before writing anything back and the process dies (R7.3).
    assert [(g["seed_would_panic"], g["removed_entries"]) for g in gcs] == [(True, 0)]
    rec_gcs = [e for s, e in zip(steps("recommended/R7.3/seed-expiry-panic"),
                                 expects("recommended/R7.3/seed-expiry-panic"), strict=True)
               if s["op"] == "gc"]
    assert [(g["seed_would_panic"], g["removed_entries"]) for g in rec_gcs] == [(True, 1),
                                                                                (False, 2)]
    assert "seed_panic" not in raw_cases()["seed/R7.3/seed-expiry-panic"]["features"]


def test_gc_boundary_is_strict() -> None:
    gc = expects("recommended/R7/gc-lifetime-boundary")
    assert (gc[2]["removed_entries"], gc[3]["removed_entries"]) == (0, 1)


def test_stop_drops_or_returns() -> None:
    seed = expects("seed/R8.2/stop-with-failing-handler")[3]
    assert (seed["dropped_records"], seed["returned"]) == (1, [])
    rec = expects("recommended/R8.2/stop-with-failing-handler")[3]
    assert rec["dropped_records"] == 0
    assert rec["returned"][0]["records"][0]["up"] == "40"
    ledger = expects("recommended/R8.2/stop-with-failing-handler")[4]["ledger"]
    assert (ledger["returned_up"], ledger["pending_up"]) == ("40", "0")


def test_closing_after_stop() -> None:
    for preset in ("seed", "recommended"):
        ex = expects(f"{preset}/R8.1/announce-after-stop")
        assert [(e["reject"], e["record"]) for e in ex[2:4]] == [("closing", None)] * 2


def test_shard_is_fnv1a_of_user_id() -> None:
    for preset in ("seed", "recommended"):
        for e in expects(f"{preset}/R2.3/fnv1a-shards"):
            for d in e.get("deliveries", []):
                user = bytes.fromhex(d["batch"]["records"][0]["user"])
                assert d["batch"]["shard"] == fnv1a_32(user) % 4


def test_event_records_only_under_recommended() -> None:
    seed = expects("seed/R5.2/completed-without-bytes")
    assert seed[1]["record"] is None
    rec = expects("recommended/R5.2/completed-without-bytes")
    assert (rec[1]["record"]["kind"], rec[1]["record"]["event"]) == ("event", "completed")
    assert rec[2]["record"] is None  # a snatch counts once


def test_attributed_bytes_in_ledger() -> None:
    rec = expects("recommended/R11.1/attributed-bytes")[3]["ledger"]
    assert (rec["attributed_baseline_up"], rec["attributed_reset_up"],
            rec["attributed_purge_gap_up"]) == ("100", "50", "70")


def test_counters_are_decimal_strings_everywhere() -> None:
    for case in raw_cases().values():
        for s in case["steps"]:
            req = s["step"].get("request")
            if req is not None:
                assert all(isinstance(req[k], str) for k in ("uploaded", "downloaded", "left"))
            rec = s["expect"].get("record")
            if rec is not None:
                assert isinstance(rec["up"], str) and isinstance(rec["down"], str)
