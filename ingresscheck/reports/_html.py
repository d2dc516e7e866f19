"""HTML: one self-contained page (inline CSS and JS, nothing fetched) rendered from ``report_dict``."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from ..results import Report, Status, Step
from ._json import report_dict, write_text
from ._reload import reload_view

NOT_CHECKED = "none"  # the state of a chain step no result looked at


@dataclass
class StepBox:
    step: str
    title: str
    state: str  # a Status value, or NOT_CHECKED
    label: str
    timing: str
    count: int


@dataclass
class Block:
    key: str  # the host, or "" for the cluster-wide block
    title: str
    rows: list[dict[str, Any]]
    steps: list[StepBox] = field(default_factory=list)
    ingresses: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def format_ms(ms: float) -> str:
    """``0.4 ms``, ``12 ms``, ``1.25 s``: a figure a person reads at a glance."""
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    return f"{ms / 1000:.2f} s"


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min {secs} s" if hours else f"{minutes} min {secs} s"


def _worst(statuses: list[str]) -> str:
    return max(statuses, key=lambda s: Status(s).rank) if statuses else NOT_CHECKED


def _row(result: dict[str, Any]) -> dict[str, Any]:
    evidence = result["evidence"]
    where = "/".join(p for p in (result["namespace"], result["ingress"]) if p)
    return {
        **result,
        "step_title": Step(result["step"]).label,
        "where": where,
        "timing": format_ms(result["duration_ms"]),
        "evidence_json": json.dumps(evidence, indent=2, ensure_ascii=False) if evidence else "",
    }


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # follow the chain, worst first within a step; the sort is stable, so probes keep their order
    steps = list(Step)
    return sorted(rows, key=lambda r: (steps.index(Step(r["step"])), -Status(r["status"]).rank))


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {s.value: n for s in Status if (n := sum(r["status"] == s.value for r in rows))}


def _step_ms(rows: list[dict[str, Any]]) -> float:
    """A result's duration is the time its probe had run when it was reported, so a probe's time in a
    step is its latest result there; a step's time adds up its probes."""
    latest: dict[str, float] = {}
    for r in rows:
        latest[r["probe"]] = max(latest.get(r["probe"], 0.0), r["duration_ms"])
    return sum(latest.values())


def _host_block(host: str, rows: list[dict[str, Any]]) -> Block:
    boxes = []
    for step in Step:
        mine = [r for r in rows if r["step"] == step.value]
        state = _worst([r["status"] for r in mine])
        boxes.append(StepBox(
            step=step.value,
            title=step.label,
            state=state,
            label="not checked" if state == NOT_CHECKED else state,
            timing=format_ms(_step_ms(mine)) if mine else "—",
            count=len(mine),
        ))
    ingresses = sorted({r["where"] for r in rows if r["where"]})
    return Block(key=host, title=host, rows=_ordered(rows), steps=boxes, ingresses=ingresses,
                 counts=_counts(rows))


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("ingresscheck.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_html(report: Report, data: dict[str, Any] | None = None) -> str:
    data = data if data is not None else report_dict(report)
    rows = [_row(r) for r in data["results"]]
    by_host: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["host"]:
            by_host.setdefault(row["host"], []).append(row)
    hosts = [_host_block(h, by_host[h]) for h in sorted(by_host, key=lambda h: (h.lower(), h))]
    unhosted = [r for r in rows if not r["host"]]
    cluster = Block(key="", title="Cluster-wide", rows=_ordered(unhosted), counts=_counts(unhosted))
    reload = data.get("sections", {}).get("reload")
    started = dt.datetime.fromisoformat(data["started"])
    finished = dt.datetime.fromisoformat(data["finished"])
    return _environment().get_template("report.html.j2").render(
        data=data,
        statuses=[s.value for s in Status],
        steps=list(Step),
        hosts=hosts,
        cluster=cluster if unhosted else None,
        reload=reload_view(reload) if reload is not None else None,
        started=started.strftime("%Y-%m-%d %H:%M:%S UTC"),
        finished=finished.strftime("%Y-%m-%d %H:%M:%S UTC"),
        duration=format_duration(max((finished - started).total_seconds(), 0.0)),
        total=len(rows),
    )


def write_html(report: Report, path: str | os.PathLike[str], data: dict[str, Any] | None = None) -> Path:
    """Write the report as one self-contained HTML page; returns the path written."""
    return write_text(path, render_html(report, data))
