"""HTTP/2 exchanges over a channel (the ``h2`` library's state machine; the channel owns the bytes), and
``fetch``: one request to an address over whichever protocol ALPN selects, h2 or HTTP/1.1.

h2 over TLS is negotiated with ALPN; cleartext h2 (h2c, prior knowledge) is what gRPC backends speak
and is used for ``http://`` URLs when asked. One request per connection: what these checks want to know
is what one connection, opened with one SNI, is answered (coalescing and 421 are about exactly that).
The whole exchange, from the first byte sent to the end of the stream, is bounded by one timeout.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from .. import hostname as hostnames
from ._attempt import Attempt, ClientIdentity, HttpResponse, Outcome, Subject
from ._http import encode_request, exchange, with_headers
from ._wire import Channel, WireError

DEFAULT_HEADERS = {"user-agent": "ingresscheck", "accept": "*/*"}

if TYPE_CHECKING:
    from ._net import Net

ALPN_BOTH = ("h2", "http/1.1")
ALPN_H2 = ("h2",)


@dataclass(frozen=True)
class Request:
    """An HTTP request independent of its protocol version."""

    method: str
    scheme: str
    authority: str  # Host / :authority
    target: str  # path and query, already encoded
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


def target_of(url: str) -> str:
    parts = urlsplit(url)
    return quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~") + (
        f"?{quote(parts.query, safe='=&%:@!$()*+,;/?-._~')}" if parts.query else ""
    )


async def exchange_h2(
    channel: Channel, request: Request, *, max_body: int, timeout: float, timings: dict[str, float]
) -> HttpResponse:
    """Open an HTTP/2 connection on ``channel``, send ``request`` on stream 1, read its response and trailers."""
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8", validate_inbound_headers=False)
    )
    conn.initiate_connection()
    stream = conn.get_next_available_stream_id()
    headers = [
        (":method", request.method),
        (":scheme", request.scheme),
        (":authority", request.authority),
        (":path", request.target),
        *((k.lower(), v) for k, v in request.headers if k.lower() not in ("host", "connection")),
    ]
    conn.send_headers(stream, headers, end_stream=not request.body)
    if request.body:
        conn.send_data(stream, request.body, end_stream=True)
    started = time.perf_counter()
    await channel.send(conn.data_to_send())
    sent = time.perf_counter()
    timings["request"] = (sent - started) * 1000
    status, reason = 0, ""
    head: list[tuple[str, str]] = []
    trailers: list[tuple[str, str]] = []
    body = bytearray()
    body_bytes = 0
    first_byte: float | None = None
    ended = False
    phase = "wait"
    try:
        async with asyncio.timeout(timeout):
            while not ended:
                data = await channel.recv()
                if first_byte is None:
                    first_byte = time.perf_counter()
                    timings["wait"] = (first_byte - sent) * 1000
                if not data:
                    got = "without answering" if not status else "in the middle of the response"
                    raise WireError(Outcome.RESET, phase, f"{channel.where} closed the HTTP/2 connection {got}")
                try:
                    events = conn.receive_data(data)
                except h2.exceptions.ProtocolError as exc:
                    raise WireError(
                        Outcome.HTTP_ERROR, phase, f"{channel.where} does not speak HTTP/2 ({type(exc).__name__})"
                    ) from None
                for event in events:
                    if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream:
                        pairs = [(_text(n), _text(v)) for n, v in event.headers or []]
                        status = int(dict(pairs).get(":status", "0") or 0)
                        head = [(n, v) for n, v in pairs if not n.startswith(":")]
                        phase = "transfer"
                    elif isinstance(event, h2.events.DataReceived) and event.stream_id == stream:
                        chunk = event.data or b""
                        body_bytes += len(chunk)
                        room = max_body - len(body)
                        if room > 0:
                            body += chunk[:room]
                        conn.acknowledge_received_data(event.flow_controlled_length or 0, stream)
                    elif isinstance(event, h2.events.TrailersReceived) and event.stream_id == stream:
                        trailers = [(_text(n), _text(v)) for n, v in event.headers or []]
                    elif isinstance(event, h2.events.StreamEnded) and event.stream_id == stream:
                        ended = True
                    elif isinstance(event, h2.events.StreamReset) and event.stream_id == stream:
                        raise WireError(
                            Outcome.RESET,
                            phase,
                            f"{channel.where} reset the HTTP/2 stream (error code {_code(event.error_code)})",
                        )
                    elif isinstance(event, h2.events.ConnectionTerminated) and not ended:
                        raise WireError(
                            Outcome.RESET,
                            phase,
                            f"{channel.where} closed the HTTP/2 connection (GOAWAY, {_code(event.error_code)})",
                        )
                out = conn.data_to_send()
                if out:
                    await channel.send(out)
                if body_bytes > max_body and not ended:
                    break  # the rest is not worth reading
    except TimeoutError:
        got = "no HTTP/2 response" if not status else "the HTTP/2 response stalled"
        raise WireError(Outcome.TIMEOUT, phase, f"{got} from {channel.where} within {timeout:g} s") from None
    timings["transfer"] = (time.perf_counter() - (first_byte or sent)) * 1000
    try:
        conn.close_connection()
        await channel.send(conn.data_to_send())
    except WireError:
        pass  # the answer is in; a peer that hung up first changes nothing
    return HttpResponse(
        status,
        reason,
        tuple(head),
        bytes(body),
        body_bytes,
        body_bytes > len(body),
        protocol="h2",
        trailers=tuple(trailers),
    )


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _code(code: object) -> str:
    return getattr(code, "name", None) or str(code)


async def fetch(
    net: Net,
    method: str,
    url: str,
    address: str,
    *,
    alpn: tuple[str, ...] = ALPN_BOTH,
    sni: str | None = None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    max_body: int | None = None,
    kind: str = "http",
    source: str | None = None,
    identity: ClientIdentity | None = None,
) -> Attempt:
    """``method url`` sent to ``address`` on a new connection, over the protocol ALPN selects from ``alpn``
    (h2 or HTTP/1.1). ``sni``: send this SNI instead of the URL's host (a connection opened for another
    host, as a browser coalescing connections does). An ``http://`` URL with ``alpn == ("h2",)`` speaks
    h2c with prior knowledge. Only ``("h2",)`` offered and not selected is an ``http_error`` attempt."""
    parts = urlsplit(url)
    https = parts.scheme in ("https", "grpcs")
    raw_host = parts.hostname or ""
    host = hostnames.to_alabels(raw_host) or raw_host
    port = parts.port or (443 if https else 80)
    sni = (sni or host) if https else None
    subject = Subject(
        address,
        port,
        sni=sni,
        host=host,
        url=url,
        source=source,
        client_cert=identity.name if identity is not None and https else None,
    )
    authority = host if parts.port in (None, 443 if https else 80) else f"{host}:{parts.port}"
    request = Request(
        method,
        "https" if https else "http",
        authority,
        target_of(url),
        tuple(
            (k.lower(), v)
            for k, v in with_headers(
                {"user-agent": "ingresscheck", "accept": "*/*"}, net.headers, headers or {}
            ).items()
        ),
        body,
    )
    limit = max_body if max_body is not None else net.max_body
    timings: dict[str, float] = {}
    started = time.perf_counter()
    channel: Channel | None = None
    async with net._slots[address]:
        try:
            context = net.context(alpn=alpn, identity=identity) if https else None
            channel = await net._dial(address, port, sni, context, timings, source, identity, host=host)
            selected = channel.tls.alpn if channel.tls is not None else None
            if https and alpn == ALPN_H2 and selected != "h2":
                raise WireError(
                    Outcome.HTTP_ERROR,
                    "tls",
                    f"{channel.where} (SNI {sni}) did not select h2 through ALPN "
                    f"({'it selected ' + selected if selected else 'no protocol was selected'})",
                )
            if selected == "h2" or (not https and alpn == ALPN_H2):
                response = await exchange_h2(channel, request, max_body=limit, timeout=net.timeout, timings=timings)
            else:
                extra = {"connection": "close", **({"content-length": str(len(body))} if body else {})}
                payload = encode_request(method, request.target, authority, {**dict(request.headers), **extra})
                response, _ = await exchange(
                    channel,
                    payload + body,
                    head_only=method == "HEAD",
                    max_body=limit,
                    timeout=net.timeout,
                    timings=timings,
                )
        except WireError as exc:
            timings["total"] = (time.perf_counter() - started) * 1000
            if channel is not None:
                channel.close()
            return Attempt(
                kind,
                subject,
                exc.outcome,
                exc.reason,
                exc.phase,
                timings,
                method=method,
                tls=channel.tls if channel is not None else None,
            )
    channel.close()
    timings["total"] = (time.perf_counter() - started) * 1000
    return Attempt(kind, subject, Outcome.OK, timings=timings, method=method, tls=channel.tls, response=response)
