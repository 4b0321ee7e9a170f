"""privtrak load: refuses what it must not do, and reports what a server answered."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from server_helpers import running

from privtrak.server.load import LoadSpec, info_hash, passkey, run_load


@pytest.mark.parametrize(("spec", "field"), [
    (LoadSpec("http://10.0.0.1:6969", 10, 1), "url"),
    (LoadSpec("http://example.org", 10, 1), "url"),
    (LoadSpec("ftp://127.0.0.1", 10, 1), "url"),
    (LoadSpec("http://127.0.0.1:1", 0, 1), "rate"),
    (LoadSpec("http://127.0.0.1:1", 10, 1, users=0), "users"),
    (LoadSpec("http://127.0.0.1:1", 1e6, 11), "rate"),
])
def test_bad_specs_are_refused_naming_the_field(spec: LoadSpec, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}="):
        spec.check()


def test_remote_targets_need_allow_remote() -> None:
    LoadSpec("http://10.0.0.1:6969", 10, 1, allow_remote=True).check()
    LoadSpec("http://localhost:6969", 10, 1).check()
    LoadSpec("http://[::1]:6969", 10, 1).check()


def test_virtual_identities_are_deterministic() -> None:
    assert passkey(1, 7) == passkey(1, 7) != passkey(2, 7)
    assert len(passkey(1, 7)) == 32 and len(info_hash(1, 3)) == 20


def test_a_short_run_is_answered_and_accounted(tmp_path: Path) -> None:
    async def scenario() -> tuple[dict[str, object], int]:
        async with running(tmp_path, batch_size=1) as (srv, _):
            spec = LoadSpec(f"http://127.0.0.1:{srv.port}", rate=100, duration=1.0,
                            users=5, torrents=2, connections=4)
            report = await asyncio.to_thread(run_load, spec)
            return report, srv.tracker.metrics().announces

    report, announces = asyncio.run(scenario())
    assert report["planned"] == 100
    assert report["responses"] == {"ok": 100, "busy": 0, "refused": 0, "http_error": 0,
                                   "timeout": 0, "connection_error": 0, "not_sent": 0}
    assert announces == 100
    latency = report["latency_from_due"]
    assert isinstance(latency, dict) and 0 < latency["p50_ms"] <= latency["p99_ms"]


def test_every_planned_announce_is_counted_once_when_nobody_answers(tmp_path: Path) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)  # read the request, never answer

    async def scenario() -> dict[str, object]:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            spec = LoadSpec(f"http://127.0.0.1:{port}", rate=200, duration=0.5,
                            connections=4, timeout=0.5)
            return await asyncio.to_thread(run_load, spec)

    report = asyncio.run(scenario())
    responses = report["responses"]
    assert isinstance(responses, dict)
    assert sum(responses.values()) == report["planned"] == 100
    assert responses["ok"] == 0 and responses["timeout"] >= 4
