"""Does the simulator predict a real ``privtrak serve``? Server and simulator,
same setup, side by side.

The setup: one tracker core with one shard buffer (``shard_count: 1``),
``batch_size`` records per batch, a DeltaHandler that needs ``--delay``
seconds per transaction (``database_delay`` of the SQLite sink; the
simulator's ``database.latency.base``), one delivery at a time, and a
steady offered load of ``--rate`` announces/s for ``--duration`` seconds,
each producing one record. The sink drains about ``batch_size / delay``
records/s, so when the rate is higher the pending records grow linearly.

Measured: ``privtrak serve`` pinned to CPU 0 under ``privtrak load`` pinned to
CPU 1 (offered rate, answered rate, latency from the due time), with the
server's ``privtrak_pending_records`` sampled from /metrics every
``--sample`` seconds; the server's CPU time per announce and its mean sink
transaction time are read at the end.

Predicted: the same setup as a simulator scenario (offpath hook mode, one
flusher, one database connection) whose two service times are the measured
ones: ``tracker_model.service_time`` = the server's CPU seconds per
announce, and ``database.latency.base`` = the mean measured transaction
time. Everything else is the simulator's prediction: throughput (completed
announces / duration), p99 latency (``result.latency``) and pending growth
(``result.stability``'s least-squares slope over the second half of the
run; the server's samples are fitted over the same window).

Writes ``comparison.json``, ``README.md`` (the table) and ``figure.png``
into ``--out`` and prints the JSON. Usage::

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


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pinned(cpu: int, argv: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(cpu), *argv] if taskset and (os.cpu_count() or 1) > cpu else argv


def _metric(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    if found is None:
        raise KeyError(name)
    return float(found.group(1))


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text: str = resp.read().decode()
        return text


def _handler_p99_ms(text: str) -> float | None:
    """Upper bound of the bucket holding the 99th percentile of the server's own
    announce handling time (request parsed to response built)."""
    pattern = re.compile(r'^chihaya_http_response_duration_milliseconds_bucket\{action="announce",'
                         r'address_family="IPv4",error="",le="([^"]+)"\} (\S+)$', re.M)
    buckets = [(float(le), float(count)) for le, count in pattern.findall(text)]
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    return next(le for le, count in buckets if count >= 0.99 * total)


def _slope(points: list[tuple[float, float]]) -> float:
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = work / "serve.yaml"
    config.write_text(json.dumps({"chihaya": {
        "http": {"shutdown_timeout": "2s"},
        "prehooks": [{"name": "privtrak", "options": {
            "shard_count": 1, "batch_size": args.batch_size, "max_batch_age": "10s",
            "database": str(work / "totals.db"), "snapshot_path": str(work / "state.json"),
            "database_delay": f"{args.delay}s"}}]}}))
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
                _scrape(port)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("server did not start") from None
                time.sleep(0.1)
        stop = threading.Event()
        cpu0 = _cpu_seconds(server.pid)

        def sampler() -> None:
            while not stop.wait(args.sample):
                samples.append((time.time(), _metric(_scrape(port),
                                                     "privtrak_pending_records")))

        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        out = subprocess.run(
            _pinned(1, [sys.executable, "-m", "privtrak", "load", f"http://127.0.0.1:{port}",
                        "--rate", str(args.rate), "--duration", str(args.duration),
                        "--users", str(args.users), "--torrents", str(args.torrents),
                        "--connections", "64"]),
            capture_output=True, text=True, check=False, timeout=args.duration + 60)
        stop.set()
        thread.join()
        cpu = _cpu_seconds(server.pid) - cpu0
        metrics = _scrape(port)
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
        "service_time_s": cpu / answered,
        "transaction_mean_s": tx_sum / tx_count,
        "transactions": int(tx_count),
        "pending_samples": samples,
        "handler_p99_ms_bucket": _handler_p99_ms(metrics),
    }


def predict(args: argparse.Namespace, measured: dict[str, Any]) -> dict[str, Any]:
    interval = 30.0
    scenario = parse_scenario({
        "name": "server-vs-sim", "duration": args.duration, "bucket": 1, "seed": 1,
        "hook_mode": "offpath",
        "tracker": {"shard_count": 1, "batch_size": args.batch_size, "max_batch_age": "10s"},
        "tracker_model": {"service_time": {"constant": measured["service_time_s"]},
                          "flusher": {"parallel": 1, "poll": 0.05}},
        "workload": {"users": args.users, "torrents": args.torrents,
                     "population": int(args.rate * interval), "announce_interval": interval,
                     "jitter": 0, "leecher_fraction": 0, "seeding_time": {"constant": 1e7},
                     "vanish_fraction": 0, "restart_fraction": 0},
        "database": {"connections": 1, "latency": {
            "base": measured["transaction_mean_s"], "per_record": 0,
            "jitter": {"constant": 1}}},
    })
    result = run(scenario)
    series = result.series
    stability = result.stability
    return {
        "throughput_per_s": result.summary["announces_completed"] / args.duration,
        "latency_p99_s": result.latency["p99"],
        "pending_growth_per_s": stability["pending_slope_records_per_s"],
        "stability_window_s": stability["window"],
        "stability_verdict": stability["message"],
        "pending_series": [(row["t_end"], row["pending_deltas"]) for row in series],
        "scenario": result.scenario,
    }


def _row(name: str, measured: float, predicted: float, unit: str) -> dict[str, Any]:
    error = (predicted - measured) / measured if measured else float("inf")
    return {"quantity": name, "unit": unit, "measured": measured, "predicted": predicted,
            "relative_error": error, "within_15_percent": abs(error) <= TOLERANCE}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=800.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--torrents", type=int, default=5)
    parser.add_argument("--sample", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=Path("reports/server-vs-sim"))
    args = parser.parse_args()
    if args.duration < 10:
        parser.error(f"--duration {args.duration:g}: at least 10 s, so that the second half "
                     "of the run holds enough one-second samples for a slope")
    work = Path(tempfile.mkdtemp(prefix="privtrak-vs-"))
    load_before = os.getloadavg()
    try:
        measured = measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    predicted = predict(args, measured)
    start, end = predicted["stability_window_s"]
    window = [(t, v) for t, v in measured["pending_samples"] if start <= t <= end]
    measured["pending_growth_per_s"] = _slope(window)
    load = measured["load"]
    rows = [
        _row("throughput (answered announces/s)", load["achieved_rate"],
             predicted["throughput_per_s"], "1/s"),
        _row("p99 latency (s)", load["latency_from_due"]["p99_ms"] / 1000,
             predicted["latency_p99_s"], "s"),
        _row("pending growth (records/s)", measured["pending_growth_per_s"],
             predicted["pending_growth_per_s"], "1/s"),
    ]
    report = {
        "command": "python bench/server_vs_sim.py " + " ".join(sys.argv[1:]),
        "setup": {"rate": args.rate, "duration": args.duration, "batch_size": args.batch_size,
                  "database_delay_s": args.delay, "users": args.users,
                  "torrents": args.torrents},
        "machine": {"cpus": os.cpu_count(),
                    "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in load_after]},
        "calibration": {"service_time_s": measured["service_time_s"],
                        "transaction_mean_s": measured["transaction_mean_s"],
                        "transactions": measured["transactions"]},
        "measured": {"load": load, "server_cpu_s": measured["server_cpu_s"],
                     "handler_p99_ms_bucket": measured["handler_p99_ms_bucket"],
                     "pending_growth_per_s": measured["pending_growth_per_s"],
                     "pending_samples": measured["pending_samples"]},
        "predicted": {k: v for k, v in predicted.items() if k != "scenario"},
        "comparison": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "comparison.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "scenario.json").write_text(json.dumps(predicted["scenario"], indent=2) + "\n")
    _figure(args.out / "figure.png", report)
    (args.out / "README.md").write_text(_readme(report))
    print(json.dumps({"comparison": rows, "machine": report["machine"],
                      "calibration": report["calibration"],
                      "client_service_time": load["service_time"],
                      "handler_p99_ms_bucket": measured["handler_p99_ms_bucket"]}, indent=2))
    return 0


def _readme(report: dict[str, Any]) -> str:
    setup, cal, rows = report["setup"], report["calibration"], report["comparison"]
    load = report["measured"]["load"]
    lines = [
        "# privtrak serve against the simulator",
        "",
        "Generated by `" + report["command"] + "` (see that script's docstring);",
        "`comparison.json` holds every figure, `scenario.json` the simulated scenario.",
        "",
        f"Setup: one record buffer (`shard_count: 1`), `batch_size: "
        f"{setup['batch_size']}`, a sink that sleeps {setup['database_delay_s']} s in every "
        f"SQLite transaction, one delivery at a time; `privtrak load` offers "
        f"{setup['rate']:g} announces/s for {setup['duration']:g} s over {setup['users']} "
        f"users x {setup['torrents']} torrents (one record per announce). Server pinned to "
        f"CPU 0, load client to CPU 1, on a {report['machine']['cpus']}-CPU machine shared "
        f"with other work (load average {report['machine']['loadavg_before'][0]} before, "
        f"{report['machine']['loadavg_after'][0]} after).",
        "",
        f"Simulator inputs taken from the measurement: service time "
        f"{cal['service_time_s'] * 1e6:.0f} µs per announce (the server's CPU time / "
        f"answered announces) and {cal['transaction_mean_s'] * 1000:.1f} ms per database "
        f"call (mean of {cal['transactions']} measured transactions). Throughput, p99 latency "
        "and pending growth are the simulator's predictions.",
        "",
        "Throughput is answered announces per second over the run; p99 latency is over "
        "every announce of the run (the client's figure counted from each announce's due "
        "time; the simulator's `latency.p99`); pending growth is the least-squares slope "
        "of pending records over the simulator's stability window "
        f"(t = {report['predicted']['stability_window_s'][0]:g} to "
        f"{report['predicted']['stability_window_s'][1]:g} s), the server's sampled "
        "from its /metrics every second, the simulator's `stability."
        "pending_slope_records_per_s`.",
        "",
        "The simulator's verdict: " + report["predicted"]["stability_verdict"] + ".",
        "",
        "| quantity | measured | predicted | error | within 15% |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['quantity']} | {r['measured']:.4g} | {r['predicted']:.4g} | "
                     f"{r['relative_error'] * 100:+.2f}% | "
                     f"{'yes' if r['within_15_percent'] else '**no**'} |")
    lines += [
        "",
        "![pending records and errors](figure.png)",
        "",
        "Measured p99 latency is counted by the load client from each announce's due "
        "time to its response. Where it came from in this run: the client's own "
        f"send-to-response p99 was {load['service_time']['p99_ms']:.1f} ms, and the "
        "server's own handling time (request parsed to response built, its "
        "`chihaya_http_response_duration_milliseconds` histogram) had its p99 in the "
        f"bucket up to {report['measured']['handler_p99_ms_bucket']} ms.",
        "",
    ]
    if not rows[1]["within_15_percent"]:
        lines += [
            "**The simulator does not predict the p99 latency** "
            f"(off by {rows[1]['relative_error'] * 100:+.2f}%: the measured p99 is "
            f"{rows[1]['measured'] / rows[1]['predicted']:,.0f} times the predicted one). "
            "It models the tracker as a "
            "FIFO queue in front of one core with a constant service time; at this "
            "utilisation that queue is nearly always empty, so its p99 is about one service "
            "time. The measured tail is time the model does not contain: the load client "
            "and the server each get a share of a CPU that other processes also use (a "
            "process waiting for its turn on the CPU waits milliseconds, not microseconds), "
            "the kernel's loopback TCP path and the client's own HTTP stack. The throughput "
            "and the growth of pending records, which depend on the service rates and not "
            "on scheduling noise, agree.",
            "",
        ]
    return "\n".join(lines)


def _figure(path: Path, report: dict[str, Any]) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    measured = report["measured"]["pending_samples"]
    predicted = report["predicted"]["pending_series"]
    left.plot([t for t, _ in measured], [v for _, v in measured], "o-", ms=3,
              label="privtrak serve (measured)")
    left.plot([t for t, _ in predicted], [v for _, v in predicted], "s--", ms=3,
              label="simulator (predicted)")
    left.set_xlabel("seconds since the load started")
    left.set_ylabel("pending records")
    left.set_title("Pending records behind a slow sink")
    left.legend()
    rows = report["comparison"]
    names = ["throughput", "p99 latency", "pending growth"]
    errors = [r["relative_error"] * 100 for r in rows]
    colors = ["tab:green" if r["within_15_percent"] else "tab:red" for r in rows]
    bars = right.bar(names, errors, color=colors)
    right.bar_label(bars, labels=[f"{e:+.1f}%" for e in errors], padding=2)
    right.axhspan(-15, 15, color="0.9", zorder=0, label="±15% (agreement)")
    right.axhline(0, color="black", lw=0.8)
    right.set_ylabel("(predicted - measured) / measured, %")
    right.set_ylim(min(-20.0, min(errors) * 1.15), max(20.0, max(errors) * 1.15))
    right.set_title("Simulator error per quantity")
    right.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
