"""The ``privtrak`` command line as a new user meets it: start-up cost, usage
errors (exit 3) with suggestions, output paths checked first, no progress bar
in a redirected stderr, and the public entry points the docs name."""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import privtrak.conformance as kit
from privtrak._usage import progress_bar
from privtrak.cli import build_parser, main
from privtrak.conformance import case_id_matches, packaged_vector_dir, packaged_vector_files
from privtrak.conformance.cli import conform as conform_command
from privtrak.reference import PRESETS, ConfigError, parse_config
from privtrak.sim._errors import ScenarioError
from privtrak.sim._scenario import scenario_from_yaml

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = f"{sys.executable} -m privtrak adapter"
HEAVY = ("hypothesis", "jsonschema", "simpy", "yaml", "tqdm")


def privtrak(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "privtrak", *args], input=stdin,
                          capture_output=True, text=True, timeout=120, check=False)


def heavy_modules_after(code: str) -> list[str]:
    """The heavy packages imported by running ``code`` in a fresh interpreter."""
    probe = (f"import sys\n{code}\n"
             f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}), "
             "file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", probe], input='{"type": "bye"}\n',
                          capture_output=True, text=True, timeout=60, check=False)
    last = proc.stderr.strip().splitlines()[-1]
    found: list[str] = json.loads(last.replace("'", '"'))
    return found


# -- start-up -----------------------------------------------------------------------


def test_help_and_adapter_import_none_of_the_heavy_libraries() -> None:
    assert heavy_modules_after(
        "from privtrak.cli import main\ntry:\n    main(['--help'])\n"
        "except SystemExit:\n    pass") == []
    assert heavy_modules_after("from privtrak.cli import main\nmain(['adapter'])") == []
    assert heavy_modules_after("import privtrak.conformance, privtrak.reference") == []


def test_every_subcommand_still_builds_its_options() -> None:
    parser = build_parser()  # every subcommand loaded, as the docs generator would
    for words in (["sim", "--out", "o"], ["conform", "--adapter", "x"], ["vectors", "--check"],
                  ["adapter", "--list-mutants"], ["conform", "fuzz", "--adapter", "x"]):
        assert parser.parse_args(words).command == words[0]
    lazy = build_parser("adapter")
    assert lazy.parse_args(["adapter", "--mutant", "m"]).mutant == "m"


def test_the_help_still_lists_every_subcommand() -> None:
    proc = privtrak("--help")
    assert proc.returncode == 0
    for name in ("sim", "conform", "vectors", "adapter"):
        assert re.search(rf"^    {name} ", proc.stdout, re.M), proc.stdout


# -- usage errors: exit 3, with "did you mean" ----------------------------------------


def test_a_misspelt_subcommand_is_suggested_and_exits_3() -> None:
    proc = privtrak("confrom")
    assert proc.returncode == 3
    assert "invalid choice: 'confrom' (did you mean 'conform'?)" in proc.stderr


def test_a_misspelt_choice_is_suggested_and_exits_3() -> None:
    proc = privtrak("conform", "--adapter", REFERENCE, "--preset", "recomended")
    assert proc.returncode == 3
    assert "(did you mean 'recommended'?)" in proc.stderr
    assert privtrak("conform", "--no-such-option").returncode == 3


def test_an_unknown_config_key_or_value_is_suggested() -> None:
    with pytest.raises(ConfigError, match=r"unknown key \(did you mean 'batch_size'\?\)"):
        parse_config({"bach_size": 10})
    with pytest.raises(ConfigError, match=r"\(did you mean 'recommended'\?\)"):
        parse_config({"preset": "recomended"})
    with pytest.raises(ConfigError, match=r"\(did you mean 'background'\?\)"):
        parse_config({"flush_path": "backgroud"})


def test_an_unknown_scenario_key_is_suggested() -> None:
    with pytest.raises(ScenarioError, match=r"unknown key \(did you mean 'duration'\?\)"):
        scenario_from_yaml("durattion: 5\n")


def test_conform_usage_shows_the_action_as_optional() -> None:
    parser = argparse.ArgumentParser(prog="privtrak conform")
    conform_command.add_arguments(parser)
    usage = parser.format_usage()
    assert "ACTION ..." not in usage.replace("[ACTION ...]", "")
    lines = usage.splitlines()
    assert lines[0].startswith("usage: privtrak conform [-h] --adapter COMMAND")
    assert lines[1].strip().startswith("privtrak conform fuzz [-h] --adapter COMMAND")


# -- --case globs and the empty selection ---------------------------------------------


