"""Real BitTorrent clients against ``privtrak serve``: libtorrent seeder and
leecher sessions on 127.0.0.1, each with its own passkey, move a file of a
few MiB; the SQLite database must then hold exactly the file's size as the
seeder's upload and the leecher's download.

The torrent is hybrid (v1 + v2), so libtorrent announces every event under
both infohashes with the same counters. The tracker is configured with the
v2 (truncated) infohash as an alias of the v1 one: both announces then share
one baseline and the second of each pair credits nothing. Without the alias
the reference credits the bytes twice (SPEC G1); ``test_hybrid_alias`` in
test_server_http.py pins both behaviours at the HTTP level.
"""

from __future__ import annotations

from pathlib import Path

from e2e_swarm import (
    ServerProcess,
    Swarm,
    free_port,
    make_torrent,
    metric,
    outcome_count,
    write_config,
)

from privtrak.server import read_user_totals

SIZE = 4 * 1024 * 1024
SEEDER = "5eed" * 8
LEECHER = "1eec" * 8


def _setup(tmp_path: Path) -> tuple[Path, Path, object, Path]:
    seed_dir, leech_dir = tmp_path / "seed", tmp_path / "leech"
    seed_dir.mkdir()
    leech_dir.mkdir()
    ti = make_torrent(seed_dir, SIZE)
    hashes = ti.info_hashes()
    assert hashes.has_v1() and hashes.has_v2(), "the test torrent must be hybrid"
    v2_truncated = bytes.fromhex(str(hashes.v2))[:20].hex()
    config = tmp_path / "serve.yaml"
    write_config(config, tmp_path / "totals.db", tmp_path / "state.json",
                 {"hybrid_aliases": {v2_truncated: str(hashes.v1)}})
    return seed_dir, leech_dir, ti, config


def _finish(swarm: Swarm, server: ServerProcess, db: Path) -> dict[bytes, tuple[int, int]]:
    swarm.remove_all()
    swarm.wait(lambda: outcome_count(server.port, "stopped") >= 2, 20,
               "both stopped announces")
    assert server.stop() == 0, server.log_path.read_text("utf-8")
    return read_user_totals(db)


def test_transfer_is_credited_exactly(tmp_path: Path) -> None:
    seed_dir, leech_dir, ti, config = _setup(tmp_path)
    server = ServerProcess(config, tmp_path / "serve.log")
    try:
        swarm = Swarm(ti, server.port, seed_dir, leech_dir, (SEEDER, LEECHER))
        swarm.wait(swarm.leecher_done, 60, "the leecher to complete")
        totals = _finish(swarm, server, tmp_path / "totals.db")
    finally:
        server.stop()
    assert (leech_dir / "payload.bin").read_bytes() == (seed_dir / "payload.bin").read_bytes()
    assert totals == {bytes.fromhex(SEEDER): (SIZE, 0), bytes.fromhex(LEECHER): (0, SIZE)}


def test_restart_mid_transfer_loses_nothing(tmp_path: Path) -> None:
    seed_dir, leech_dir, ti, config = _setup(tmp_path)
    port = free_port()
    log = tmp_path / "serve.log"
    server = ServerProcess(config, log, port)
    try:
        # 512 KiB/s: the 4 MiB transfer takes about eight seconds, with an
        # announce every two seconds crediting progress.
        swarm = Swarm(ti, port, seed_dir, leech_dir, (SEEDER, LEECHER),
                      upload_limit=512 * 1024)
        credited_down = 'privtrak_ledger_bytes_total{direction="down",term="credited"}'
        swarm.wait(lambda: metric(port, credited_down) > 0
                   and swarm.handles[1].status().total_done < SIZE, 30,
                   "credited download before the restart")
        assert server.stop() == 0
        assert (tmp_path / "state.json").exists()
        before = read_user_totals(tmp_path / "totals.db")
        server = ServerProcess(config, log, port)
        assert "restored" in log.read_text("utf-8")
        swarm.wait(swarm.leecher_done, 60, "the leecher to complete after the restart")
        totals = _finish(swarm, server, tmp_path / "totals.db")
    finally:
        server.stop()
    assert 0 < sum(down for _, down in before.values()) < SIZE, "restart was not mid-transfer"
    assert totals == {bytes.fromhex(SEEDER): (SIZE, 0), bytes.fromhex(LEECHER): (0, SIZE)}
