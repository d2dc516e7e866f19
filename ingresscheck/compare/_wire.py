"""The one network function of the comparison: send one HTTP/1.1 request to a chosen address, byte-exact.

Why not the shared client: parity probes send request targets that URL libraries rewrite before they
reach the wire (``//v1``, ``/./v1``, ``%2F``); the point is to see what each data plane does with them.
So this writes the request line itself and parses the answer with llhttp (httptools). It also reads
the TLS facts (version, leaf certificate) from the connection that carried the request.

Port to the shared async layer: replace ``exchange`` by a call that sends a raw target and returns the
same ``Observation``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import ssl
import time

import httptools

from ._model import Observation, Request, TlsSeen

_MAX_HEAD = 64 * 1024
_MAX_BODY = 64 * 1024


class _Collector:
    def __init__(self) -> None:
        self.headers: list[tuple[str, str]] = []
        self.body = bytearray()
        self.done = False
        self.truncated = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        room = _MAX_BODY - len(self.body)
        if room > 0:
            self.body += body[:room]
        if len(body) > room:
            self.truncated = True

    def on_message_complete(self) -> None:
        self.done = True


def _sans(der: bytes) -> tuple[str, ...]:
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    return tuple(sorted(ext.value.get_values_for_type(x509.DNSName)))


def _tls_facts(obj: ssl.SSLObject | None, verify_error: str | None) -> TlsSeen | None:
    if obj is None:
        return None
    der = obj.getpeercert(binary_form=True) or b""
    return TlsSeen(
        version=obj.version() or "",
        fingerprint=hashlib.sha256(der).hexdigest()[:16] if der else "",
        sans=_sans(der) if der else (),
        verified=verify_error is None,
        verify_error=verify_error or "",
    )


async def exchange(request: Request, address: str, port: int, *, ca_file: str | None, timeout: float) -> Observation:
    """Send ``request`` to ``address:port``; every failure is an Observation with ``error``, never an exception."""
    started = time.perf_counter()
    context: ssl.SSLContext | None = None
    verify_error: str | None = None
    if request.scheme == "https":
        # Verify separately from the exchange: an unverifiable certificate is a fact to compare, not a stop.
        context = _unverified()
        verify_error = await _verify(request.host, address, port, ca_file, timeout)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(address, port, ssl=context, server_hostname=request.host if context else None),
            timeout,
        )
    except (TimeoutError, OSError, ssl.SSLError) as exc:
        return Observation(error=_reason(exc), ms=_ms(started))
    tls = _tls_facts(writer.get_extra_info("ssl_object"), verify_error) if context else None
    lines = [
        f"{request.method} {request.target} HTTP/1.1",
        f"Host: {request.host}",
        "User-Agent: ingresscheck-compare",
        "Accept: */*",
    ]  # keep-alive: servers must frame the answer, we close after it
    if request.auth is not None:
        token = base64.b64encode(f"{request.auth[0]}:{request.auth[1]}".encode()).decode()
        lines.append(f"Authorization: Basic {token}")
    collector = _Collector()
    parser = httptools.HttpResponseParser(collector)
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await asyncio.wait_for(writer.drain(), timeout)
        received = 0
        while not collector.done:
            chunk = await asyncio.wait_for(reader.read(65536), timeout)
            if not chunk:
                parser.feed_data(b"")  # lets a close-delimited body complete
                break
            received += len(chunk)
            parser.feed_data(chunk)
            if received > _MAX_HEAD + _MAX_BODY and collector.truncated:
                break
    except (TimeoutError, OSError, ssl.SSLError, httptools.HttpParserError) as exc:
        status = parser.get_status_code() if collector.headers else 0
        if not status:
            return Observation(error=_reason(exc), tls=tls, ms=_ms(started))
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 1)
        except (TimeoutError, OSError, ssl.SSLError):
            pass
    status = parser.get_status_code()
    return Observation(
        status=status,
        headers=tuple(collector.headers),
        backend=_backend(collector),
        tls=tls,
        body_sha=hashlib.sha256(bytes(collector.body)).hexdigest()[:12],
        ms=_ms(started),
    )


async def _verify(host: str, address: str, port: int, ca_file: str | None, timeout: float) -> str | None:
    """None when the served chain verifies for ``host`` against ``ca_file`` (or the system store)."""
    context = _verifying(ca_file)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(address, port, ssl=context, server_hostname=host), timeout
        )
    except ssl.SSLCertVerificationError as exc:
        return exc.verify_message or "certificate does not verify"
    except (TimeoutError, OSError, ssl.SSLError) as exc:
        return _reason(exc)
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 1)
    except (TimeoutError, OSError, ssl.SSLError):
        pass
    return None


@functools.cache
def _unverified() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@functools.cache
def _verifying(ca_file: str | None) -> ssl.SSLContext:
    # built once: loading a CA store costs tens of milliseconds
    return ssl.create_default_context(cafile=ca_file)


def _backend(collector: _Collector) -> tuple[str, str] | None:
    """Which backend answered and the path it saw, when it says so (the lab's echo pods, echo servers)."""
    headers = dict(collector.headers)
    service = headers.get("x-echo-service")
    if service is None:
        return None
    try:
        body = json.loads(bytes(collector.body))
        path = body.get("path", "") if isinstance(body, dict) else ""
        namespace = body.get("namespace", "") if isinstance(body, dict) else ""
    except ValueError:
        path, namespace = "", ""
    return (f"{namespace}/{service}" if namespace else service, str(path))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, httptools.HttpParserError):
        return f"not an HTTP response: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
