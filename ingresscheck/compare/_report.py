"""Parity reports: JSON (plain data), HTML (one table per host, breaking first) and JUnit (one test per host).

Credentials never appear: requests carry them only as a flag ("with credentials").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ._aspects import ASPECTS
from ._model import BREAKING, CLASSES, HostParity, ParityReport, class_of, rank

SCHEMA = "ingresscheck.parity/v1"
REDIRECT_CODE = {"name": "redirect_code", "class": "changed", "summary": "the 3xx code of the plain-HTTP redirect"}


def to_dict(report: ParityReport) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "started": report.started,
        "seconds": report.seconds,
        "a": {**report.a.__dict__, "implementation": report.a_implementation},
        "b": {**report.b.__dict__, "implementation": report.b_implementation},
        "summary": {name: report.count(s) for s, name in CLASSES.items()}
        | {
            "expected": sum(len(h.expected) for h in report.hosts),
            "stale_expectations": len(report.stale),
            "hosts": len(report.hosts),
            "only_a": len(report.only_a),
            "only_b": len(report.only_b),
            "verdict": "breaking" if report.breaking else "no breaking difference",
        },
        "only_a": list(report.only_a),
        "only_b": list(report.only_b),
        "support": [r.as_dict() for r in report.support],
        "aspects": [{"name": a.name, "class": class_of(a.severity), "summary": a.summary} for a in ASPECTS]
        + [REDIRECT_CODE],
        "expected": [{"host": h.host, **d.as_dict()} for h in report.ordered_hosts() for d in h.expected],
        "stale_expectations": [x.as_dict() for x in report.stale],
        "hosts": [_host(h) for h in report.ordered_hosts()],
    }


def _host(h: HostParity) -> dict[str, Any]:
    return {
        "host": h.host,
        "a_object": h.a_object,
        "b_object": h.b_object,
        "worst": class_of(h.worst) if h.worst else None,
        "differences": [d.as_dict() for d in h.differences],
        "requests": [
            {
                "key": e.request.key,
                "category": e.request.category,
                "request": e.request.describe(),
                "note": e.request.note,
                "a": e.a.as_dict(),
                "b": e.b.as_dict(),
                "verdict": class_of(min((d.severity for d in e.differences if not d.expected), key=rank))
                if any(not d.expected for d in e.differences)
                else "expected"
                if e.differences
                else "same",
            }
            for e in h.exchanges
        ],
        "checks": [
            {
                **c.as_dict(),
                "verdict": class_of(min((d.severity for d in c.differences if not d.expected), key=rank))
                if any(not d.expected for d in c.differences)
                else "expected"
                if c.differences
                else "same",
            }
            for c in h.checks
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
        tests=str(len(report.hosts) + len(report.only_a) + (1 if report.stale else 0)),
        failures=str(sum(1 for h in report.hosts if h.worst is BREAKING) + len(report.only_a)),
        time=str(report.seconds),
    )
    for h in report.ordered_hosts():
        case = ET.SubElement(suite, "testcase", classname="parity", name=h.host)
        breaking = [d for d in h.differences if d.severity is BREAKING]
        if breaking:
            fail = ET.SubElement(case, "failure", message=f"{len(breaking)} breaking difference(s)")
            fail.text = "\n".join(
                f"{d.request.describe()}: {d.aspect} A={d.a} B={d.b}: {d.explanation}" for d in breaking
            )
        others = [d for d in h.differences if d.severity is not BREAKING]
        lines = [f"[{d.klass}] {d.request.describe()}: {d.aspect} A={d.a} B={d.b}: {d.explanation}" for d in others]
        lines += [f"[expected] {d.request.describe()}: {d.aspect} A={d.a} B={d.b}: {d.expected}" for d in h.expected]
        if lines:
            ET.SubElement(case, "system-out").text = "\n".join(lines)
    for host in report.only_a:
        case = ET.SubElement(suite, "testcase", classname="parity", name=host)
        ET.SubElement(case, "failure", message="served by A only: it would stop being served after the switch")
    if report.stale:
        case = ET.SubElement(suite, "testcase", classname="parity", name="expectations")
        ET.SubElement(case, "system-err").text = "\n".join(
            f"stale expectation (matched nothing): {x.describe()}" for x in report.stale
        )
    ET.ElementTree(suite).write(path, encoding="unicode", xml_declaration=True)


def write(report: ParityReport, out_dir: Path, formats: tuple[str, ...]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        target = out_dir / f"parity.{ {'junit': 'xml'}.get(fmt, fmt) }"
        {"json": write_json, "html": write_html, "junit": write_junit}[fmt](report, target)
        written.append(target)
    return written
