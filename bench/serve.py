"""What ``privtrak serve`` sustains on one core with the SQLite sink.

Starts ``privtrak serve`` (recommended preset, SQLite file in a temporary
directory) pinned to CPU 0 and runs ``privtrak load`` pinned to CPU 1 at each
rate for ``--duration`` seconds, then prints JSON: per rate, the load
report (achieved rate, latency percentiles from the due time, errors), the
server's CPU seconds during the run (user + system of its process, from
/proc), the share of one core that makes over the load's run, and CPU
microseconds per answered announce, the load client's CPU seconds, plus the machine's load
average before and after, since other processes on the machine change every
wall-clock figure. Usage::

    python bench/serve.py --rates 2000,4000,5000,6000 --duration 10

``--client raw`` (the default) is ``privtrak load``'s keep-alive stream
client; ``--client aiohttp`` its aiohttp one, which one shared core cannot
drive at these rates.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _pinned(cpu: int, argv: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(cpu), *argv] if taskset and os.cpu_count() and \
        os.cpu_count() > cpu else argv  # type: ignore[operator]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="2000,4000,5000,6000")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--torrents", type=int, default=100)
    parser.add_argument("--database-delay", default="0s")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--client", choices=["aiohttp", "raw"], default="raw",
                        help="privtrak load --client (raw: the one that offers 5,000/s)")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    work = Path(tempfile.mkdtemp(prefix="privtrak-bench-"))
    port = _free_port()
    config = work / "serve.yaml"
    config.write_text(json.dumps({"chihaya": {"prehooks": [{"name": "privtrak", "options": {
        "database": str(work / "totals.db"), "snapshot_path": str(work / "state.json"),
        "database_delay": args.database_delay}}]}}))
    log = (work / "serve.log").open("w")
    server = subprocess.Popen(
        _pinned(0, [sys.executable, "-m", "privtrak", "serve", "--config", str(config),
                    "--addr", f"127.0.0.1:{port}", "--log-level", "WARNING",
                    "--loop", args.loop]),
        stdout=log, stderr=log)
    runs: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("server did not start: "
                                     + (work / "serve.log").read_text()) from None
                time.sleep(0.1)
        for rate in rates:
            cpu0 = _cpu_seconds(server.pid)
            child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            out = subprocess.run(
                _pinned(1, [sys.executable, "-m", "privtrak", "load",
                            f"http://127.0.0.1:{port}", "--rate", str(rate),
                            "--duration", str(args.duration), "--connections",
                            str(args.connections), "--processes", str(args.processes),
                            "--users", str(args.users), "--torrents", str(args.torrents),
                            "--client", args.client]),
                capture_output=True, text=True, check=False, timeout=args.duration + 60)
            cpu = _cpu_seconds(server.pid) - cpu0
            child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            client_cpu = (child1.ru_utime + child1.ru_stime
                          - child0.ru_utime - child0.ru_stime)
            report = json.loads(out.stdout)
            report.pop("spec")
            answered = report["answered"]
            runs.append({"rate": rate, "server_cpu_s": round(cpu, 3),
                         # Of one core, over the load's run: below 1 with requests
                         # waiting means other processes had the rest of the core.
                         "server_core_share": round(cpu / report["elapsed_s"], 3),
                         "server_cpu_us_per_announce": round(cpu / answered * 1e6, 1)
                         if answered else None,
                         # The load client's CPU (its start-up included): far below
                         # its run time means the client was not the limit.
                         "client_cpu_s": round(client_cpu, 3),
                         "load": report})
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        log.close()
    print(json.dumps({
        "command": " ".join(sys.argv),
        "server": "privtrak serve, recommended preset, SQLite sink, pinned to CPU 0",
        "client": f"privtrak load --client {args.client} pinned to CPU 1",
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "runs": runs,
        "server_log_tail": re.sub(r"\s+$", "", (work / "serve.log").read_text()[-2000:]),
    }, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
