"""What ``privtrak serve`` sustains on one core with the SQLite sink.

Starts ``privtrak serve`` (recommended preset, SQLite file in a temporary
directory) pinned to CPU 0 and runs ``privtrak load`` pinned to CPU 1 at each
rate for ``--duration`` seconds, then prints JSON: per rate, the load
report (achieved rate, latency percentiles from the due time, errors), the
server's CPU seconds during the run (user + system of its process, from
/proc) and CPU microseconds per answered announce, plus the machine's load
average before and after, since other processes on the machine change every
wall-clock figure. Usage::

    python bench/serve.py --rates 2000,4000,5000,6000 --duration 10
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
            out = subprocess.run(
                _pinned(1, [sys.executable, "-m", "privtrak", "load",
                            f"http://127.0.0.1:{port}", "--rate", str(rate),
                            "--duration", str(args.duration), "--connections",
                            str(args.connections), "--processes", str(args.processes),
                            "--users", str(args.users), "--torrents", str(args.torrents)]),
                capture_output=True, text=True, check=False, timeout=args.duration + 60)
            cpu = _cpu_seconds(server.pid) - cpu0
            report = json.loads(out.stdout)
            report.pop("spec")
            answered = report["answered"]
            runs.append({"rate": rate, "server_cpu_s": round(cpu, 3),
                         "server_cpu_us_per_announce": round(cpu / answered * 1e6, 1)
                         if answered else None, "load": report})
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        log.close()
    print(json.dumps({
        "command": " ".join(sys.argv),
        "server": "privtrak serve, recommended preset, SQLite sink, pinned to CPU 0",
        "client": "privtrak load pinned to CPU 1",
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
