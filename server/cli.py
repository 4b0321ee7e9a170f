"""``privtrak serve``: run the HTTP tracker until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys

from privtrak.reference import PrivtrakError

from ._config import ServerConfigError, load_server_config, parse_addr


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``privtrak serve``."""
    parser.add_argument("--config", metavar="FILE.yaml",
                        help="chihaya-style YAML configuration (default: every default: "
                             "127.0.0.1:6969, SQLite file privtrak.db, recommended preset)")
    parser.add_argument("--addr", metavar="HOST:PORT", help="override chihaya.http.addr")
    parser.add_argument("--database", metavar="FILE",
                        help="override the SQLite file of the DeltaHandler")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop",
                        help="event loop implementation (uvloop when installed, else asyncio)")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def run(args: argparse.Namespace) -> int:
    """Serve until a signal; returns the exit status (2 on a bad configuration)."""
    from ._app import TrackerServer  # noqa: PLC0415 (aiohttp only when serving)

    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_server_config(args.config)
        if args.addr is not None:
            host, port = parse_addr("--addr", args.addr)
            config = dataclasses.replace(config, host=host, port=port)
        if args.database is not None:
            config = dataclasses.replace(config, database=args.database)
    except ServerConfigError as exc:
        print(f"privtrak serve: {exc}", file=sys.stderr)
        return 2

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await TrackerServer(config).serve_until(stop)

    loop_factory = None
    if args.loop == "uvloop":
        try:
            import uvloop  # noqa: PLC0415 (optional: absent on some platforms)
        except ImportError:
            pass
        else:
            loop_factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(main())
    except (PrivtrakError, OSError) as exc:
        print(f"privtrak serve: {exc}", file=sys.stderr)
        return 1
    return 0
