"""Report writers: JSON, JUnit XML and one self-contained HTML page, all rendered from ``report_dict``.

Every writer takes a :class:`ingresscheck.results.Report` and a path, writes the file atomically
(creating missing parent directories) and returns the path written. Credentials are masked by
``redact`` before anything is written.
"""

from ._html import write_html
from ._json import report_dict, write_json
from ._junit import write_junit
from ._redact import redact

__all__ = ["write_json", "write_junit", "write_html", "report_dict", "redact"]
