"""The checkout must not shadow the installed package."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_top_level_folder_is_named_like_the_import_package() -> None:
    """A ./privtrak folder would be imported instead of the installed package
    by any command run from the checkout (python -m privtrak ...), which then
    misses privtrak.sim and the other mapped sub-packages."""
    assert not (ROOT / "privtrak").exists()
    assert (ROOT / "cli" / "__main__.py").is_file()
