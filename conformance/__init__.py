"""privtrak.conformance: test vectors, the adapter protocol, the runner, the
differential fuzzer and the mutants.

This is the package's public API (everything in ``__all__``); its
underscored modules may change without notice. A name is imported on first
use, so ``import privtrak.conformance`` is cheap and loads neither the
fuzzer (Hypothesis) nor the schema validator (jsonschema) until needed.

Vectors::

    files = packaged_vector_files()            # or any *.json vector files
    loaded = load_file(files[0])               # VectorFile: cases and errors
    cases = select(load_files(files), globs=["defect/1"], presets=["seed"])

Running them against an adapter command (what ``privtrak conform`` does)::

    info, results = run_cases(RunOptions("privtrak adapter"), cases)
    print(summary_line(results, info.implementation)); exit_status(results)

Fuzzing it against the reference (``privtrak conform fuzz``)::

    session = Session(RunOptions("./my-adapter")); session.open()
    found = fuzz(session, presets=["recommended"], max_examples=200, seed=1)

Serving an implementation behind the protocol (``privtrak adapter``), and
the mutants that prove the kit catches bugs (``privtrak adapter --mutant
NAME``; ``--list-mutants`` lists them)::

    serve(Execution)                           # the reference on stdin/stdout
    serve(ModelExecution, MODEL_INFO)          # the normative model (--model)
    for name in MUTANTS: print(name, describe_mutant(name))

The JSON Schemas (``schema/*.schema.json``; the protocol's and the vector
files' share ``common.schema.json`` through ``$ref``)::

    jsonschema.Draft202012Validator(vector_schema(), registry=schema_registry())
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, tuple[str, str]] = {
    # vector files
    "Case": ("._vectors", "Case"),
    "CaseStep": ("._vectors", "CaseStep"),
    "VectorFile": ("._vectors", "VectorFile"),
    "VectorError": ("._steps", "VectorError"),
    "FEATURES": ("._vectors", "FEATURES"),
    "load_file": ("._vectors", "load_file"),
    "load_strict": ("._vectors", "load_strict"),
    "parse_file": ("._vectors", "parse_file"),
    "dumps_file": ("._vectors", "dumps_file"),
    "vector_schema": ("._schemas", "vector_schema"),
    "protocol_schema": ("._schemas", "protocol_schema"),
    "common_schema": ("._schemas", "common_schema"),
    "schema_registry": ("._schemas", "schema_registry"),
    "packaged_vector_dir": ("._vectors", "packaged_vector_dir"),
    "packaged_vector_files": ("._vectors", "packaged_vector_files"),
    # the cases of a run
    "LoadedCase": ("._load", "LoadedCase"),
    "BrokenCase": ("._load", "BrokenCase"),
    "vector_files": ("._load", "vector_files"),
    "load_files": ("._load", "load_files"),
    "select": ("._load", "select"),
    "case_id_matches": ("._load", "case_id_matches"),
    # the runner
    "RunOptions": ("._session", "RunOptions"),
    "Session": ("._session", "Session"),
    "CannotRun": ("._session", "CannotRun"),
    "run_cases": ("._runner", "run_cases"),
    "CaseResult": ("._report", "CaseResult"),
    "Status": ("._report", "Status"),
    "summary_line": ("._report", "summary_line"),
    "exit_status": ("._report", "exit_status"),
    "junit_document": ("._junit", "junit_document"),
    # the differential fuzzer
    "fuzz": ("._fuzz", "fuzz"),
    "FuzzResult": ("._fuzz", "FuzzResult"),
    "Diverged": ("._fuzz", "Diverged"),
    "render_failure": ("._fuzz", "render_failure"),
    "failure_case": ("._fuzz", "failure_case"),
    # the adapter side and the reference behind it
    "serve": ("._adapter", "serve"),
    "Execution": ("._execute", "Execution"),
    "Accounting": ("._execute", "Accounting"),
    "ModelExecution": ("._model_execution", "ModelExecution"),
    "MODEL_INFO": ("._model_execution", "MODEL_INFO"),
    # the mutants
    "MUTANTS": ("._mutants", "MUTANTS"),
    "describe_mutant": ("._mutants", "describe"),
    "mutant_adapter_command": ("._mutants", "adapter_command"),
}

__all__ = [
    "FEATURES",
    "MODEL_INFO",
    "MUTANTS",
    "Accounting",
    "BrokenCase",
    "CannotRun",
    "Case",
    "CaseResult",
    "CaseStep",
    "Diverged",
    "Execution",
    "FuzzResult",
    "LoadedCase",
    "ModelExecution",
    "RunOptions",
    "Session",
    "Status",
    "VectorError",
    "VectorFile",
    "case_id_matches",
    "common_schema",
    "describe_mutant",
    "dumps_file",
    "exit_status",
    "failure_case",
    "fuzz",
    "junit_document",
    "load_file",
    "load_files",
    "load_strict",
    "mutant_adapter_command",
    "packaged_vector_dir",
    "packaged_vector_files",
    "parse_file",
    "protocol_schema",
    "render_failure",
    "run_cases",
    "schema_registry",
    "select",
    "serve",
    "summary_line",
    "vector_files",
    "vector_schema",
]
"""Every exported name (the same as the keys of ``_EXPORTS``, which says where each
lives)."""

if TYPE_CHECKING:
    from ._adapter import serve
    from ._execute import Accounting, Execution
    from ._fuzz import Diverged, FuzzResult, failure_case, fuzz, render_failure
    from ._junit import junit_document
    from ._load import BrokenCase, LoadedCase, case_id_matches, load_files, select, vector_files
    from ._model_execution import MODEL_INFO, ModelExecution
    from ._mutants import MUTANTS
    from ._mutants import adapter_command as mutant_adapter_command
    from ._mutants import describe as describe_mutant
    from ._report import CaseResult, Status, exit_status, summary_line
    from ._runner import run_cases
    from ._schemas import common_schema, protocol_schema, schema_registry, vector_schema
    from ._session import CannotRun, RunOptions, Session
    from ._steps import VectorError
    from ._vectors import (
        FEATURES,
        Case,
        CaseStep,
        VectorFile,
        dumps_file,
        load_file,
        load_strict,
        packaged_vector_dir,
        packaged_vector_files,
        parse_file,
    )


def __getattr__(name: str) -> Any:
    """Import an exported name on first use (PEP 562)."""
    try:
        module_name, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name, __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
