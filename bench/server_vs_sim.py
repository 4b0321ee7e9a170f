"""Does the simulator predict a real ``privtrak serve``? Server and simulator,
same setup, side by side, in two setups.

Each setup: one tracker core with one shard buffer (``shard_count: 1``),
``batch_size`` records per batch, a DeltaHandler that needs ``delay``
seconds per transaction (``database_delay`` of the SQLite sink; the
simulator's ``database.latency.base``), and a steady offered load of
``rate`` announces/s for ``--duration`` seconds, each producing one record
(the recommended preset's ``started`` event record):

* ``offpath`` (the recommended preset): deliveries run off the request path,
  one at a time; the rate is above what the sink drains, so pending records
  grow linearly. The simulator's ``hook_mode: offpath``.
* ``onpath`` (the recommended preset with the seed's ``flush_path:
  announce``): the announce that fills the buffer delivers the batch while
  holding the shard lock, and every announce that arrives meanwhile waits
  for the lock, so latency is set by the sink's delay and the queue behind
  it. The simulator's ``hook_mode: prehook`` (the seed's prehook: the
  answer waits for the accounting and the on-path delivery, lock held).

Measured: ``privtrak serve`` pinned to CPU 0 under ``privtrak load`` pinned to
CPU 1, with the server's ``privtrak_pending_records`` sampled from /metrics
every ``--sample`` seconds. Latency is the server's own exact handling time
of every announce (``http.latency_log``: from entering the handler to the
response built, lock waits and on-path deliveries included), read from
``/debug/announce-latency``; the load client's end-to-end figure (from each
announce's due time, so it also holds the client's own backlog, the loopback
TCP path and both processes' waits for a CPU) is reported beside it. The
server's CPU time per announce and its mean sink transaction time are read
at the end.

Predicted: the same setup as a simulator scenario whose two service times
are the measured ones: ``tracker_model.service_time`` = the server's CPU
seconds per announce, and ``database.latency.base`` = the mean measured
transaction time. Everything else is the simulator's prediction: throughput
(completed announces / duration), p99 latency (``result.latency``: from the
announce reaching the tracker to its answer) and pending growth
(``result.stability``'s least-squares slope over the second half of the
run; the server's samples are fitted over the same window).

Writes ``comparison.json``, ``README.md`` (the table), ``figure.png`` and
``scenario-<setup>.json`` into ``--out`` and prints the JSON. Usage::

    python bench/server_vs_sim.py --out reports/server-vs-sim
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from privtrak.sim import parse_scenario, run

TOLERANCE = 0.15

SETUPS: dict[str, dict[str, Any]] = {
    "offpath": {"rate": 800.0, "batch_size": 100, "delay": 0.2, "hook_mode": "offpath",
                "policy": {}, "label": "off the path (recommended)"},
    "onpath": {"rate": 400.0, "batch_size": 100, "delay": 0.1, "hook_mode": "prehook",
               "policy": {"flush_path": "announce"},
               "label": "on the path, lock held (seed's flush_path)"},
}


def _cpu_seconds(pid: int, task: int | None = None) -> float:
    stat = f"/proc/{pid}/stat" if task is None else f"/proc/{pid}/task/{task}/stat"
    fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pinned(cpu: int, argv: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(cpu), *argv] if taskset and (os.cpu_count() or 1) > cpu else argv


def _metric(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    if found is None:
        raise KeyError(name)
    return float(found.group(1))


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
        text: str = resp.read().decode()
        return text


def _percentile(values: list[float], q: float) -> float:
    """The same rank rule as ``privtrak load`` and the simulator's summary."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _slope(points: list[tuple[float, float]]) -> float:
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var


