"""JUnit XML for CI: one `testsuite` per test file, one `testcase` per conversation."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from itertools import groupby
from pathlib import Path

from proxy.simulator.runner import TestResult


def junit_xml(results: Sequence[TestResult]) -> str:
    root = ET.Element("testsuites", name="cek-proxy test")
    for file, group in groupby(results, key=lambda r: r.file):
        cases = list(group)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=str(file),
            tests=str(len(cases)),
            failures=str(sum(not c.passed for c in cases)),
            errors="0",
            time=f"{sum(c.elapsed for c in cases):.3f}",
        )
        for case in cases:
            element = ET.SubElement(
                suite, "testcase", classname=file.stem, name=case.name, time=f"{case.elapsed:.3f}"
            )
            if not case.passed:
                failure = ET.SubElement(element, "failure", message=case.failures[0])
                failure.text = "\n".join(case.failures)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(path: Path, results: Sequence[TestResult]) -> None:
    path.write_text(junit_xml(results), encoding="utf-8")
