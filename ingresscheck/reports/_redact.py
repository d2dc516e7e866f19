"""Redaction: credentials never reach a report file.

``redact`` walks dicts, lists and tuples and returns a new object; its input is never changed.

* By key (case-insensitive): the value of a sensitive key (``authorization``, ``cookie``,
  ``password``, ``token``, ``*_token``, ...) becomes ``[redacted]``, whatever it holds. A ``secret``
  key holding a mapping (the summary of a Kubernetes Secret) keeps its metadata (name, type, which
  keys exist), but its ``data``/``stringData`` are masked; one holding a reference to a Secret,
  ``namespace/name`` as the API spells them (a DNS-1123 label, a slash, a DNS-1123 subdomain), is kept:
  it says which Secret, not what is in it. Any other string under ``secret`` is masked.
* A two-item header pair whose name is sensitive (``("Cookie", "a=b")``) has its value masked.
* Inside every string: the password of ``scheme://user:password@host``, sensitive query or form
  parameters (``?access_token=...``), ``Basic``/``Bearer`` credentials, sensitive ``"key": "value"``
  pairs of JSON text, sensitive ``Header: value`` lines of raw HTTP dumps, and PEM private keys.
"""

from __future__ import annotations

import functools
import re
from typing import Any

REDACTED = "[redacted]"

_SENSITIVE_KEYS = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "password", "token", "secret",
    # the same kind of thing under other common names
    "passwd", "x-api-key", "api-key", "api_key", "apikey", "client_secret", "client-secret",
    "private_key", "private-key",
})
# "_token", "-token" and camelCase "accessToken" all end in "token"
_SENSITIVE_SUFFIXES = ("token", "password")
# masked only below a key named "secret": a Kubernetes Secret's payload
_SECRET_PAYLOAD_KEYS = frozenset({"data", "stringdata"})
# evidence["secret"] = "demo/shop-tls": a Secret's namespace/name (Kubernetes naming rules), not its value
_SECRET_REFERENCE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?")


@functools.lru_cache(maxsize=8192)
def is_sensitive_key(key: str) -> bool:
    """Whether a mapping key, header name or parameter name names a credential."""
    k = key.strip().lower()
    return k in _SENSITIVE_KEYS or k.endswith(_SENSITIVE_SUFFIXES)


_PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?P<kind>[A-Z0-9 ]*PRIVATE KEY)-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL
)
# scheme://user:password@host -> scheme://user:[redacted]@host; the password may hold a raw "@"
_URL_CREDENTIALS = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s/:@?#]*):(?P<pw>[^\s/?#]+)@")
# "password": "x" / "Cookie": ["a=b", "c=d"] inside JSON text (e.g. an echoed response body)
_JSON_STRING = r'"(?:[^"\\\r\n]|\\.)*"'
_JSON_PAIR = re.compile(
    r'(?P<head>"(?P<name>[A-Za-z0-9_.\-]{1,64})"\s*:\s*)'
    rf"(?P<value>{_JSON_STRING}|\[\s*(?:{_JSON_STRING}\s*,?\s*)*\])"
)
# "Cookie: a=b" lines of raw HTTP dumps, "password: x" lines of config text
_HEADER_LINE = re.compile(
    r"(?m)^(?P<head>[ \t]*(?P<name>[A-Za-z0-9_\-]{1,64})[ \t]*:[ \t]*)(?P<value>[^\r\n]+)"
)
# ?access_token=... / &password=... in URLs and form bodies, "; session_token=..." in cookies
_PARAM = re.compile(
    r"(?P<head>(?:^|[?&;])[ \t]*(?P<name>[A-Za-z0-9_.\-]+)=)"
    r'(?P<value>"[^"\r\n]*"|[^&#;\s"\'<>]*)'
)
# "Basic xxx" / "Bearer xxx": a token68 credential; auth-params (realm="...") and prose are kept
_AUTH_SCHEME = re.compile(
    r"\b(?P<scheme>Basic|Bearer)(?P<sp>[ \t]+)"
    r"(?!(?:realm|charset|error|error_description|error_uri|scope)[ \t]*=)"
    r"(?!(?:auth|authentication|authorization|token|tokens|credentials?|scheme|challenge|realm|header|"
    r"or|and|with|is|was|are|the|a|an|only|for|on|to|in)\b)"
    r"(?P<cred>[A-Za-z0-9._~+/\-]+=*)",
    re.IGNORECASE,
)


