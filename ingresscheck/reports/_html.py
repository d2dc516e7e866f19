"""HTML: one self-contained page (inline CSS and JS, nothing fetched) rendered from ``report_dict``.

Built to be read at fleet scale (1,000 hosts, 20,000 results) in ten seconds:

* the first screen is rendered here, as HTML: the summary, the findings grouped by check and message
  pattern (one line for the same warning on 1,000 hosts, with its hosts), and the overview matrix
  (a row per host, a cell per chain step coloured by its worst result, failures first);
* every result with its evidence travels once, as the redacted report dict, gzip-compressed and
  base64-encoded in ``<script type="application/octet-stream">`` blocks of 50 hosts each; the page
  decompresses a block (``DecompressionStream``, no network) only when a person opens one of its
  hosts or the cluster-wide results, and renders that host's table then. That keeps 20,000 evidence
  blocks out of the DOM and the file small (about 2 MB at 1,000 hosts instead of 33 MB).
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import orjson

from ..results import Report, Status, Step, without_nonces
from ._json import report_dict, write_text
from ._reload import reload_view

NOT_CHECKED = "none"  # the state of a chain step no result looked at
# statuses that make a finding, worst first; pass and skip stay in the per-host detail
FINDING_STATUSES = ("error", "fail", "warn")
HOSTS_SHOWN_PER_FINDING = 6  # the rest of a finding's hosts are behind "and N more"
HOSTS_PER_CHUNK = 50  # compressed together: big enough to compress well, small enough to open fast


@dataclass
class StepCell:
    step: str
    title: str
    state: str  # a Status value, or NOT_CHECKED
    timing: str
    count: int


@dataclass
class HostRow:
    index: int  # position in the sorted host list: the id links use
    host: str
    refs: list[str]
    worst: str
    steps: list[StepCell]
    counts: dict[str, int]
    bad: int  # fail + error results
    query: str  # what the search box matches against: host, Ingresses, the checks that did not pass


@dataclass
class Finding:
    index: int
    status: str
    severity: str
    check: str
    step_title: str
    pattern: str
    example: str
    remediation: str
    hosts: list[tuple[int, str]] = field(default_factory=list)  # (host row index, host)
    objects: list[str] = field(default_factory=list)  # where, for results without a host
    results: int = 0

    @property
    def more(self) -> int:
        return max(len(self.hosts) - HOSTS_SHOWN_PER_FINDING, 0)

    @property
    def query(self) -> str:
        return " ".join([self.check, self.pattern, self.example, *[h for _, h in self.hosts], *self.objects]).lower()


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


_RANKS = {s.value: s.rank for s in Status} | {NOT_CHECKED: -1}


def _rank(status: str) -> int:
    return _RANKS[status]


def _worst(statuses: list[str]) -> str:
    return max(statuses, key=_rank) if statuses else NOT_CHECKED


def _where(result: dict[str, Any]) -> str:
    return "/".join(p for p in (result.get("namespace"), result.get("ingress") or result.get("name")) if p)


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {s.value: n for s in Status if (n := sum(r["status"] == s.value for r in rows))}


def _step_ms(rows: list[dict[str, Any]]) -> float:
    """A result's duration is the time its probe had run when it was reported, so a probe's time in a
    step is its latest result there; a step's time adds up its probes."""
    latest: dict[str, float] = {}
    for r in rows:
        latest[r["probe"]] = max(latest.get(r["probe"], 0.0), r["duration_ms"])
    return sum(latest.values())


def _host_row(host: str, rows: list[dict[str, Any]]) -> HostRow:
    cells = []
    for step in Step:
        mine = [r for r in rows if r["step"] == step.value]
        cells.append(
            StepCell(
                step=step.value,
                title=step.label,
                state=_worst([r["status"] for r in mine]),
                timing=format_ms(_step_ms(mine)) if mine else "—",
                count=len(mine),
            )
        )
    counts = _counts(rows)
    refs = sorted({w for r in rows if (w := _where(r))})
    not_passed = sorted({r["check"] for r in rows if r["status"] in FINDING_STATUSES})
    return HostRow(
        index=0,
        host=host,
        refs=refs,
        worst=_worst([r["status"] for r in rows]),
        steps=cells,
        counts=counts,
        bad=counts.get("fail", 0) + counts.get("error", 0),
        query=" ".join([host, *refs, *not_passed]).lower(),
    )


_DIGITS = re.compile(r"\d+")


def message_pattern(result: dict[str, Any]) -> str:
    """The message with what differs from host to host taken out (the host, its Ingress, numbers), so
    the same finding on a thousand hosts is one line."""
    text = str(result.get("message") or "")
    if result.get("host"):
        text = text.replace(result["host"], "‹host›")
    where = _where(result)
    if where and "/" in where:
        text = text.replace(where, "‹ingress›")
    return _DIGITS.sub("‹n›", without_nonces(text))


