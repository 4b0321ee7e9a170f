"""JUnit XML for CI systems: one testsuite, one testcase per conformance case.

Cases map onto the usual JUnit vocabulary: ``failed`` is ``<failure>``,
``errored`` is ``<error>``, ``skipped`` is ``<skipped>``. The document holds
no timings or host names, so the same run writes the same bytes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ._report import CaseResult, Status, tally


def junit_document(results: list[CaseResult], suite: str, adapter: str) -> bytes:
    """The JUnit XML for ``results``, UTF-8 encoded with a declaration."""
    counts = tally(results)
    root = ET.Element("testsuites", name=suite, tests=str(len(results)),
                      failures=str(counts[Status.FAILED]), errors=str(counts[Status.ERRORED]),
                      skipped=str(counts[Status.SKIPPED]))
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)),
                       failures=str(counts[Status.FAILED]), errors=str(counts[Status.ERRORED]),
                       skipped=str(counts[Status.SKIPPED]))
    props = ET.SubElement(ts, "properties")
    ET.SubElement(props, "property", name="adapter", value=adapter)
    for result in results:
        case = ET.SubElement(ts, "testcase", classname=_classname(result.source),
                             name=result.case_id)
        message = result.message if result.step is None else (
            f"step {result.step}: {result.message}")
        if result.status is Status.FAILED:
            ET.SubElement(case, "failure", message=message, type="divergence").text = (
                result.detail)
        elif result.status is Status.ERRORED:
            ET.SubElement(case, "error", message=message, type="adapter-error").text = (
                result.detail)
        elif result.status is Status.SKIPPED:
            ET.SubElement(case, "skipped", message=message)
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body + b"\n"


def write_junit(path: Path, results: list[CaseResult], suite: str, adapter: str) -> None:
    """Write :func:`junit_document` to ``path``."""
    path.write_bytes(junit_document(results, suite, adapter))


def _classname(source: str) -> str:
    name = Path(source).name
    return "conformance." + (name[:-5] if name.endswith(".json") else name)
