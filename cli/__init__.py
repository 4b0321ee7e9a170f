"""privtrak: reference, conformance kit and swarm simulator for private-tracker accounting."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("privtrak")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"

__all__ = ["__version__"]