def _findings(results: list[dict[str, Any]], host_index: dict[str, int]) -> tuple[list[Finding], list[int]]:
    """Findings grouped by (status, check, message pattern), worst and most widespread first; and for
    every result the index of its finding (-1: not a finding)."""
    groups: dict[tuple[str, str, str], Finding] = {}
    members: dict[tuple[str, str, str], list[int]] = {}
    for i, r in enumerate(results):
        if r["status"] not in FINDING_STATUSES:
            continue
        key = (r["status"], r["check"], message_pattern(r))
        group = groups.get(key)
        if group is None:
            group = groups[key] = Finding(
                index=0,
                status=r["status"],
                severity=r["severity"],
                check=r["check"],
                step_title=Step(r["step"]).label,
                pattern=key[2],
                example=r["message"],
                remediation=r.get("remediation") or "",
            )
            members[key] = []
        members[key].append(i)
        group.results += 1
        if r.get("host"):
            group.hosts.append((host_index[r["host"]], r["host"]))
        elif (where := _where(r) or r.get("subject") or "cluster") not in group.objects:
            group.objects.append(where)
    severities = ("critical", "major", "minor", "info")
    ordered = sorted(
        groups,
        key=lambda k: (
            -_rank(k[0]),
            severities.index(groups[k].severity) if groups[k].severity in severities else 9,
            -groups[k].results,
            k[1],
            k[2],
        ),
    )
    finding_of = [-1] * len(results)
    out = []
    for n, key in enumerate(ordered):
        group = groups[key]
        group.index = n
        group.hosts = sorted(set(group.hosts))  # a host listed once, in matrix order (failures first)
        for i in members[key]:
            finding_of[i] = n
        out.append(group)
    return out, finding_of


def _pack(payload: Any) -> str:
    raw = orjson.dumps(payload)
    return base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")


def embedded_chunks(results: list[dict[str, Any]], finding_of: list[int], hosts: list[HostRow]) -> list[str]:
    """The results with their evidence, gzip + base64, in chunks of ``HOSTS_PER_CHUNK`` hosts (matrix
    order) and a last chunk for the results without a host: opening a host decodes one chunk only."""
    chunk_of = {h.host: h.index // HOSTS_PER_CHUNK for h in hosts}
    count = (len(hosts) + HOSTS_PER_CHUNK - 1) // HOSTS_PER_CHUNK
    parts: list[dict[str, list[Any]]] = [{"results": [], "finding": []} for _ in range(count + 1)]
    for r, f in zip(results, finding_of, strict=True):
        part = parts[chunk_of[r["host"]] if r["host"] else count]
        part["results"].append(r)
        part["finding"].append(f)
    return [_pack(p) for p in parts]


_CHUNK = re.compile(r'<script type="application/octet-stream" class="report-chunk"[^>]*>([^<]*)</script>')


def read_embedded(html: str) -> dict[str, list[Any]]:
    """What :func:`embedded_chunks` put into a page, merged: ``{"results": [...], "finding": [...]}``."""
    merged: dict[str, list[Any]] = {"results": [], "finding": []}
    chunks = _CHUNK.findall(html)
    if not chunks:
        raise ValueError("no embedded report data in this page")
    for text in chunks:
        part = json.loads(gzip.decompress(base64.b64decode(text)))
        merged["results"] += part["results"]
        merged["finding"] += part["finding"]
    return merged


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
    results: list[dict[str, Any]] = data["results"]
    by_host: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        if r["host"]:
            by_host.setdefault(r["host"], []).append(r)
    hosts = [_host_row(h, rows) for h, rows in by_host.items()]
    # failures first: the worst status, then how many results failed, then the name
    hosts.sort(key=lambda h: (-_rank(h.worst), -h.bad, h.host.lower(), h.host))
    for i, row in enumerate(hosts):
        row.index = i
    findings, finding_of = _findings(results, {h.host: h.index for h in hosts})
    unhosted = [r for r in results if not r["host"]]
    reload = data.get("sections", {}).get("reload")
    started = dt.datetime.fromisoformat(data["started"])
    finished = dt.datetime.fromisoformat(data["finished"])
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            data=data,
            statuses=[s.value for s in Status],
            steps=list(Step),
            hosts=hosts,
            findings=findings,
            shown_per_finding=HOSTS_SHOWN_PER_FINDING,
            cluster_counts=_counts(unhosted),
            cluster_total=len(unhosted),
            chunks=embedded_chunks(results, finding_of, hosts),
            hosts_per_chunk=HOSTS_PER_CHUNK,
            reload=reload_view(reload) if reload is not None else None,
            started=started.strftime("%Y-%m-%d %H:%M:%S UTC"),
            finished=finished.strftime("%Y-%m-%d %H:%M:%S UTC"),
            duration=format_duration(max((finished - started).total_seconds(), 0.0)),
            total=len(results),
            host_total=len(hosts),
            bad_hosts=sum(1 for h in hosts if h.bad),
        )
    )


def write_html(report: Report, path: str | os.PathLike[str], data: dict[str, Any] | None = None) -> Path:
    """Write the report as one self-contained HTML page; returns the path written."""
    return write_text(path, render_html(report, data))
