"""The exact announce latency record (``http.latency_log``) and the seed's
shard lock around an on-path delivery."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from server_helpers import PK_A, PK_B, announce_url, get, running

from privtrak.server import ServerConfigError, parse_server_config


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_latency_log_keeps_the_first_n_announces_exactly(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path, http={"latency_log": 3}) as (srv, s):
            for up in (0, 10, 20, 30):
                await get(s, announce_url(srv, up=up))
            await get(s, f"http://127.0.0.1:{srv.port}/{PK_A}/scrape")  # not an announce
            async with s.get(f"http://127.0.0.1:{srv.port}/debug/announce-latency") as resp:
                assert resp.status == 200
                doc = json.loads(await resp.read())
            assert doc["capacity"] == 3 and doc["recorded"] == 3
            assert len(doc["seconds"]) == 3
            assert all(0 < x < 5 for x in doc["seconds"])
    run(scenario())


def test_latency_log_is_off_by_default(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as (srv, s):
            await get(s, announce_url(srv))
            status, _ = await get(s, f"http://127.0.0.1:{srv.port}/debug/announce-latency")
            assert status == 404
            assert srv.announce_latencies()["recorded"] == 0
    run(scenario())


@pytest.mark.parametrize("value", [-1, 1.5, "10"])
def test_latency_log_must_be_a_count(value: object) -> None:
    with pytest.raises(ServerConfigError) as info:
        parse_server_config({"chihaya": {"http": {"latency_log": value}}})
    assert info.value.key == "chihaya.http.latency_log"


@pytest.mark.parametrize(("flush_path", "waits"), [("announce", True), ("background", False)])
def test_on_path_delivery_holds_the_shard_lock(tmp_path: Path, flush_path: str,
                                               waits: bool) -> None:
    """With the seed's ``flush_path: announce`` an announce that arrives while
    another one delivers its batch waits for that delivery (one shard); off
    the path nobody waits for the database."""
    delay = 0.4

    async def scenario() -> None:
        async with running(tmp_path, shard_count=1, batch_size=2, flush_path=flush_path,
                           database_delay=f"{delay}s", http={"latency_log": 10}) as (srv, s):
            await get(s, announce_url(srv, PK_A, event="started"))  # record 1
            sealing = asyncio.create_task(get(s, announce_url(srv, PK_B, event="started")))
            await asyncio.sleep(delay / 4)  # the second record sealed the batch
            loop = asyncio.get_running_loop()
            began = loop.time()
            _, body = await get(s, announce_url(srv, PK_A, up=10))
            waited = loop.time() - began
            _, sealed = await sealing
            assert b"failure reason" not in body and b"failure reason" not in sealed
            seconds = srv.announce_latencies()["seconds"]
            assert isinstance(seconds, list) and len(seconds) == 3
            if waits:
                assert waited >= delay / 2
                # The server's own record holds the wait for the lock.
                assert seconds[2] >= delay / 2
            else:
                assert waited < delay / 2
                assert max(seconds) < delay / 2
    run(scenario())
