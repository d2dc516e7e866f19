"""The one gate between cluster data and the terminal. Everything a command prints that came from a
cluster, a report or a server (names, hosts, annotation values, messages) passes ``printable``: known
credentials are masked as in the reports, and control characters are shown escaped (``\\x1b``,
``\\n``), so an Ingress author cannot retitle the terminal, clear it, or split one finding into
several lines with a value they put in an annotation."""

from __future__ import annotations

import re

from ..reports._redact import redact_text

# C0 controls (newline and tab included: a finding is one line), DEL, C1 controls, and the Unicode
# format characters that reorder or hide text (bidi overrides and isolates, line/paragraph separators)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object) -> str:
    """``value`` as text safe for one terminal line: credentials masked, control characters escaped."""
    text = redact_text(str(value))
    return _CONTROL.sub(_escape, text) if _CONTROL.search(text) else text
