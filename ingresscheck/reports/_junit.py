"""JUnit XML: one ``<testsuite>`` per probe, one ``<testcase>`` per result, for CI dashboards."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ..results import Report
from ._json import report_dict, write_text

# characters XML 1.0 cannot hold even escaped (control characters, lone surrogates, U+FFFE/U+FFFF)
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _XML_ILLEGAL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def testcase_name(result: dict[str, Any]) -> str:
    """``<check> [<namespace>/<object>/<host>] <subject>``, leaving out the parts a result has not got;
    the subject (an address, a rule) tells apart the verdicts one check gives on one host."""
    obj = result.get("ingress") or result.get("name")
    where = "/".join(p for p in (result.get("namespace"), obj, result.get("host")) if p)
    name = f"{result['check']} [{where}]" if where else str(result["check"])
    return f"{name} {result['subject']}" if result.get("subject") else name


def _seconds(duration_ms: float) -> str:
    return f"{max(duration_ms, 0.0) / 1000:.3f}"


def _details(result: dict[str, Any]) -> str:
    parts = [result["message"]]
    if result.get("remediation"):
        parts.append(f"Remediation: {result['remediation']}")
    if result.get("evidence"):
        evidence = json.dumps(result["evidence"], separators=(",", ":"), sort_keys=True, ensure_ascii=True)
        parts.append(f"Evidence: {evidence}")
    return "\n\n".join(parts)


def _set(el: ET.Element, **attrs: str | int) -> None:
    for key, value in attrs.items():
        el.set(key, _xml_text(str(value)))


def junit_element(report: Report, data: dict[str, Any] | None = None) -> ET.Element:
    data = data if data is not None else report_dict(report)
    suites: dict[str, list[dict[str, Any]]] = {}
    for result in data["results"]:
        suites.setdefault(result["probe"], []).append(result)

    root = ET.Element("testsuites")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_ms = 0.0
    for probe, results in suites.items():
        suite = ET.SubElement(root, "testsuite")
        counts = {
            "tests": len(results),
            "failures": sum(r["status"] == "fail" for r in results),
            "errors": sum(r["status"] == "error" for r in results),
            "skipped": sum(r["status"] == "skip" for r in results),
        }
        suite_ms = sum(r["duration_ms"] for r in results)
        _set(suite, name=f"ingresscheck.{probe}", **counts, time=_seconds(suite_ms), timestamp=data["started"])
        for key, n in counts.items():
            totals[key] += n
        total_ms += suite_ms
        seen: dict[str, int] = {}
        for result in results:
            case = ET.SubElement(suite, "testcase")
            name = testcase_name(result)
            # CI dashboards key test history by name: a name must not repeat within its suite
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                name = f"{name} #{seen[name]}"
            _set(case, classname=f"ingresscheck.{probe}", name=name, time=_seconds(result["duration_ms"]))
            status = result["status"]
            if status in ("fail", "error"):
                outcome = ET.SubElement(case, "failure" if status == "fail" else "error")
                _set(outcome, message=result["message"], type=result["severity"])
                outcome.text = _xml_text(_details(result))
            elif status == "skip":
                _set(ET.SubElement(case, "skipped"), message=result["message"])
            elif status == "warn":
                ET.SubElement(case, "system-out").text = _xml_text(f"WARN: {result['message']}")
    _set(root, name="ingresscheck", **totals, time=_seconds(total_ms))
    ET.indent(root)
    return root


def write_junit(report: Report, path: str | os.PathLike[str], data: dict[str, Any] | None = None) -> Path:
    """Write the report as JUnit XML; returns the path written."""
    text = ET.tostring(junit_element(report, data), encoding="unicode")
    return write_text(path, '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n")