def measure(args: argparse.Namespace, setup: dict[str, Any], work: Path) -> dict[str, Any]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = work / "serve.yaml"
    planned = int(setup["rate"] * args.duration)
    config.write_text(json.dumps({"chihaya": {
        "http": {"shutdown_timeout": "2s", "latency_log": planned},
        "prehooks": [{"name": "privtrak", "options": {
            "shard_count": 1, "batch_size": setup["batch_size"], "max_batch_age": "10s",
            "database": str(work / "totals.db"), "snapshot_path": str(work / "state.json"),
            "database_delay": f"{setup['delay']}s", **setup["policy"]}}]}}))
    log = (work / "serve.log").open("w")
    server = subprocess.Popen(
        _pinned(0, [sys.executable, "-m", "privtrak", "serve", "--config", str(config),
                    "--addr", f"127.0.0.1:{port}", "--log-level", "WARNING"]),
        stdout=log, stderr=log)
    samples: list[tuple[float, float]] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(port, "/metrics")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("server did not start") from None
                time.sleep(0.1)
        stop = threading.Event()
        cpu0 = _cpu_seconds(server.pid)
        loop0 = _cpu_seconds(server.pid, server.pid)  # the event loop's thread

        def sampler() -> None:
            while not stop.wait(args.sample):
                samples.append((time.time(), _metric(_get(port, "/metrics"),
                                                     "privtrak_pending_records")))

        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        out = subprocess.run(
            _pinned(1, [sys.executable, "-m", "privtrak", "load", f"http://127.0.0.1:{port}",
                        "--rate", str(setup["rate"]), "--duration", str(args.duration),
                        "--users", str(args.users), "--torrents", str(args.torrents),
                        "--connections", "64"]),
            capture_output=True, text=True, check=False, timeout=args.duration + 60)
        stop.set()
        thread.join()
        cpu = _cpu_seconds(server.pid) - cpu0
        loop_cpu = _cpu_seconds(server.pid, server.pid) - loop0
        metrics = _get(port, "/metrics")
        handled = json.loads(_get(port, "/debug/announce-latency"))["seconds"]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        log.close()
    load = json.loads(out.stdout)
    answered = load["answered"]
    # Sample times relative to the load's first due announce.
    samples = [(round(t - load["started_at_unix"], 3), v) for t, v in samples]
    tx_count = _metric(metrics, "privtrak_sink_transaction_seconds_count")
    tx_sum = _metric(metrics, "privtrak_sink_transaction_seconds_sum")
    return {
        "load": load,
        "server_cpu_s": round(cpu, 3),
        "event_loop_cpu_s": round(loop_cpu, 3),
        "service_time_s": cpu / answered,
        "transaction_mean_s": tx_sum / tx_count,
        "transactions": int(tx_count),
        "pending_samples": samples,
        "handled": len(handled),
        "handling_s": {f"p{q}": _percentile(handled, q / 100) for q in (50, 90, 99)}
        | {"mean": sum(handled) / len(handled), "max": max(handled)},
    }


def predict(args: argparse.Namespace, setup: dict[str, Any],
            measured: dict[str, Any]) -> dict[str, Any]:
    interval = 30.0
    scenario = parse_scenario({
        "name": "server-vs-sim", "duration": args.duration, "bucket": 1, "seed": 1,
        "hook_mode": setup["hook_mode"],
        "tracker": {"shard_count": 1, "batch_size": setup["batch_size"],
                    "max_batch_age": "10s", **setup["policy"]},
        "tracker_model": {"service_time": {"constant": measured["service_time_s"]},
                          "flusher": {"parallel": 1, "poll": 0.05}},
        "workload": {"users": args.users, "torrents": args.torrents,
                     "population": int(setup["rate"] * interval),
                     "announce_interval": interval,
                     "jitter": 0, "leecher_fraction": 0, "seeding_time": {"constant": 1e7},
                     "vanish_fraction": 0, "restart_fraction": 0},
        "database": {"connections": 1, "latency": {
            "base": measured["transaction_mean_s"], "per_record": 0,
            "jitter": {"constant": 1}}},
    })
    result = run(scenario)
    stability = result.stability
    return {
        "throughput_per_s": result.summary["announces_completed"] / args.duration,
        "latency_p99_s": result.latency["p99"],
        "latency": result.latency,
        "pending_growth_per_s": stability["pending_slope_records_per_s"],
        "stability_window_s": stability["window"],
        "stability_verdict": stability["message"],
        "pending_series": [(row["t_end"], row["pending_deltas"]) for row in result.series],
        "scenario": result.scenario,
    }


