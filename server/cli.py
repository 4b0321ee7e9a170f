"""``privtrak serve``: run the HTTP tracker until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys

from privtrak._usage import EXIT_USAGE
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
    """Serve until SIGTERM or SIGINT, then shut down gracefully.

    Exit status (the project's conventions): 0 after a graceful shutdown; 2
    when the server could not run (an invalid configuration file, a state
    file that cannot be restored, an address that cannot be bound); 3 for an
    impossible command line (``--addr`` not ``host:port``).
    """
    from ._app import TrackerServer  # noqa: PLC0415 (aiohttp only when serving)

    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        addr = None if args.addr is None else parse_addr("--addr", args.addr)
    except ServerConfigError as exc:
        print(f"privtrak serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = load_server_config(args.config)
    except ServerConfigError as exc:
        print(f"privtrak serve: {exc}", file=sys.stderr)
        return 2
    if addr is not None:
        config = dataclasses.replace(config, host=addr[0], port=addr[1])
    if args.database is not None:
        config = dataclasses.replace(config, database=args.database)

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
        return 2
    return 0
