"""Helpers for the end-to-end tests: a ``privtrak serve`` subprocess and
libtorrent sessions on loopback."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import libtorrent as lt
import yaml

PIECE = 64 * 1024


def write_config(path: Path, database: Path, snapshot: Path,
                 options: dict[str, Any] | None = None) -> None:
    """A server config on 127.0.0.1 with a short announce interval."""
    doc = {"chihaya": {
        "announce_interval": "2s", "min_announce_interval": "1s",
        "http": {"addr": "127.0.0.1:0", "shutdown_timeout": "5s"},
        "prehooks": [{"name": "privtrak", "options": {
            "database": str(database), "snapshot_path": str(snapshot),
            "max_batch_age": "1s", **(options or {})}}]}}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")


class ServerProcess:
    """``python -m privtrak serve`` in a subprocess; the port is read from its log."""

    def __init__(self, config: Path, log: Path, port: int = 0) -> None:
        self.log_path = log
        self._offset = log.stat().st_size if log.exists() else 0
        self._log = log.open("a", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "privtrak", "serve", "--config", str(config),
             "--addr", f"127.0.0.1:{port}"],
            stdout=self._log, stderr=self._log, stdin=subprocess.DEVNULL)
        self.port = self._wait_for_port(timeout=30)

    def _wait_for_port(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.findall(r"serving on 127\.0\.0\.1:(\d+)",
                               self.log_path.read_text(encoding="utf-8")[self._offset:])
            if len(found) > 0 and self.proc.poll() is None:
                return int(found[-1])
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("server did not start:\n" + self.log_path.read_text("utf-8"))

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, wait; returns the exit status (kills after ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def make_torrent(data_dir: Path, size: int) -> lt.torrent_info:
    """A private single-file hybrid (v1 + v2) torrent of ``size`` pseudo-random bytes."""
    payload = data_dir / "payload.bin"
    block = os.urandom(PIECE)
    with payload.open("wb") as fh:
        for i in range(size // PIECE):
            fh.write(bytes([i % 251]) + block[1:])
    ct = lt.create_torrent(lt.list_files(str(payload)), PIECE)
    ct.set_priv(True)
    lt.set_piece_hashes(ct, str(data_dir))
    return lt.torrent_info(lt.bencode(ct.generate()))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def session(upload_limit: int = 0) -> lt.session:
    """A libtorrent session on loopback only, no DHT/LSD/UPnP, loopback trackers
    allowed; ``upload_limit`` bytes/s (0: none) applies to loopback peers too."""
    ses = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False,
        "enable_natpmp": False, "ssrf_mitigation": False,
        "allow_multiple_connections_per_ip": True,
        "min_announce_interval": 1, "tracker_completion_timeout": 5,
        "tracker_receive_timeout": 5, "stop_tracker_timeout": 2,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.tracker_notification | lt.alert.category_t.status_notification,
        "upload_rate_limit": upload_limit,
    })
    if upload_limit:
        # Local peers are exempt from rate limits by default: put every
        # address in the global peer class only.
        classes = lt.ip_filter()
        classes.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
        ses.set_peer_class_filter(classes)
    return ses


class Swarm:
    """A seeder and a leecher session, each announcing with its own passkey."""

    def __init__(self, ti: lt.torrent_info, tracker_port: int, seed_dir: Path,
                 leech_dir: Path, passkeys: tuple[str, str], *, upload_limit: int = 0) -> None:
        self.sessions = [session(upload_limit), session()]
        self.handles = []
        for ses, pk, directory in zip(self.sessions, passkeys, (seed_dir, leech_dir),
                                      strict=True):
            params = lt.add_torrent_params()
            params.ti = ti
            params.save_path = str(directory)
            params.trackers = [f"http://127.0.0.1:{tracker_port}/{pk}/announce"]
            self.handles.append(ses.add_torrent(params))
        self.events: list[str] = []

    def pump(self) -> None:
        """Collect alert messages (kept for failure reports)."""
        for ses in self.sessions:
            self.events.extend(f"{a.what()}: {a.message()}" for a in ses.pop_alerts())

    def wait(self, condition: Any, timeout: float, what: str) -> None:
        """Poll ``condition()`` every 0.1 s; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not condition():
            self.pump()
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; libtorrent said:\n"
                                     + "\n".join(self.events[-40:]))
            time.sleep(0.1)

    def leecher_done(self) -> bool:
        return bool(self.handles[1].status().is_seeding)

    def remove_all(self) -> None:
        """Remove both torrents (each sends ``stopped``), leecher first."""
        for ses, handle in zip(reversed(self.sessions), reversed(self.handles), strict=True):
            ses.remove_torrent(handle)


def metric(port: int, sample: str) -> int:
    """The value of one sample (name with labels) from the server's /metrics; 0 if absent."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    found = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.M)
    return int(float(found.group(1))) if found else 0


def outcome_count(port: int, outcome: str) -> int:
    """``privtrak_outcomes_total{outcome=...}`` from the server's /metrics."""
    return metric(port, f'privtrak_outcomes_total{{outcome="{outcome}"}}')