def _row(name: str, measured: float, predicted: float, unit: str,
         flat_below: float | None = None) -> dict[str, Any]:
    error = (predicted - measured) / measured if measured else float("inf")
    flat = flat_below is not None and max(abs(measured), abs(predicted)) < flat_below
    return {"quantity": name, "unit": unit, "measured": measured, "predicted": predicted,
            "relative_error": error, "both_flat": flat,
            "within_15_percent": flat or abs(error) <= TOLERANCE}


def compare(args: argparse.Namespace, name: str) -> dict[str, Any]:
    setup = dict(SETUPS[name])
    for key in ("rate", "delay", "batch_size"):
        if getattr(args, key) is not None:
            setup[key] = getattr(args, key)
    work = Path(tempfile.mkdtemp(prefix="privtrak-vs-"))
    load_before = os.getloadavg()
    try:
        measured = measure(args, setup, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    predicted = predict(args, setup, measured)
    start, end = predicted["stability_window_s"]
    window = [(t, v) for t, v in measured["pending_samples"] if start <= t <= end]
    measured["pending_growth_per_s"] = _slope(window)
    load = measured["load"]
    # A stable tracker's pending records saw-tooth between 0 and about one
    # batch; a slope whose total over the window stays below one batch cannot
    # be told from that saw-tooth, and a relative error between two such
    # slopes says nothing.
    flat_below = setup["batch_size"] / (end - start)
    rows = [
        _row("throughput (answered announces/s)", load["achieved_rate"],
             predicted["throughput_per_s"], "1/s"),
        _row("p99 latency at the server (s)", measured["handling_s"]["p99"],
             predicted["latency_p99_s"], "s"),
        _row("pending growth (records/s)", measured["pending_growth_per_s"],
             predicted["pending_growth_per_s"], "1/s", flat_below),
    ]
    return {
        "setup": {"name": name, "label": setup["label"], "rate": setup["rate"],
                  "duration": args.duration, "batch_size": setup["batch_size"],
                  "database_delay_s": setup["delay"], "hook_mode": setup["hook_mode"],
                  "policy": setup["policy"], "users": args.users,
                  "torrents": args.torrents},
        "machine": {"cpus": os.cpu_count(),
                    "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in load_after]},
        "calibration": {"service_time_s": measured["service_time_s"],
                        "transaction_mean_s": measured["transaction_mean_s"],
                        "transactions": measured["transactions"]},
        "measured": {"load": load, "server_cpu_s": measured["server_cpu_s"],
                     "event_loop_cpu_s": measured["event_loop_cpu_s"],
                     "handled": measured["handled"], "handling_s": measured["handling_s"],
                     "client_p99_from_due_s": load["latency_from_due"]["p99_ms"] / 1000,
                     "pending_growth_per_s": measured["pending_growth_per_s"],
                     "pending_samples": measured["pending_samples"]},
        "predicted": predicted,
        "comparison": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setups", default="offpath,onpath",
                        help=f"comma-separated, of {sorted(SETUPS)}")
    parser.add_argument("--rate", type=float, help="override every setup's rate")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--batch-size", type=int, help="override every setup's batch size")
    parser.add_argument("--delay", type=float, help="override every setup's sink delay, s")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--torrents", type=int, default=5)
    parser.add_argument("--sample", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=Path("reports/server-vs-sim"))
    args = parser.parse_args()
    if args.duration < 10:
        parser.error(f"--duration {args.duration:g}: at least 10 s, so that the second half "
                     "of the run holds enough one-second samples for a slope")
    names = args.setups.split(",")
    for name in names:
        if name not in SETUPS:
            parser.error(f"--setups {args.setups}: {name!r} is not one of {sorted(SETUPS)}")
    setups = {name: compare(args, name) for name in names}
    report = {"command": "python bench/server_vs_sim.py " + " ".join(sys.argv[1:]),
              "sample": args.sample,
              "setups": {n: {k: v for k, v in r.items() if k != "predicted"}
                         | {"predicted": {k: v for k, v in r["predicted"].items()
                                          if k != "scenario"}}
                         for n, r in setups.items()}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "comparison.json").write_text(json.dumps(report, indent=2) + "\n")
    for name, r in setups.items():
        (args.out / f"scenario-{name}.json").write_text(
            json.dumps(r["predicted"]["scenario"], indent=2) + "\n")
    _figure(args.out / "figure.png", report)
    (args.out / "README.md").write_text(_readme(report))
    print(json.dumps({n: {"comparison": r["comparison"], "machine": r["machine"],
                          "calibration": r["calibration"],
                          "handling_s": r["measured"]["handling_s"],
                          "client_latency_from_due": r["measured"]["load"]["latency_from_due"],
                          "predicted_latency": r["predicted"]["latency"]}
                      for n, r in report["setups"].items()}, indent=2))
    return 0

def _readme(report: dict[str, Any]) -> str:
    lines = [
        "# privtrak serve against the simulator",
        "",
        "Generated by `" + report["command"] + "` (see that script's docstring);",
        "`comparison.json` holds every figure, `scenario-<setup>.json` the simulated "
        "scenarios.",
        "",
        "Two setups, each with one record buffer (`shard_count: 1`), a sink that sleeps "
        "in every SQLite transaction, and `privtrak load` offering a steady rate over "
        "users x torrents (one record per announce). Server pinned to CPU 0, load client "
        "to CPU 1. Simulator inputs taken from each measurement: the service time (the "
        "server's CPU time / answered announces) and the mean database call; throughput, "
        "p99 latency and pending growth are the simulator's predictions.",
        "",
        "p99 latency is the server's own handling time, recorded exactly for every "
        "announce (`http.latency_log`, from entering the handler to the response built, "
        "waits for the shard lock and on-path deliveries included), against the "
        "simulator's `latency.p99` (from reaching the tracker to the answer). The load "
        "client's end-to-end p99 (from each announce's due time: it also holds the "
        "client's own backlog, loopback TCP and both processes' waits for a CPU on a "
        "shared machine) is listed beside it and not compared. Pending growth is the "
        "least-squares slope of pending records over the simulator's stability window, "
        "the server's sampled from its /metrics every second; when both slopes add up to "
        "less than one batch over the window, neither side's pending records grow beyond "
        "the saw-tooth of one filling buffer and they count as agreeing (\"both flat\").",
        "",
        "| setup | quantity | measured | predicted | error | within 15% |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["setups"].values():
        for row in r["comparison"]:
            verdict = ("yes (both flat)" if row["both_flat"] else
                       "yes" if row["within_15_percent"] else "**no**")
            lines.append(f"| {r['setup']['name']} | {row['quantity']} | "
                         f"{row['measured']:.4g} | {row['predicted']:.4g} | "
                         f"{row['relative_error'] * 100:+.1f}% | {verdict} |")
            if row is r["comparison"][1]:
                lines.append(f"| {r['setup']['name']} | p99 latency at the load client, end "
                             "to end from the due time (s) | "
                             f"{r['measured']['client_p99_from_due_s']:.4g} | - | - | "
                             "not compared |")
    lines += ["", "![pending records and errors](figure.png)", ""]
    for r in report["setups"].values():
        st, cal, m = r["setup"], r["calibration"], r["measured"]
        h, client = m["handling_s"], m["load"]
        lines += [
            f"## {st['name']}: {st['label']}",
            "",
            f"`batch_size: {st['batch_size']}`, sink delay {st['database_delay_s']} s, "
            "recommended preset"
            + "".join(f" with `{k}: {v}`" for k, v in st["policy"].items())
            + ", simulator `hook_mode: "
            f"{st['hook_mode']}`; {st['rate']:g} announces/s for {st['duration']:g} s over "
            f"{st['users']} users x {st['torrents']} torrents. Load average "
            f"{r['machine']['loadavg_before'][0]} before, {r['machine']['loadavg_after'][0]} "
            f"after ({r['machine']['cpus']} CPUs).",
            "",
            f"Calibration: service time {cal['service_time_s'] * 1e6:.0f} µs per announce "
            f"(server CPU {m['server_cpu_s']} s, of which the event loop's thread "
            f"{m['event_loop_cpu_s']} s and the sink's thread the rest), "
            f"{cal['transaction_mean_s'] * 1000:.1f} ms per database call (mean of "
            f"{cal['transactions']}).",
            "",
            f"Server handling time over {m['handled']} announces: mean "
            f"{h['mean'] * 1000:.3f} ms, p50 "
            f"{h['p50'] * 1000:.3f} ms, p90 {h['p90'] * 1000:.3f} ms, p99 "
            f"{h['p99'] * 1000:.3f} ms, max {h['max'] * 1000:.1f} ms. Load client, end to "
            f"end from the due time: p50 {client['latency_from_due']['p50_ms']} ms, p99 "
            f"{client['latency_from_due']['p99_ms']} ms (send to response p99 "
            f"{client['service_time']['p99_ms']} ms); achieved "
            f"{client['achieved_rate']}/s of {st['rate']:g}/s offered.",
            "",
            "The simulator's verdict: " + r["predicted"]["stability_verdict"] + ".",
            "",
        ]
        if not r["comparison"][1]["within_15_percent"]:
            lines += [_latency_gap(r), ""]
    return "\n".join(lines)


def _latency_gap(r: dict[str, Any]) -> str:
    """Why the p99 latencies differ, from this run's own figures."""
    m, cal, row = r["measured"], r["calibration"], r["comparison"][1]
    handler_cpu = m["handling_s"]["mean"] * m["handled"]
    share = handler_cpu / m["event_loop_cpu_s"] if m["event_loop_cpu_s"] else float("nan")
    return (
        f"**p99 latency does not agree here** ({row['relative_error'] * 100:+.1f}%), and "
        "the two figures do not measure the same span. The simulator's latency is the wait "
        "for the core plus one whole service time, and its service time is the server's "
        f"whole CPU time per announce ({cal['service_time_s'] * 1e6:.0f} µs). The server's "
        "handler, though, only holds the part after aiohttp has parsed the request: the "
        f"recorded handling times add up to {handler_cpu:.2f} s, {share:.0%} of the event "
        f"loop thread's {m['event_loop_cpu_s']} s of CPU; the rest is HTTP parsing, "
        "writing and the socket calls. And off the path nothing inside the handler ever "
        "waits (one thread, no lock, no database), so the wait the model puts in front "
        "of the core happens in the server before the handler starts (in the socket "
        "buffer and the event loop's queue), where no in-process timer sees it. A "
        "like-with-like figure would need the time each request's bytes arrived, which "
        "aiohttp does not expose. The on-path setup, where latency is set by the "
        "database and the queue behind its lock (the part the model is for), is the one "
        "to judge the latency model by."
    )


def _figure(path: Path, report: dict[str, Any]) -> None:
    setups = list(report["setups"].values())
    fig, axes = plt.subplots(len(setups), 2, figsize=(11, 4.0 * len(setups)), squeeze=False)
    names = ["throughput", "p99 latency\n(server)", "pending growth"]
    for (left, right), r in zip(axes, setups, strict=True):
        label = f"{r['setup']['name']} ({r['setup']['rate']:g}/s)"
        measured = r["measured"]["pending_samples"]
        predicted = r["predicted"]["pending_series"]
        left.plot([t for t, _ in measured], [v for _, v in measured], "o-", ms=3,
                  label="privtrak serve (measured)")
        left.plot([t for t, _ in predicted], [v for _, v in predicted], "s--", ms=3,
                  label="simulator (predicted)")
        left.set_xlabel("seconds since the load started")
        left.set_ylabel("pending records")
        left.set_title(f"{label}: pending records, sampled every {report['sample']:g} s",
                       fontsize=10)
        left.legend()
        rows = r["comparison"]
        errors = [0.0 if row["both_flat"] else row["relative_error"] * 100 for row in rows]
        colors = ["tab:green" if row["within_15_percent"] else "tab:red" for row in rows]
        bars = right.bar(names, errors, color=colors)
        labels = ["both flat" if row["both_flat"] else f"{e:+.1f}%"
                  for row, e in zip(rows, errors, strict=True)]
        latency = rows[1]
        labels[1] += (f"\n{latency['measured'] * 1000:.3g} ms measured,\n"
                      f"{latency['predicted'] * 1000:.3g} ms predicted")
        right.bar_label(bars, labels=labels, padding=2, fontsize=8)
        right.axhspan(-15, 15, color="0.9", zorder=0, label="±15% (agreement)")
        right.axhline(0, color="black", lw=0.8)
        right.set_ylabel("(predicted - measured) / measured, %")
        right.set_ylim(min(-30.0, min(errors) * 1.4), max(30.0, max(errors) * 1.4))
        right.set_title(f"{label}: simulator error")
        right.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
