"""The reference (or a mutant) behind the adapter protocol, slowed down: each
step waits DELAY seconds first, so that a test can interrupt a run midway.

Usage: python cli_slow_adapter.py DELAY [MUTANT]
"""

import sys
import time

from privtrak.conformance import MUTANTS, Execution, serve
from privtrak.reference import Config


def main() -> int:
    delay = float(sys.argv[1])
    base = MUTANTS[sys.argv[2]] if len(sys.argv) > 2 else Execution

    class Slow:
        def __init__(self, config: Config, start: int) -> None:
            self.inner = base(config, start)

        def apply(self, step: object) -> object:
            time.sleep(delay)
            return self.inner.apply(step)  # type: ignore[arg-type]

    return serve(Slow)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