def test_a_case_glob_also_selects_everything_beneath_it() -> None:
    assert case_id_matches("defect/1/seed/x", "defect/1")
    assert case_id_matches("defect/1/seed/x", "defect/1/")
    assert case_id_matches("defect/1/seed/x", "defect/*/seed")
    assert not case_id_matches("defect/10/seed/x", "defect/1")
    assert case_id_matches("defect/10/seed/x", "defect/1*")


def test_conform_case_defect_1_runs_the_defect_1_cases(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", "--no-progress", "-v", "--adapter", REFERENCE,
                 "--case", "defect/1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    passed = [line for line in lines if line.startswith("PASSED")]
    assert len(passed) == 2, lines  # the seed and the recommended variant
    assert all(": defect/1/" in line for line in passed)


# -- output paths are checked before the work -----------------------------------------


def test_an_unwritable_junit_path_is_refused_before_any_case_runs(tmp_path: Path) -> None:
    proc = privtrak("conform", "--adapter", REFERENCE, "--junit",
                    str(tmp_path / "missing" / "j.xml"))
    assert proc.returncode == 3
    assert "cannot write the --junit file: the folder" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""  # no case ran, no summary
    assert privtrak("conform", "--adapter", REFERENCE, "--junit", str(tmp_path)).returncode == 3


def test_an_unwritable_fuzz_output_is_refused_before_the_search(tmp_path: Path) -> None:
    proc = privtrak("conform", "fuzz", "--adapter", REFERENCE, "--out",
                    str(tmp_path / "missing" / "f.json"))
    assert proc.returncode == 3
    assert "cannot write the vector file: the folder" in proc.stderr
    assert proc.stdout == ""


# -- privtrak vectors never writes into the installed package by default --------------


def test_vectors_without_options_writes_nothing_and_says_what_to_give() -> None:
    before = {p.name: p.stat().st_mtime_ns for p in packaged_vector_dir().iterdir()}
    proc = privtrak("vectors")
    assert proc.returncode == 3
    assert "--out DIR" in proc.stderr and "--check" in proc.stderr
    after = {p.name: p.stat().st_mtime_ns for p in packaged_vector_dir().iterdir()}
    assert after == before


def test_vectors_check_without_out_checks_the_packaged_files() -> None:
    proc = privtrak("vectors", "--check")
    assert proc.returncode == 0, proc.stderr
    assert f"in {packaged_vector_dir()} are up to date" in proc.stdout


# -- progress bars only on a terminal -------------------------------------------------


def test_no_progress_bar_in_a_redirected_stderr(tmp_path: Path) -> None:
    proc = privtrak("conform", "--adapter", REFERENCE, "--case", "defect/2")
    assert proc.returncode == 0
    assert proc.stderr == ""
    sim = privtrak("sim", "--out", str(tmp_path), "--duration", "1m")
    assert sim.returncode == 0, sim.stderr
    assert "\r" not in sim.stderr and "it/s" not in sim.stderr and "s/s" not in sim.stderr


def test_the_progress_bar_is_drawn_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    bar = progress_bar(10, stream=terminal, unit="case", desc="conform")
    bar.update(3)
    bar.close()
    assert "conform" in terminal.getvalue()
    quiet = Terminal()
    progress_bar(10, stream=quiet, enabled=False).update(3)
    assert quiet.getvalue() == ""


# -- messages and the public API the docs use -----------------------------------------


def test_a_missing_scenario_file_is_called_a_file_not_a_key(tmp_path: Path) -> None:
    proc = privtrak("sim", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert "scenario file: cannot be read" in proc.stderr
    assert "<file>" not in proc.stderr


def test_presets_are_read_only() -> None:
    with pytest.raises(TypeError):
        PRESETS["seed"] = PRESETS["recommended"]  # type: ignore[index]
    assert sorted(PRESETS) == ["recommended", "seed"]


def test_the_conformance_package_exports_a_public_api() -> None:
    assert kit.__all__ == sorted(kit.__all__, key=lambda n: (not n.isupper(), n))
    assert set(kit.__all__) == set(kit._EXPORTS)
    for name in kit.__all__:
        assert getattr(kit, name) is not None, name
    assert {"run_cases", "fuzz", "load_file", "MUTANTS", "serve"} <= set(kit.__all__)
    assert packaged_vector_files()
    with pytest.raises(AttributeError):
        kit.no_such_name  # noqa: B018


def test_docs_point_only_at_public_modules() -> None:
    docs = [ROOT / "README.md", *ROOT.glob("*/*.md")]
    for doc in docs:
        text = doc.read_text(encoding="utf-8")
        assert not re.search(r"privtrak\.conformance\._", text), doc
