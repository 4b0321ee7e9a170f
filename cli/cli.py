"""The ``privtrak`` command line.

Each subcommand lives in the layer it belongs to and registers itself here
through :data:`SUBCOMMANDS`: a name, a one-line help, a function that adds
its arguments to a parser, and a function that runs it and returns the exit
status. Layers are imported lazily, so ``privtrak --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from privtrak import __version__

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    # name: (module that defines add_arguments(parser) and run(args) -> int, help)
    "sim": ("privtrak.sim.cli", "run a swarm simulation of a scenario and write its results"),
    "conform": ("privtrak.conformance._runner",
                "run the conformance vectors against an implementation's adapter "
                "(and 'conform fuzz': differential fuzzing)"),
    "vectors": ("privtrak.conformance._generate",
                "regenerate the conformance vector files from the reference (--check: "
                "verify the committed ones)"),
    "adapter": ("privtrak.conformance._adapter",
                "serve the reference (or --mutant NAME) over the JSON-lines adapter "
                "protocol on stdin/stdout"),
    "serve": ("privtrak.server.cli",
              "run the reference as a BitTorrent HTTP tracker with an SQLite DeltaHandler"),
    "load": ("privtrak.server.load",
             "drive a tracker with announces at a fixed rate and report rate, latency "
             "and errors"),
}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, every subcommand included."""
    parser = argparse.ArgumentParser(
        prog="privtrak",
        description="Reference, conformance kit and swarm simulator for private BitTorrent "
                    "tracker accounting.",
    )
    parser.add_argument("--version", action="version", version=f"privtrak {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    status: int = args._module.run(args)
    return status
