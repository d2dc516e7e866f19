"""Report writers: JSON, JUnit XML, one self-contained HTML page and Prometheus metrics, all rendered
from ``report_dict``.

Every writer takes a :class:`ingresscheck.results.Report` and a path, writes the file atomically
(creating missing parent directories) and returns the path written. Credentials are masked by
``redact`` before anything is written.
"""

import os
from pathlib import Path

from ..results import Report
from ._html import write_html
from ._json import report_dict, write_json
from ._junit import write_junit
from ._prometheus import push_prometheus, write_prometheus
from ._redact import redact

PathLike = str | os.PathLike[str]


def write_all(
    report: Report,
    html: PathLike | None = None,
    json: PathLike | None = None,
    junit: PathLike | None = None,
    prometheus: PathLike | None = None,
    pushgateway: str | None = None,
) -> dict[str, Path]:
    """Write any of the reports (and push the metrics) from one redacted ``report_dict`` (built once)."""
    data = report_dict(report)
    written: dict[str, Path] = {}
    if html:
        written["html"] = write_html(report, html, data)
    if json:
        written["json"] = write_json(report, json, data)
    if junit:
        written["junit"] = write_junit(report, junit, data)
    if prometheus:
        written["prometheus"] = write_prometheus(report, prometheus, data)
    if pushgateway:
        push_prometheus(report, pushgateway, data)
    return written


__all__ = [
    "write_json",
    "write_junit",
    "write_html",
    "write_prometheus",
    "push_prometheus",
    "write_all",
    "report_dict",
    "redact",
]
