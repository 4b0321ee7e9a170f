"""The ``privtrak`` command line.

Each subcommand lives in the layer it belongs to and registers itself here
through :data:`SUBCOMMANDS`: a name, a one-line help, and where to find a
function that adds its arguments to a parser and one that runs it and
returns the exit status (see :mod:`privtrak._usage` for what the statuses
mean). Only the chosen subcommand's module is imported, so ``privtrak
--help`` and ``privtrak adapter`` start fast.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

from privtrak import __version__

from ._usage import EXIT_USAGE, UsageParser

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    # name: (where add_arguments(parser) and run(args) -> int are, help); where is a
    # module ("pkg.mod") or an object in one ("pkg.mod:name") holding both
    "sim": ("privtrak.sim.cli", "run a swarm simulation of a scenario and write its results"),
    "report": ("privtrak.capacity.cli",
               "run a capacity study (sweeps, replications, thresholds) and write a report "
               "with figures (--check DIR: verify a committed one)"),
    "conform": ("privtrak.conformance.cli:conform",
                "run the conformance vectors against an implementation's adapter "
                "(and 'conform fuzz': differential fuzzing)"),
    "vectors": ("privtrak.conformance.cli:vectors",
                "regenerate the conformance vector files from the reference into --out DIR "
                "(--check: verify them)"),
    "adapter": ("privtrak.conformance.cli:adapter",
                "serve the reference (or --model: the normative model, or --mutant NAME) "
                "over the JSON-lines adapter protocol on stdin/stdout"),
    "serve": ("privtrak.server.cli",
              "run the reference as a BitTorrent HTTP tracker with an SQLite DeltaHandler"),
    "load": ("privtrak.server.load",
             "drive a tracker with announces at a fixed rate and report rate, latency "
             "and errors"),
}


def load_subcommand(name: str) -> Any:
    """The object (or module) with ``add_arguments`` and ``run`` of subcommand ``name``."""
    spec = SUBCOMMANDS[name][0]
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def build_parser(command: str | None = None) -> UsageParser:
    """The argument parser; the arguments of subcommand ``command`` only (every
    subcommand's, if ``command`` is ``None``), so other layers stay unimported."""
    parser = UsageParser(
        prog="privtrak",
        description="Reference, conformance kit and swarm simulator for private BitTorrent "
                    "tracker accounting.",
    )
    parser.add_argument("--version", action="version", version=f"privtrak {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if command is None or name == command:
            handler = load_subcommand(name)
            handler.add_arguments(sub_parser)
            sub_parser.set_defaults(_handler=handler)
    return parser


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option (the
    top-level options take no value), if it is a known subcommand."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in SUBCOMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    words = list(sys.argv[1:] if argv is None else argv)
    command = chosen_command(words)
    parser = build_parser(command if command is not None else "")
    args = parser.parse_args(words)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    status: int = args._handler.run(args)
    return status
