"""Prometheus metrics of a run, from the redacted ``report_dict``: the text exposition format for
node_exporter's textfile collector (``--prometheus FILE``) and the same registry pushed to a
Pushgateway (``--pushgateway URL``).

Metrics (base units in the names, ``ingresscheck_`` prefix; a label a result has not got is ""):

* ``ingresscheck_check_status{check,probe,step,severity,status,host,namespace,kind,name,subject}`` 1
  per verdict (status and severity as labels: alert on ``{status=~"fail|error"}``). Two results with
  the same labels but for status (one check saying two things of one subject) keep the worse.
* ``ingresscheck_check_duration_seconds{check,host,namespace,kind,name,subject}``: time the probe
  had run when it gave the verdict (``duration_ms``).
* ``ingresscheck_phase_duration_seconds{host,probe,phase}``: network phases from evidence
  ``timings_ms`` (``dns``, ``connect``, ``tls``, ``request``, ``wait``, ``transfer``, ``total``, and
  whatever other phase a probe records), the slowest of the host's results of that probe.
* ``ingresscheck_certificate_not_after_timestamp_seconds{host,address,sni}``: the served leaf
  certificate's notAfter, per address and SNI, from TLS evidence.
* ``ingresscheck_results{status}``, ``ingresscheck_hosts``, ``ingresscheck_run_duration_seconds``,
  ``ingresscheck_run_start_timestamp_seconds``, ``ingresscheck_run_end_timestamp_seconds``.

Evidence read: the shapes ``ingresscheck.evidence`` declares, nothing else: a result's ``timings_ms``
(``Timed``) and the served leaf of the TLS checks judged on a served chain (``ServedChain``: address,
port, SNI, ``certificate.not_after``).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..evidence import served_certificate, timings
from ..results import Report, Status
from ._json import report_dict

PREFIX = "ingresscheck"
_RANK = {s.value: s.rank for s in Status}
_CHECK_LABELS = ("check", "probe", "step", "severity", "status", "host", "namespace", "kind", "name", "subject")
_KEY_LABELS = ("check", "host", "namespace", "kind", "name", "subject")


def _label(value: Any) -> str:
    return "" if value is None else str(value)


def _timestamp(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def build_registry(data: dict[str, Any]) -> Any:
    """A prometheus_client ``CollectorRegistry`` holding the run's metrics (see the module docstring)."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry(auto_describe=True)
    status = Gauge(
        f"{PREFIX}_check_status",
        "1 per verdict of a check; status and severity are labels",
        _CHECK_LABELS,
        registry=registry,
    )
    duration = Gauge(
        f"{PREFIX}_check_duration_seconds",
        "time the probe had run when it gave this verdict",
        _KEY_LABELS,
        registry=registry,
    )
    phases = Gauge(
        f"{PREFIX}_phase_duration_seconds",
        "network phase time of a host's checks by a probe (the slowest of its results)",
        ("host", "probe", "phase"),
        registry=registry,
    )
    not_after = Gauge(
        f"{PREFIX}_certificate_not_after_timestamp_seconds",
        "notAfter of the served leaf certificate, per address and SNI",
        ("host", "address", "sni"),
        registry=registry,
    )
    results = Gauge(f"{PREFIX}_results", "results of the run by status", ("status",), registry=registry)
    hosts = Gauge(f"{PREFIX}_hosts", "hosts checked", registry=registry)
    run_seconds = Gauge(f"{PREFIX}_run_duration_seconds", "wall time of the run", registry=registry)
    started = Gauge(f"{PREFIX}_run_start_timestamp_seconds", "when the run started", registry=registry)
    ended = Gauge(f"{PREFIX}_run_end_timestamp_seconds", "when the run ended", registry=registry)

    verdicts: dict[tuple[str, ...], dict[str, Any]] = {}
    slowest: dict[tuple[str, str, str], float] = {}
    certs: dict[tuple[str, str, str], float] = {}
    for r in data["results"]:
        key = tuple(_label(r.get(k)) for k in _KEY_LABELS)
        kept = verdicts.get(key)
        if kept is None or _RANK.get(r["status"], 0) > _RANK.get(kept["status"], 0):
            verdicts[key] = r
        host = _label(r.get("host"))
        evidence = r.get("evidence") if isinstance(r.get("evidence"), dict) else {}
        for phase, ms in timings(evidence).items():
            k = (host, _label(r.get("probe")), phase)
            slowest[k] = max(slowest.get(k, 0.0), ms / 1000)
        if (cert := served_certificate(r)) is not None and (end := _timestamp(cert.not_after)) is not None:
            certs[(cert.host, cert.address, cert.sni)] = end
    for key, r in verdicts.items():
        status.labels(*(_label(r.get(k)) for k in _CHECK_LABELS)).set(1)
        duration.labels(*key).set(max(float(r.get("duration_ms") or 0.0), 0.0) / 1000)
    for k, seconds in slowest.items():
        phases.labels(*k).set(seconds)
    for k, ts in certs.items():
        not_after.labels(*k).set(ts)
    for s in Status:
        results.labels(s.value).set(data["summary"].get(s.value, 0))
    hosts.set(len({r["host"] for r in data["results"] if r.get("host")}))
    start, end = _timestamp(data["started"]) or 0.0, _timestamp(data["finished"]) or 0.0
    started.set(start)
    ended.set(end)
    run_seconds.set(max(end - start, 0.0))
    return registry


def prometheus_text(report: Report, data: dict[str, Any] | None = None) -> str:
    from prometheus_client import generate_latest

    text: bytes = generate_latest(build_registry(data if data is not None else report_dict(report)))
    return text.decode("utf-8")


def write_prometheus(report: Report, path: str | os.PathLike[str], data: dict[str, Any] | None = None) -> Path:
    """Write the text exposition format atomically (the textfile collector must never read half a file)."""
    from ._json import write_text

    return write_text(path, prometheus_text(report, data))


def push_prometheus(
    report: Report, url: str, data: dict[str, Any] | None = None, *, job: str = "ingresscheck", timeout: float = 10.0
) -> None:
    """PUT the metrics to a Pushgateway under ``job`` and the run's context: a push replaces the group,
    so series of hosts gone since the last run disappear too. Failure is one line (UsageError)."""
    from urllib.error import URLError

    from prometheus_client import push_to_gateway

    data = data if data is not None else report_dict(report)
    context = data["cluster"]["context"] or "cluster"
    try:
        push_to_gateway(url, job=job, registry=build_registry(data), grouping_key={"context": context}, timeout=timeout)
    except (URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise UsageError(f"cannot push metrics to the Pushgateway {url}: {reason}") from None


def check_pushgateway_url(url: str) -> str:
    """``http(s)://host[:port][/path]``; anything else is a usage error before the run starts."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--pushgateway {url}: give an http:// or https:// URL, e.g. http://pushgateway:9091")
    return url
