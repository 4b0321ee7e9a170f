"""The HTTP tracker in process: replies, refusals, back-pressure, delivery,
the batch log, hybrid aliases, snapshots and metrics."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import sqlite3
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from server_helpers import PK_A, PK_B, announce_url, get, running, settle

from privtrak.reference import AnnounceRequest, Event, Tracker, parse_config
from privtrak.server import (
    ServerConfigError,
    SqliteSink,
    parse_server_config,
    read_user_totals,
)

USER_A = bytes.fromhex(PK_A)
USER_B = bytes.fromhex(PK_B)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_announce_replies_with_intervals_and_compact_peers(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path, top={"announce_interval": "20m",
                                          "min_announce_interval": "5m"}) as (srv, s):
            _, first = await get(s, announce_url(srv, PK_A, peer_id=b"1" * 20, port=7001))
            _, second = await get(s, announce_url(srv, PK_B, peer_id=b"2" * 20, port=7002,
                                                  left=0))
            assert first[b"interval"] == 1200 and first[b"min interval"] == 300
            assert first[b"peers"] == b""
            # The second peer (a seeder) gets the first: 127.0.0.1:7001, 6 bytes.
            assert second[b"peers"] == bytes([127, 0, 0, 1]) + (7001).to_bytes(2, "big")
            assert (second[b"complete"], second[b"incomplete"]) == (1, 1)
            _, third = await get(s, announce_url(srv, PK_A, peer_id=b"1" * 20, port=7001,
                                                 up=10))
            assert third[b"peers"] == bytes([127, 0, 0, 1]) + (7002).to_bytes(2, "big")
    run(scenario())


@pytest.mark.parametrize(("query", "reason"), [
    ("peer_id=pppppppppppppppppppp&port=1&uploaded=0&downloaded=0&left=0",
     "missing parameter info_hash"),
    ("info_hash=short&peer_id=pppppppppppppppppppp&port=1&uploaded=0&downloaded=0&left=0",
     "info_hash must be 20 bytes, got 5"),
    ("info_hash=hhhhhhhhhhhhhhhhhhhh&peer_id=pppppppppppppppppppp&port=70000&uploaded=0"
     "&downloaded=0&left=0", "port=70000 is above 65535"),
    ("info_hash=hhhhhhhhhhhhhhhhhhhh&peer_id=pppppppppppppppppppp&port=1&uploaded=-1"
     "&downloaded=0&left=0", "uploaded=b'-1' is not a decimal integer"),
    ("info_hash=hhhhhhhhhhhhhhhhhhhh&peer_id=pppppppppppppppppppp&port=1&uploaded=0"
     "&downloaded=0&left=0&event=paused", "unknown event b'paused'"),
    ("info_hash=hhhhhhhhhhhhhhhhhhhh&info_hash=hhhhhhhhhhhhhhhhhhhh&peer_id=pppppppppppppppppppp"
     "&port=1&uploaded=0&downloaded=0&left=0", "info_hash given more than once"),
])
def test_malformed_announce_gets_a_failure_naming_the_parameter(
        tmp_path: Path, query: str, reason: str) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as (srv, s):
            status, body = await get(s, f"http://127.0.0.1:{srv.port}/{PK_A}/announce?{query}")
            assert status == 200
            assert reason in body[b"failure reason"].decode()
            assert srv.tracker.metrics().announces == 0
    run(scenario())


def test_passkeys_refused_without_repeating_them(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        async with running(tmp_path, passkeys=[PK_A]) as (srv, s):
            _, ok = await get(s, announce_url(srv, PK_A))
            assert b"failure reason" not in ok
            _, unknown = await get(s, announce_url(srv, PK_B))
            assert unknown[b"failure reason"] == b"unknown passkey"
            _, bad = await get(s, announce_url(srv, "f" * 31 + "g"))
            assert b"not hexadecimal" in bad[b"failure reason"]
            assert b"f" * 31 not in bad[b"failure reason"]
            # The query form of R1.1 works too; conflicting passkeys are refused.
            url = announce_url(srv, PK_A).replace(f"/{PK_A}/announce", "/announce")
            _, query_form = await get(s, url + f"&passkey={PK_A}")
            assert b"failure reason" not in query_form
            _, conflict = await get(s, announce_url(srv, PK_A) + f"&passkey={PK_B}")
            assert b"conflicting" in conflict[b"failure reason"]
            assert srv.tracker.metrics().rejected["unknown_user"] == 1
    run(scenario())
    assert PK_B not in caplog.text and PK_A not in caplog.text


def test_tracker_busy_at_max_pending_changes_nothing_then_recovers(tmp_path: Path) -> None:
    gate = threading.Event()

    async def scenario() -> None:
        async with running(tmp_path, batch_size=1, max_pending=2) as (srv, s):
            real_apply = srv.sink.apply

            def blocked(epoch: str, batch: Any) -> bool:
                gate.wait(10)
                return real_apply(epoch, batch)

            srv.sink.apply = blocked  # type: ignore[method-assign]
            for n in (1, 2):
                _, ok = await get(s, announce_url(srv, PK_A, peer_id=bytes([n]) * 20,
                                                  event="started"))
                assert b"failure reason" not in ok
            entries = srv.tracker.metrics().entries
            _, busy = await get(s, announce_url(srv, PK_A, peer_id=b"3" * 20, event="started"))
            assert busy[b"failure reason"].startswith(b"tracker busy")
            assert srv.tracker.metrics().entries == entries
            assert srv.tracker.metrics().rejected["pending_full"] == 1
            gate.set()
            await settle(srv)
            _, again = await get(s, announce_url(srv, PK_A, peer_id=b"3" * 20, event="started"))
            assert b"failure reason" not in again
    try:
        run(scenario())
    finally:
        gate.set()


def test_failing_database_never_fails_an_announce_and_loses_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path, batch_size=1, retry_backoff_initial="1s") as (srv, s):
            real_apply = srv.sink.apply
            calls = []

            def failing(epoch: str, batch: Any) -> bool:
                calls.append(batch.batch_id)
                raise sqlite3.OperationalError("disk I/O error")

            srv.sink.apply = failing  # type: ignore[method-assign]
            await get(s, announce_url(srv, PK_A, up=0))
            for up in (100, 250):
                _, body = await get(s, announce_url(srv, PK_A, up=up))
                assert b"failure reason" not in body
            await asyncio.sleep(0.3)
            assert calls and srv.tracker.metrics().batches_failed >= 1
            srv.sink.apply = real_apply  # type: ignore[method-assign]
            await settle(srv, timeout=8)
        assert read_user_totals(tmp_path / "totals.db") == {USER_A: (250, 0)}
    run(scenario())


def test_sink_applies_a_redelivered_batch_once(tmp_path: Path) -> None:
    tracker = Tracker(parse_config({"batch_size": 2}), now=0)
    cred = f"/{PK_A}/announce"
    tracker.announce(AnnounceRequest(cred, b"i" * 20, b"p" * 20, 0, 0, 5), now=0)
    tracker.announce(AnnounceRequest(cred, b"i" * 20, b"p" * 20, 40, 7, 0, Event.COMPLETED),
                     now=1)
    tracker.announce(AnnounceRequest(cred, b"i" * 20, b"p" * 20, 50, 7, 0), now=2)
    batch = tracker.next_batch(now=2)
    assert batch is not None and len(batch.records) == 2
    sink = SqliteSink(tmp_path / "db.sqlite")
    sink.open()
    try:
        assert sink.apply("e" * 32, batch) is True
        assert sink.apply("e" * 32, batch) is False
        # Another tracker lifetime (epoch) with the same batch id is new work.
        assert sink.apply("f" * 32, batch) is True
    finally:
        sink.close()
    assert read_user_totals(tmp_path / "db.sqlite") == {USER_A: (100, 14)}
    db = sqlite3.connect(tmp_path / "db.sqlite")
    assert db.execute("SELECT snatches FROM torrent_snatches").fetchall() == [(2,)]
    assert db.execute("SELECT count(*) FROM batch_log").fetchone() == (2,)


def test_hybrid_alias_credits_once_and_without_alias_twice(tmp_path: Path) -> None:
    v1, v2 = b"1" * 20, b"2" * 20

    async def both(alias: bool, where: Path) -> dict[bytes, tuple[int, int]]:
        where.mkdir()
        aliases = {v2.hex(): v1.hex()} if alias else {}
        async with running(where, batch_size=1, hybrid_aliases=aliases) as (srv, s):
            for up, event in ((0, "started"), (300, ""), (500, "stopped")):
                for h in (v1, v2):
                    await get(s, announce_url(srv, info_hash=h, up=up, event=event))
            await settle(srv)
        return read_user_totals(where / "totals.db")

    assert run(both(True, tmp_path / "alias")) == {USER_A: (500, 0)}
    assert run(both(False, tmp_path / "plain")) == {USER_A: (1000, 0)}


def test_shutdown_snapshot_and_restore_continue_the_baselines(tmp_path: Path) -> None:
    async def first() -> None:
        # A long batch age: the credit is still buffered at shutdown.
        async with running(tmp_path, max_batch_age="1h") as (srv, s):
            await get(s, announce_url(srv, up=0))
            await get(s, announce_url(srv, up=100))

    async def second() -> None:
        async with running(tmp_path, max_batch_age="1h") as (srv, s):
            assert srv.restored_from == tmp_path / "state.json.restored"
            _, body = await get(s, announce_url(srv, up=160))
            assert b"failure reason" not in body
            assert srv.tracker.ledger().credited_up == 160

    run(first())
    assert (tmp_path / "state.json").exists()
    # GC at shutdown sealed and delivered the buffered credit.
    assert read_user_totals(tmp_path / "totals.db") == {USER_A: (100, 0)}
    run(second())
    assert read_user_totals(tmp_path / "totals.db") == {USER_A: (160, 0)}


def test_seed_preset_delivers_on_the_announce_path(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path, preset="seed", batch_size=1) as (srv, s):
            await get(s, announce_url(srv, up=0))
            _, body = await get(s, announce_url(srv, up=70))
            assert b"failure reason" not in body
            # Delivered before the reply: nothing pending when the reply arrived.
            assert srv.tracker.metrics().batches_delivered == 1

            def failing(epoch: str, batch: Any) -> bool:
                raise sqlite3.OperationalError("database is locked")

            srv.sink.apply = failing  # type: ignore[method-assign]
            _, failed = await get(s, announce_url(srv, up=90))
            assert failed[b"failure reason"].startswith(b"handler failed")
    run(scenario())


def test_scrape_and_metrics(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path, batch_size=1) as (srv, s):
            await get(s, announce_url(srv, left=0))
            await get(s, announce_url(srv, peer_id=b"q" * 20, event="completed", left=0))
            hash_q = "%68" * 20
            _, scrape = await get(s, f"http://127.0.0.1:{srv.port}/{PK_A}/scrape?"
                                     f"info_hash={hash_q}")
            assert scrape[b"files"][b"h" * 20] == {b"complete": 2, b"incomplete": 0,
                                                  b"downloaded": 1}
            _, refused = await get(s, f"http://127.0.0.1:{srv.port}/{'0' * 5}/scrape")
            assert b"failure reason" in refused
            await settle(srv)
            async with s.get(f"http://127.0.0.1:{srv.port}/metrics") as resp:
                text = await resp.text()
            for name in ("chihaya_privtrak_users_count 1.0",
                         "chihaya_privtrak_gc_duration_milliseconds_bucket",
                         'chihaya_http_response_duration_milliseconds_count{action="announce",'
                         'address_family="IPv4",error=""} 2.0',
                         'privtrak_outcomes_total{outcome="baseline"} 2.0',
                         'privtrak_records_total{kind="event"} 1.0',
                         "privtrak_batches_delivered_total 1.0",
                         "privtrak_sink_transaction_seconds_count 1.0",
                         "chihaya_storage_seeders_count 2.0"):
                assert name in text, name
    run(scenario())


@pytest.mark.parametrize(("doc", "key"), [
    ({"chihaya": {"http": {"addr": "nowhere"}}}, "chihaya.http.addr"),
    ({"chihaya": {"http": {"tls_cert_path": "c.pem"}}}, "chihaya.http.tls_key_path"),
    ({"chihaya": {"bogus": 1}}, "chihaya.bogus"),
    ({"chihaya": {"prehooks": [{"name": "privtrak", "options": {"batch_size": 0.5}}]}},
     "chihaya.prehooks.privtrak.options.batch_size"),
    ({"chihaya": {"prehooks": [{"name": "privtrak", "options": {"passkeys": ["xyz"]}}]}},
     "chihaya.prehooks.privtrak.options.passkeys[0]"),
    ({"chihaya": {"prehooks": [{"name": "other"}]}}, "chihaya.prehooks[0].name"),
    ({"chihaya": {"announce_interval": "1m", "min_announce_interval": "2m"}},
     "chihaya.min_announce_interval"),
])
def test_bad_configuration_names_the_key(doc: dict[str, Any], key: str) -> None:
    with pytest.raises(ServerConfigError) as info:
        parse_server_config(doc)
    assert info.value.key == key


def test_default_configuration() -> None:
    config = parse_server_config({})
    assert (config.host, config.port, config.database) == ("127.0.0.1", 6969, "privtrak.db")
    assert config.core.preset == "recommended" and config.passkeys is None


@pytest.mark.skipif(shutil.which("openssl") is None,
                    reason="the openssl command makes the test certificate")
def test_tls_serves_announces_over_https(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)

    async def scenario() -> None:
        async with running(tmp_path, http={"tls_cert_path": str(cert),
                                           "tls_key_path": str(key)}) as (srv, _):
            context = ssl.create_default_context(cafile=str(cert))
            context.check_hostname = False
            async with aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(ssl=context)) as tls:
                url = announce_url(srv).replace("http://", "https://")
                status, body = await get(tls, url)
                assert status == 200 and b"failure reason" not in body
                with pytest.raises(aiohttp.ClientError):
                    await get(tls, url.replace("https://", "http://"))
    run(scenario())


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_ipv6_peers_are_listed_in_peers6(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path, http={"addr": "[::1]:0"}) as (srv, s):
            base = announce_url(srv).replace("127.0.0.1", "[::1]")
            await get(s, base.replace("p" * 20, "1" * 20).replace("port=6881", "port=7001"))
            _, body = await get(s, base)
            assert body[b"peers6"] == bytes(15) + b"\x01" + (7001).to_bytes(2, "big")
            assert body[b"peers"] == b""
    run(scenario())


def test_shutdown_lets_an_in_flight_announce_finish(tmp_path: Path) -> None:
    gate = threading.Event()

    async def scenario() -> None:
        async with running(tmp_path, preset="seed", batch_size=1) as (srv, s):
            real_apply = srv.sink.apply

            def slow(epoch: str, batch: Any) -> bool:
                gate.wait(10)
                return real_apply(epoch, batch)

            await get(s, announce_url(srv, up=0))
            srv.sink.apply = slow  # type: ignore[method-assign]
            # Seed preset: this announce waits for its batch's delivery.
            in_flight = asyncio.create_task(get(s, announce_url(srv, up=42)))
            await asyncio.sleep(0.3)
            assert not in_flight.done()
            shutdown = asyncio.create_task(srv.shutdown())
            await asyncio.sleep(0.3)
            gate.set()
            status, body = await in_flight
            assert status == 200 and b"failure reason" not in body
            await shutdown
        assert read_user_totals(tmp_path / "totals.db") == {USER_A: (42, 0)}
    try:
        run(scenario())
    finally:
        gate.set()
