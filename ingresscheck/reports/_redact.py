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
* Known secret values, wherever they appear: every password and token this process has read (the
  profile's credentials, the kubeconfig's token or password, credentials taken from a cluster Secret)
  is registered with ``known_secrets.register`` and masked in any string, under any key (a debug backend that
  echoes what it received puts the password in a body nobody could name a key for). Values shorter
  than ``known_secrets.MIN_LENGTH`` characters are not matched: they would mask ordinary words.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

from .. import known_secrets
from ._jsonable import jsonable

REDACTED = "[redacted]"


def _mask_known(text: str) -> str:
    for value in known_secrets.values():
        if value in text:
            text = text.replace(value, REDACTED)
    return text


_SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "password",
        "token",
        "secret",
        # the same kind of thing under other common names
        "passwd",
        "x-api-key",
        "api-key",
        "api_key",
        "apikey",
        "client_secret",
        "client-secret",
        "private_key",
        "private-key",
    }
)
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
_HEADER_LINE = re.compile(r"(?m)^(?P<head>[ \t]*(?P<name>[A-Za-z0-9_\-]{1,64})[ \t]*:[ \t]*)(?P<value>[^\r\n]+)")
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


# A string can need masking only if it names a credential, carries "@" (URL userinfo) or a Basic/Bearer
# credential: a few substring tests rule most strings out before the six patterns above run. Every sensitive
# key and suffix contains one of these words (tests hold that), so this only saves time. Non-ASCII text
# always takes the full path (case folding outside ASCII is the patterns' business).
_CREDENTIAL_WORDS = ("token", "passw", "authoriz", "cookie", "secret", "api", "private", "basic", "bearer", "@")


def _may_hold_credentials(text: str) -> bool:
    if not text.isascii():
        return True
    low = text.lower()
    for word in _CREDENTIAL_WORDS:
        if word in low:
            return True
    return False


def redact_text(text: str) -> str:
    """Mask credentials inside one string (see the module docstring)."""
    if not text:
        return text
    if known_secrets.values():
        text = _mask_known(text)
    if not _may_hold_credentials(text):
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


# what a mapping key means to redaction
_PLAIN, _SENSITIVE, _SECRET, _PAYLOAD = 0, 1, 2, 3


def _key_class(key: str) -> int:
    name = key.strip().lower()
    if name == "secret":
        return _SECRET
    if is_sensitive_key(name):
        return _SENSITIVE
    if name in _SECRET_PAYLOAD_KEYS:
        return _PAYLOAD  # masked only below a "secret" key
    return _PLAIN


def redact(obj: Any) -> Any:
    """Return a JSON-able copy of ``obj`` with credentials replaced by ``[redacted]``; ``obj`` is left as is.

    Dicts are copied, lists and tuples become lists (JSON arrays); strings are masked; other values become their
    JSON form first (``_jsonable.jsonable``: enums, bytes, datetimes, sets, dataclasses), so one pass both
    converts and redacts a report's evidence.
    """
    return _Walk().walk(obj, False)


class _Walk:
    """One redaction pass. Shared subtrees (one certificate's description behind several checks) are done
    once and stay shared in the copy, and so are repeated strings. A 1,000-host report has half a million
    nodes: the common leaves (plain keys holding strings, numbers, booleans) cost a type test and a
    dictionary lookup each. A class rather than closures: closures calling each other form a reference
    cycle that would keep the memo alive until the next full collection."""

    __slots__ = ("memo", "strings", "keys")

    def __init__(self) -> None:
        self.memo: dict[tuple[int, bool], tuple[Any, Any]] = {}
        self.strings: dict[str, str] = {}
        self.keys: dict[str, int] = {}

    def leaf(self, value: str) -> str:
        done = self.strings.get(value)
        if done is None:
            done = self.strings[value] = redact_text(value)
        return done

    def walk(self, obj: Any, under_secret: bool) -> Any:
        kind = type(obj)
        if kind is str:
            return self.leaf(obj)
        if obj is None or kind is int or kind is bool or (kind is float and math.isfinite(obj)):
            return obj
        if kind is dict or kind is list or kind is tuple:
            ref = (id(obj), under_secret)
            seen = self.memo.get(ref)
            if seen is not None:
                return seen[1]
            out = self.mapping(obj, under_secret) if kind is dict else self.sequence(obj, under_secret)
            self.memo[ref] = (obj, out)  # obj kept alive so its id is not reused during this pass
            return out
        if isinstance(obj, dict):  # a subclass
            return self.mapping(obj, under_secret)
        if isinstance(obj, (list, tuple)):
            return self.sequence(obj, under_secret)
        converted = jsonable(obj)  # enums, bytes, datetimes, sets, dataclasses, str subclasses, odd floats
        if isinstance(converted, str):
            return self.leaf(str(converted))
        if isinstance(converted, (dict, list)):
            return self.walk(converted, under_secret)
        return converted

    def mapping(self, obj: dict[Any, Any], under_secret: bool) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        keys, strings, walk = self.keys, self.strings, self.walk
        for key, value in obj.items():
            if type(key) is str:
                klass = keys.get(key)
                if klass is None:
                    klass = keys[key] = _key_class(key)
            elif isinstance(key, str):
                klass = _key_class(key)
            else:
                out[str(jsonable(key))] = walk(value, under_secret)
                continue
            if klass == _PLAIN or (klass == _PAYLOAD and not under_secret):
                kind = type(value)
                if kind is str:  # the common leaves inline
                    done = strings.get(value)
                    out[key] = done if done is not None else self.leaf(value)
                elif value is None or kind is int or kind is bool or (kind is float and math.isfinite(value)):
                    out[key] = value
                else:
                    out[key] = walk(value, under_secret)
            elif klass == _SECRET and isinstance(value, dict):
                out[key] = walk(value, True)  # a Secret's summary: its name and type help, its payload must not leak
            elif klass == _SECRET and isinstance(value, str) and _SECRET_REFERENCE.fullmatch(value):
                out[key] = value  # which Secret (namespace/name), not what it holds
            else:
                out[key] = REDACTED
        return out

    def sequence(self, obj: list[Any] | tuple[Any, ...], under_secret: bool) -> list[Any]:
        # header lists: [("Authorization", "Basic ..."), ("Cookie", "a=b")]
        if len(obj) == 2 and isinstance(obj[0], str) and is_sensitive_key(obj[0]):
            return [obj[0], REDACTED]
        walk = self.walk
        return [walk(item, under_secret) for item in obj]
