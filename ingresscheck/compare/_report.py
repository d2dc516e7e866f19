"""Parity reports: JSON (plain data), HTML (one table per host, breaking first) and JUnit (one test per host).

Credentials never appear: requests carry them only as a flag ("with credentials").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ._model import HostParity, ParityReport, Severity

SCHEMA = "ingresscheck.parity/v1"


def to_dict(report: ParityReport) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "started": report.started,
        "seconds": report.seconds,
        "a": {**report.a.__dict__, "implementation": report.a_implementation},
        "b": {**report.b.__dict__, "implementation": report.b_implementation},
        "summary": {s.value: report.count(s) for s in Severity}
        | {
            "hosts": len(report.hosts),
            "only_a": len(report.only_a),
            "only_b": len(report.only_b),
            "verdict": "breaking" if report.breaking else "no breaking difference",
        },
        "only_a": list(report.only_a),
        "only_b": list(report.only_b),
        "support": [r.as_dict() for r in report.support],
        "hosts": [_host(h) for h in report.ordered_hosts()],
    }


def _host(h: HostParity) -> dict[str, Any]:
    return {
        "host": h.host,
        "a_object": h.a_object,
        "b_object": h.b_object,
        "worst": h.worst.value if h.worst else None,
        "differences": [d.as_dict() for d in h.differences],
        "requests": [
            {
                "key": e.request.key,
                "category": e.request.category,
                "request": e.request.describe(),
                "note": e.request.note,
                "a": e.a.as_dict(),
                "b": e.b.as_dict(),
                "verdict": min((d.severity for d in e.differences), key=lambda s: s.rank).value
                if e.differences
                else "same",
            }
            for e in h.exchanges
        ],
    }


def write_json(report: ParityReport, path: Path) -> None:
    path.write_text(json.dumps(to_dict(report), indent=2) + "\n")


def write_html(report: ParityReport, path: Path) -> None:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html", "j2"])
    )
    path.write_text(env.get_template("parity.html.j2").render(r=to_dict(report)))


def write_junit(report: ParityReport, path: Path) -> None:
    """One testcase per host: failed on a breaking difference, the rest in its system-out."""
    suite = ET.Element(
        "testsuite",
        name="ingresscheck.parity",
        tests=str(len(report.hosts) + len(report.only_a)),
        failures=str(sum(1 for h in report.hosts if h.worst is Severity.BREAKING) + len(report.only_a)),
        time=str(report.seconds),
    )
    for h in report.ordered_hosts():
        case = ET.SubElement(suite, "testcase", classname="parity", name=h.host)
        breaking = [d for d in h.differences if d.severity is Severity.BREAKING]
        if breaking:
            fail = ET.SubElement(case, "failure", message=f"{len(breaking)} breaking difference(s)")
            fail.text = "\n".join(
                f"{d.request.describe()}: {d.aspect} A={d.a} B={d.b}: {d.explanation}" for d in breaking
            )
        others = [d for d in h.differences if d.severity is not Severity.BREAKING]
        if others:
            ET.SubElement(case, "system-out").text = "\n".join(
                f"[{d.severity.value}] {d.request.describe()}: {d.aspect} A={d.a} B={d.b}: {d.explanation}"
                for d in others
            )
    for host in report.only_a:
        case = ET.SubElement(suite, "testcase", classname="parity", name=host)
        ET.SubElement(case, "failure", message="served by A only: it would stop being served after the switch")
    ET.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)


def write(report: ParityReport, out_dir: Path, formats: tuple[str, ...]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = out_dir / f"parity.{ {'junit': 'xml'}.get(fmt, fmt) }"
        {"json": write_json, "html": write_html, "junit": write_junit}[fmt](report, target)
        written.append(target)
    return written
