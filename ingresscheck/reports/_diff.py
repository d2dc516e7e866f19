"""What changed between two runs (two JSON reports): the check an SRE runs before and after a change.

A verdict is identified by (check, host, namespace, kind, name, subject); reports of schema v1 have
no kind/name/subject and match on the rest. Sections:

* new failures: a verdict that is fail or error now and was not (or did not exist) before;
* fixed: a verdict that was fail or error and now is pass, warn or skip;
* gone failures: a failing verdict of the old run that the new run does not have (its host is still there);
* vanished: a passing (or warning) verdict of the old run that the new run does not have: a host or a rule
  that disappeared is not a failure anywhere else (``--fail-on removed`` makes it one);
* other status changes (pass -> warn, warn -> pass, ...);
* hosts added and removed;
* certificates changed: the served leaf's SHA-256 per host and address (with its ``not_after``), from the
  served-chain TLS results (``ingresscheck.evidence.ServedChain``);
* latency changed (only when asked: timings move on a busy machine): per host and probe, the slowest
  ``timings_ms.total`` of its results (else the probe's ``duration_ms``), flagged when it moved by more
  than a threshold AND a factor beyond the run's typical change (the median ratio over every host and
  probe, when there are at least ``SPREAD_MIN`` of them): a machine twice as busy slows every host alike.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from ..errors import UsageError
from ..evidence import served_certificate, timings
from ._json import write_text

BAD = ("fail", "error")
SPREAD_MIN = 5  # (host, probe) pairs needed before the median change is taken as the run's baseline
DIFF_SCHEMA = "ingresscheck.diff/v1"
FAIL_ON = ("new", "removed")  # what makes exit 1: new failures (always), removed hosts and vanished verdicts
Key = tuple[str, str, str, str, str, str]


@dataclass(frozen=True)
class Change:
    check: str
    host: str
    where: str  # namespace/name
    subject: str
    old: str  # the old status, "" when the verdict did not exist
    new: str  # the new status, "" when it no longer exists
    message: str  # the new message (the old one when the verdict is gone)
    severity: str

    @property
    def target(self) -> str:
        return " ".join(p for p in (self.host or self.where or "cluster", self.subject) if p)


@dataclass(frozen=True)
class CertChange:
    host: str
    address: str
    old_sha256: str
    new_sha256: str
    old_not_after: str
    new_not_after: str


@dataclass(frozen=True)
class LatencyChange:
    host: str
    probe: str
    old_ms: float
    new_ms: float


@dataclass
class Diff:
    old_label: str
    new_label: str
    new_failures: list[Change] = field(default_factory=list)
    fixed: list[Change] = field(default_factory=list)
    gone_failures: list[Change] = field(default_factory=list)
    vanished: list[Change] = field(default_factory=list)
    other_changes: list[Change] = field(default_factory=list)
    hosts_added: list[str] = field(default_factory=list)
    hosts_removed: list[str] = field(default_factory=list)
    certificates: list[CertChange] = field(default_factory=list)
    latency: list[LatencyChange] = field(default_factory=list)
    threshold_ms: float = 100.0
    factor: float = 2.0
    latency_compared: bool = False
    baseline_ratio: float = 1.0  # the run's median latency change the factor is measured from

    @property
    def regressed(self) -> bool:
        return bool(self.new_failures)

    @property
    def removed(self) -> bool:
        """A host or a verdict that was there and is not: what ``--fail-on removed`` fails on."""
        return bool(self.hosts_removed or self.vanished)

    def failed(self, fail_on: tuple[str, ...] = ("new",)) -> bool:
        return self.regressed or ("removed" in fail_on and self.removed)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        d = asdict(self)
        return {"schema": DIFF_SCHEMA, **d, "regressed": self.regressed, "removed": self.removed}

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.new_failures,
                self.fixed,
                self.gone_failures,
                self.vanished,
                self.other_changes,
                self.hosts_added,
                self.hosts_removed,
                self.certificates,
                self.latency,
            )
        )


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A JSON report of ingresscheck, or a one-line UsageError naming the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or not str(data.get("schema", "")).startswith("ingresscheck.report/"):
        raise UsageError(f"{path}: not an ingresscheck JSON report (no ingresscheck.report/* schema)")
    results = data.get("results")
    if not isinstance(results, list) or not all(
        isinstance(r, dict) and "check" in r and "status" in r for r in results
    ):
        raise UsageError(f"{path}: its results are not a list of results with check and status")
    for i, r in enumerate(results):
        for name, (types, expected) in _RESULT_FIELDS.items():
            value = r.get(name)
            if value is not None and (not isinstance(value, types) or isinstance(value, bool) and bool not in types):
                shown = repr(value) if isinstance(value, (str, int, float, bool)) else type(value).__name__
                raise UsageError(f"{path}: results[{i}].{name}: expected {expected}, got {shown[:60]}")
    return data


# what diff reads from each result, by type: a malformed field is one line naming it, never a traceback
_RESULT_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "check": ((str,), "a string"),
    "status": ((str,), "a string"),
    "host": ((str,), "a string"),
    "namespace": ((str,), "a string"),
    "kind": ((str,), "a string"),
    "name": ((str,), "a string"),
    "ingress": ((str,), "a string"),
    "subject": ((str,), "a string"),
    "message": ((str,), "a string"),
    "probe": ((str,), "a string"),
    "duration_ms": ((int, float), "a number"),
    "evidence": ((dict,), "a mapping"),
}


def _key(r: dict[str, Any]) -> Key:
    return (
        str(r["check"]),
        r.get("host") or "",
        r.get("namespace") or "",
        r.get("kind") or "",
        r.get("name") or r.get("ingress") or "",
        r.get("subject") or "",
    )


def _change(r: dict[str, Any], old: str, new: str) -> Change:
    where = "/".join(p for p in (r.get("namespace"), r.get("name") or r.get("ingress")) if p)
    return Change(
        check=str(r["check"]),
        host=r.get("host") or "",
        where=where,
        subject=r.get("subject") or "",
        old=old,
        new=new,
        message=str(r.get("message") or ""),
        severity=str(r.get("severity") or ""),
    )


def _verdicts(data: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    rank = {"skip": 0, "pass": 1, "warn": 2, "fail": 3, "error": 4}
    out: dict[Key, dict[str, Any]] = {}
    for r in data["results"]:
        k = _key(r)
        if k not in out or rank.get(r["status"], 0) > rank.get(out[k]["status"], 0):
            out[k] = r  # one check saying two things of one subject: the worse counts
    return out


def _certificates(data: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str]]:
    """(host, address) -> (leaf sha256, not_after) from the served-chain TLS results (evidence.ServedChain)."""
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for r in data["results"]:
        if (cert := served_certificate(r)) is not None:
            out.setdefault((cert.host, cert.address), (cert.sha256, cert.not_after))
    return out


def _latencies(data: dict[str, Any]) -> dict[tuple[str, str], float]:
    """(host, probe) -> ms: the slowest evidence ``timings_ms.total`` (evidence.Timed) of its results, else
    its duration."""
    totals: dict[tuple[str, str], float] = {}
    durations: dict[tuple[str, str], float] = {}
    for r in data["results"]:
        if not r.get("host"):
            continue
        k = (r["host"], str(r.get("probe") or r["check"].split(".")[0]))
        durations[k] = max(durations.get(k, 0.0), float(r.get("duration_ms") or 0.0))
        ev = r.get("evidence") if isinstance(r.get("evidence"), dict) else {}
        if (total := timings(ev).get("total")) is not None:
            totals[k] = max(totals.get(k, 0.0), total)
    return {k: totals.get(k, v) for k, v in durations.items()}


def diff_reports(
    old: dict[str, Any],
    new: dict[str, Any],
    *,
    threshold_ms: float = 100.0,
    factor: float = 2.0,
    latency: bool = True,
    old_label: str = "old",
    new_label: str = "new",
) -> Diff:
    result = Diff(
        old_label=old_label, new_label=new_label, threshold_ms=threshold_ms, factor=factor, latency_compared=latency
    )
    before, after = _verdicts(old), _verdicts(new)
    old_hosts = {r["host"] for r in old["results"] if r.get("host")}
    new_hosts = {r["host"] for r in new["results"] if r.get("host")}
    result.hosts_added = sorted(new_hosts - old_hosts)
    result.hosts_removed = sorted(old_hosts - new_hosts)
    for k, r in after.items():
        was = before[k]["status"] if k in before else ""
        now = r["status"]
        if now in BAD and was not in BAD:
            result.new_failures.append(_change(r, was, now))
        elif was in BAD and now not in BAD:
            result.fixed.append(_change(r, was, now))
        elif was and was != now:
            result.other_changes.append(_change(r, was, now))
    for k, r in before.items():
        if k not in after and r["status"] in BAD and (not r.get("host") or r["host"] in new_hosts):
            result.gone_failures.append(_change(r, r["status"], ""))
        elif k not in after and r["status"] in ("pass", "warn"):
            result.vanished.append(_change(r, r["status"], ""))
    old_certs, new_certs = _certificates(old), _certificates(new)
    for host, address in sorted(old_certs.keys() & new_certs.keys()):
        (old_sha, old_end), (new_sha, new_end) = old_certs[host, address], new_certs[host, address]
        if old_sha != new_sha:
            result.certificates.append(CertChange(host, address, old_sha, new_sha, old_end, new_end))
    if latency:
        _latency_changes(result, _latencies(old), _latencies(new))
    order = {"error": 0, "fail": 1, "warn": 2, "pass": 3, "skip": 4, "": 5}
    for changes in (result.new_failures, result.fixed, result.gone_failures, result.vanished, result.other_changes):
        changes.sort(key=lambda c: (order.get(c.new, 9), c.check, c.host, c.where, c.subject))
    return result


def _latency_changes(
    result: Diff, old_lat: dict[tuple[str, str], float], new_lat: dict[tuple[str, str], float]
) -> None:
    pairs = sorted(old_lat.keys() & new_lat.keys())
    ratios = sorted(new_lat[k] / old_lat[k] for k in pairs if old_lat[k] > 0 and new_lat[k] > 0)
    if len(ratios) >= SPREAD_MIN:
        result.baseline_ratio = statistics.median(ratios)
    base = result.baseline_ratio
    for host, probe in pairs:
        a, b = old_lat[host, probe], new_lat[host, probe]
        expected = a * base  # what this host would take now if it moved like the rest of the run
        lo, hi = min(expected, b), max(expected, b)
        if hi - lo > result.threshold_ms and hi > lo * result.factor:
            result.latency.append(LatencyChange(host, probe, a, b))


def diff_text(d: Diff, clean: Callable[[str], str] = str) -> str:
    """The diff as text; ``clean`` makes each line safe for where it goes (the CLI's terminal escaping:
    a report's fields are cluster data)."""
    lines = [clean(f"ingresscheck diff: {d.old_label} -> {d.new_label}")]

    def section(title: str, rows: list[str]) -> None:
        lines.append(f"{title}: {len(rows)}")
        lines.extend(f"  {clean(row)}" for row in rows)

    def verdict(c: Change) -> str:
        return f"{c.old or 'absent'} -> {c.new or 'absent'}  {c.check}  {c.target}: {c.message}"

    section("new failures", [verdict(c) for c in d.new_failures])
    section("fixed", [verdict(c) for c in d.fixed])
    section("failures no longer checked", [verdict(c) for c in d.gone_failures])
    gone = set(d.hosts_removed)
    section(
        "passing checks no longer reported",
        [verdict(c) for c in d.vanished if c.host not in gone]
        + [f"every check of removed host {h}" for h in d.hosts_removed if any(c.host == h for c in d.vanished)],
    )
    section("other status changes", [verdict(c) for c in d.other_changes])
    section("hosts added", d.hosts_added)
    section("hosts removed", d.hosts_removed)
    section(
        "certificates changed",
        [
            f"{c.host} {c.address}: {c.old_sha256[:16]}… -> {c.new_sha256[:16]}… "
            f"(not after {c.old_not_after or '?'} -> {c.new_not_after or '?'})"
            for c in d.certificates
        ],
    )
    if d.latency_compared:
        beyond = f", beyond the run's median change x{d.baseline_ratio:.2g}" if d.baseline_ratio != 1.0 else ""
        section(
            f"latency changed (> {d.threshold_ms:g} ms and x{d.factor:g}{beyond})",
            [f"{c.host} {c.probe}: {c.old_ms:.1f} ms -> {c.new_ms:.1f} ms" for c in d.latency],
        )
    else:
        lines.append("latency: not compared (--latency compares it)")
    return "\n".join(lines) + "\n"


def diff_html(d: Diff) -> str:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ingresscheck.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("diff.html.j2").render(d=d)


def write_diff_html(d: Diff, path: str | os.PathLike[str]) -> Path:
    return write_text(path, diff_html(d))


def write_diff_json(d: Diff, path: str | os.PathLike[str]) -> Path:
    return write_text(path, json.dumps(d.to_dict(), indent=2) + "\n")
