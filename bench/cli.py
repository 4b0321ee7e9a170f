"""Benchmark of the command line: start-up imports and the kit's self-check.

Prints one JSON document. Standard library only; run it with the interpreter
the ``privtrak`` package is installed in::

    python bench/cli.py              # three runs of each, the best kept
    python bench/cli.py --repeat 1

What is measured:

* ``import_ms``: the time ``python -X importtime`` reports for the imports
  of one command, for ``privtrak --help`` and for ``privtrak adapter``
  answering ``bye`` at once: the sum of the top-level entries' cumulative
  times from ``runpy`` on (what ``python -m privtrak`` imports), and apart
  from it ``startup_import_ms``, the interpreter's own start-up imports
  before that (``encodings``, ``site`` and what the installed ``.pth``
  files pull in), which no change to privtrak can remove.
  ``heavy_modules`` lists which of hypothesis, jsonschema, simpy, yaml and
  tqdm each command imported (none should be). importtime figures are wall
  time, so ``process_cpu_ms`` adds the user + system CPU time of the whole
  process (interpreter start-up included, no ``-X importtime``), which other
  load on the machine disturbs less;
* ``self_check_cpu_s``: user + system CPU seconds of ``privtrak conform
  --adapter 'privtrak adapter' --no-progress`` over every packaged vector,
  the runner and the adapter process together (``RUSAGE_CHILDREN`` of this
  script, which waits for the runner, which waits for the adapter).

Each figure is the best (smallest) of ``--repeat`` runs: other load on the
machine can only make a run slower.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys

HEAVY = ("hypothesis", "jsonschema", "simpy", "yaml", "tqdm")
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


def import_profile(args: list[str], stdin: str = "") -> tuple[float, float, list[str]]:
    """Milliseconds of imports of ``python -X importtime -m privtrak ARGS`` (the
    command's, the interpreter start-up's) and the heavy packages imported."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "privtrak", *args],
                          input=stdin, capture_output=True, text=True, check=False)
    totals_us = [0, 0]  # start-up, command
    phase = 0
    heavy = set()
    for line in proc.stderr.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        cumulative, indent, name = int(match[2]), match[3], match[4]
        if len(indent) == 1:  # a top-level entry: its cumulative time holds its children
            if name == "runpy":
                phase = 1
            totals_us[phase] += cumulative
        root = name.split(".")[0]
        if root in HEAVY:
            heavy.add(root)
    return totals_us[1] / 1000, totals_us[0] / 1000, sorted(heavy)


def process_cpu_ms(args: list[str], stdin: str = "") -> float:
    """User + system CPU milliseconds of ``python -m privtrak ARGS``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "privtrak", *args], input=stdin,
                   capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return 1000 * ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))


def self_check_cpu() -> tuple[float, int]:
    """CPU seconds (user + system, both processes) of the self-check, and its status."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, "-m", "privtrak", "conform", "--adapter",
                           f"{sys.executable} -m privtrak adapter", "--no-progress"],
                          capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, proc.returncode


def main() -> int:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (best kept)")
    args = parser.parse_args()
    report: dict[str, object] = {"python": sys.version.split()[0], "repeat": args.repeat}
    imports: dict[str, object] = {}
    for label, argv, stdin in (("privtrak --help", ["--help"], ""),
                               ("privtrak adapter", ["adapter"], '{"type": "bye"}\n')):
        runs = [import_profile(argv, stdin) for _ in range(args.repeat)]
        cpu = min(process_cpu_ms(argv, stdin) for _ in range(args.repeat))
        imports[label] = {"import_ms": round(min(r[0] for r in runs), 1),
                          "process_cpu_ms": round(cpu, 1),
                          "startup_import_ms": round(min(r[1] for r in runs), 1),
                          "heavy_modules": runs[0][2]}
    report["imports"] = imports
    checks = [self_check_cpu() for _ in range(args.repeat)]
    report["self_check"] = {"cpu_s": round(min(c[0] for c in checks), 3),
                            "exit_status": checks[0][1],
                            "measures": "user+sys CPU of the runner and the adapter process"}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
