"""The reference (or a mutant) behind the adapter protocol, slowed down: each
step waits DELAY seconds first, so that a test can interrupt a run midway.

Usage: python cli_slow_adapter.py DELAY [MUTANT]. With SLOW_ADAPTER_MARK set
to a path, that file is created once 20 steps have been served (a test waits
for it before interrupting the run).
"""

import os
import sys
import time
from pathlib import Path

from privtrak.conformance import MUTANTS, Execution, serve
from privtrak.reference import Config


def main() -> int:
    delay = float(sys.argv[1])
    base = MUTANTS[sys.argv[2]] if len(sys.argv) > 2 else Execution
    mark = os.environ.get("SLOW_ADAPTER_MARK")
    steps = [0]

    class Slow:
        def __init__(self, config: Config, start: int, allow_list: object = None) -> None:
            self.inner = base(config, start, allow_list)  # type: ignore[arg-type]

        def apply(self, step: object) -> object:
            time.sleep(delay)
            steps[0] += 1
            if mark and steps[0] == 20:
                Path(mark).touch()
            return self.inner.apply(step)  # type: ignore[arg-type]

    return serve(Slow)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