def _mask_named(match: re.Match[str]) -> str:
    value = match.group("value")
    if is_sensitive_key(match.group("name")) and value not in ("", '""', REDACTED, f'"{REDACTED}"'):
        masked = f'"{REDACTED}"' if value.startswith(('"', "[")) else REDACTED
        return match.group("head") + masked
    return match.group(0)


def _mask_pem(match: re.Match[str]) -> str:
    kind = match.group("kind")
    return f"-----BEGIN {kind}-----{REDACTED}-----END {kind}-----"


def redact_text(text: str) -> str:
    """Mask credentials inside one string (see the module docstring)."""
    if not text:
        return text
    if "PRIVATE KEY-----" in text:
        text = _PEM_PRIVATE_KEY.sub(_mask_pem, text)
    if "://" in text:
        text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('head')}:{REDACTED}@", text)
    if '"' in text:
        text = _JSON_PAIR.sub(_mask_named, text)
    if ":" in text:
        text = _HEADER_LINE.sub(_mask_named, text)
    if "=" in text:
        text = _PARAM.sub(_mask_named, text)
    return _AUTH_SCHEME.sub(lambda m: f"{m.group('scheme')}{m.group('sp')}{REDACTED}", text)


def redact(obj: Any) -> Any:
    """Return a JSON-able copy of ``obj`` with credentials replaced by ``[redacted]``; ``obj`` is left as is.

    Dicts are copied, lists and tuples become lists (JSON arrays); strings are masked; other values become their
    JSON form first (``_json.jsonable``: enums, bytes, datetimes, sets, dataclasses), so one pass both
    converts and redacts a report's evidence.
    """
    return _redact(obj, under_secret=False, memo={}, strings={})


def _redact(obj: Any, *, under_secret: bool, memo: dict[tuple[int, bool], Any], strings: dict[str, str]) -> Any:
    """``memo``: shared subtrees (one certificate's evidence behind several checks) are done once;
    ``strings``: so are repeated strings (header values, addresses)."""
    if isinstance(obj, str):
        done = strings.get(obj)
        if done is None:
            done = strings[obj] = redact_text(obj)
        return done
    if isinstance(obj, (dict, list, tuple)):
        key = (id(obj), under_secret)
        if key in memo:
            return memo[key][1]
        out = _redact_container(obj, under_secret=under_secret, memo=memo, strings=strings)
        memo[key] = (obj, out)  # obj kept alive so its id is not reused during this call
        return out
    if obj is None or isinstance(obj, (bool, int)):
        return obj
    from ._json import jsonable

    converted = jsonable(obj)
    if isinstance(converted, (str, dict, list)):
        return _redact(converted, under_secret=under_secret, memo=memo, strings=strings)
    return converted


def _redact_container(obj: Any, *, under_secret: bool, memo: dict[tuple[int, bool], Any],
                      strings: dict[str, str]) -> Any:
    if isinstance(obj, dict):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            name = key.strip().lower() if isinstance(key, str) else None
            if name is None:
                from ._json import jsonable

                out[str(jsonable(key))] = _redact(value, under_secret=under_secret, memo=memo, strings=strings)
            elif name == "secret" and isinstance(value, dict):
                # a Secret's summary: its name and type help, its payload must not leak
                out[key] = _redact(value, under_secret=True, memo=memo, strings=strings)
            elif name == "secret" and isinstance(value, str) and _SECRET_REFERENCE.fullmatch(value):
                out[key] = value  # which Secret (namespace/name), not what it holds
            elif is_sensitive_key(name) or (under_secret and name in _SECRET_PAYLOAD_KEYS):
                out[key] = REDACTED
            elif type(value) is str:  # the common leaves inline: most of a report's nodes are these
                done = strings.get(value)
                if done is None:
                    done = strings[value] = redact_text(value)
                out[key] = done
            elif value is None or type(value) is int or type(value) is bool:
                out[key] = value
            else:
                out[key] = _redact(value, under_secret=under_secret, memo=memo, strings=strings)
        return out
    if isinstance(obj, (list, tuple)):
        # header lists: [("Authorization", "Basic ..."), ("Cookie", "a=b")]
        if len(obj) == 2 and isinstance(obj[0], str) and is_sensitive_key(obj[0]):
            return [obj[0], REDACTED]
        return [_redact(item, under_secret=under_secret, memo=memo, strings=strings) for item in obj]
    return obj
