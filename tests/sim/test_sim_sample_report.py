"""The committed sample report is exactly what the simulator produces today."""

from pathlib import Path

from privtrak.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "reports" / "sample-default"


def test_sample_default_report_regenerates_byte_for_byte(tmp_path: Path) -> None:
    """Determinism: the embedded default scenario, seed 1, gives the committed files."""
    assert main(["sim", "--out", str(tmp_path), "--no-progress"]) == 0
    committed = sorted(p.name for p in SAMPLE.iterdir())
    assert committed == sorted(p.name for p in tmp_path.iterdir())
    for name in committed:
        if name.endswith((".png", ".svg")):
            # Figures: drawn from the files compared below; their bytes depend on the
            # matplotlib and FreeType versions, so only their presence is checked.
            continue
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), (
            f"{name} differs: regenerate with "
            "python -m privtrak sim --out reports/sample-default --no-progress")
