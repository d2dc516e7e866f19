"""A WebSocket exchange over a channel: the opening handshake (HTTP/1.1 Upgrade, RFC 6455), one text
message sent and the first message that comes back, then a clean close. The ``websockets`` library's
sans-I/O protocol builds and parses every byte; the channel (and so the per-address slot, the TLS facts
and the deadline) is the network layer's. ALPN offers only http/1.1: the Upgrade is an HTTP/1.1 feature.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from .. import hostname as hostnames
from ._attempt import Attempt, HttpResponse, Outcome, Subject
from ._wire import Channel, WireError

if TYPE_CHECKING:
    from ._net import Net


def _response(r: Response) -> HttpResponse:
    body = bytes(r.body or b"")
    return HttpResponse(
        r.status_code, r.reason_phrase, tuple((k.lower(), v) for k, v in r.headers.raw_items()), body, len(body), False
    )


async def _run(
    channel: Channel, url: str, message: str, timeout: float, timings: dict[str, float]
) -> tuple[HttpResponse | None, list[bytes], str]:
    """The handshake's response, the messages received, and why the exchange stopped short ("" if it did not)."""
    protocol = ClientProtocol(parse_uri(url))
    request = protocol.connect()
    request.headers["User-Agent"] = "ingresscheck"
    protocol.send_request(request)
    started = time.perf_counter()
    await channel.send(b"".join(protocol.data_to_send()))
    timings["request"] = (time.perf_counter() - started) * 1000
    response: HttpResponse | None = None
    messages: list[bytes] = []
    sent = False
    phase = "wait"
    try:
        async with asyncio.timeout(timeout):
            while not messages:
                data = await channel.recv()
                if not data:
                    protocol.receive_eof()
                    if response is None:
                        said = f"{channel.where} closed the connection without answering"
                        raise WireError(Outcome.RESET, "wait", said)
                    return response, messages, "the server closed the connection before echoing"
                protocol.receive_data(data)
                for event in protocol.events_received():
                    if isinstance(event, Response):
                        response = _response(event)
                        timings["wait"] = (time.perf_counter() - started) * 1000
                        phase = "transfer"
                    elif isinstance(event, Frame) and event.opcode in (Opcode.TEXT, Opcode.BINARY):
                        messages.append(bytes(event.data))
                    elif isinstance(event, Frame) and event.opcode is Opcode.CLOSE:
                        return response, messages, "the server closed the WebSocket before echoing"
                if protocol.handshake_exc is not None:
                    exc = protocol.handshake_exc
                    if isinstance(exc, InvalidStatus):
                        return _response(exc.response), messages, ""
                    if isinstance(exc, InvalidHandshake) and response is not None:
                        return response, messages, f"the upgrade response is not a valid WebSocket handshake: {exc}"
                    raise WireError(Outcome.HTTP_ERROR, phase, f"{channel.where}: invalid WebSocket handshake: {exc}")
                if response is not None and not sent:
                    protocol.send_text(message.encode())
                    sent = True
                out = protocol.data_to_send()
                if out:
                    await channel.send(b"".join(out))
    except TimeoutError:
        got = "no upgrade response" if response is None else "no echo"
        raise WireError(Outcome.TIMEOUT, phase, f"{got} from {channel.where} within {timeout:g} s") from None
    timings["transfer"] = (time.perf_counter() - started) * 1000 - timings.get("wait", 0.0)
    protocol.send_close()
    try:
        await channel.send(b"".join(protocol.data_to_send()))
    except WireError:
        pass
    return response, messages, ""


async def websocket(net: Net, url: str, address: str, *, message: str) -> Attempt:
    """Open a WebSocket to ``url`` (ws:// or wss://) at ``address``, send ``message``, read one message.

    ok: the exchange ran (the response may still be no 101: the attempt's ``response`` says what came
    back, ``messages`` what was echoed, ``reason`` why it stopped short)."""
    parts = urlsplit(url)
    secure = parts.scheme in ("wss", "https")
    host = hostnames.to_alabels(parts.hostname or "") or (parts.hostname or "")
    port = parts.port or (443 if secure else 80)
    ws_url = urlunsplit(("wss" if secure else "ws", parts.netloc, parts.path or "/", parts.query, ""))
    sni = host if secure else None
    subject = Subject(address, port, sni=sni, host=host, url=ws_url)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    channel: Channel | None = None
    async with net._slots[address]:
        try:
            context = net.context(alpn=("http/1.1",)) if secure else None
            channel = await net._dial(address, port, sni, context, timings, host=host)
            response, messages, short = await _run(channel, ws_url, message, net.timeout, timings)
        except WireError as exc:
            timings["total"] = (time.perf_counter() - started) * 1000
            if channel is not None:
                channel.close()
            return Attempt(
                "websocket",
                subject,
                exc.outcome,
                exc.reason,
                exc.phase,
                timings,
                method="GET",
                tls=channel.tls if channel is not None else None,
            )
    channel.close()
    timings["total"] = (time.perf_counter() - started) * 1000
    return Attempt(
        "websocket",
        subject,
        Outcome.OK,
        short,
        timings=timings,
        method="GET",
        tls=channel.tls,
        response=response,
        messages=tuple(messages),
    )
