"""HTTP/1.1 exchanges over a channel: the request written here, the response parsed by llhttp
(httptools). Bounded: status line and headers up to ``MAX_HEAD`` bytes (else ``too_large``), the body
kept up to ``max_body`` bytes; past that the connection is dropped rather than drained, so a 50 MB
answer costs neither the time nor the memory to read it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httptools

from ._attempt import HttpResponse, Outcome
from ._wire import Channel, WireError

MAX_HEAD = 64 * 1024
CONTINUE_WAIT = 1.0  # how long a body waits for "100 Continue" before it is sent anyway (curl's default)


@dataclass
class _Parse:
    head_only: bool
    max_body: int
    status: int = 0
    reason: bytearray = field(default_factory=bytearray)
    headers: list[tuple[str, str]] = field(default_factory=list)
    headers_done: bool = False
    body: bytearray = field(default_factory=bytearray)
    body_bytes: int = 0
    complete: bool = False
    keep_alive: bool = True
    head_bytes: int = 0
    interim: bool = False  # a 1xx other than 101 came (100 Continue: the body may follow)

    # httptools callbacks
    def on_status(self, reason: bytes) -> None:
        if not self.headers_done:
            self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.headers_done:
            self.headers.append((name.decode("latin-1").lower(), value.decode("latin-1").strip()))

    def on_headers_complete(self) -> None:
        parser = self.parser
        status = parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.reason, self.headers = bytearray(), []  # interim: the final response follows
            self.interim = True
            return
        self.status, self.headers_done = status, True
        if self.head_only:
            self.keep_alive = parser.should_keep_alive()
            self.complete = True

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        room = self.max_body - len(self.body)
        if room > 0:
            self.body += body[:room]

    def on_message_complete(self) -> None:
        if self.headers_done:
            self.keep_alive = self.parser.should_keep_alive()
            self.complete = True

    parser: httptools.HttpResponseParser = field(init=False)


def with_headers(*layers: dict[str, str]) -> dict[str, str]:
    """Header layers merged, a later layer's name replacing an earlier one whatever its case (a -H
    ``user-agent:`` replaces the default User-Agent; a probe's own header replaces a -H one)."""
    out: dict[str, str] = {}
    for layer in layers:
        for name, value in layer.items():
            for old in [k for k in out if k.lower() == name.lower()]:
                del out[old]
            out[name] = value
    return out


def encode_request(method: str, target: str, host_header: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def exchange(
    channel: Channel,
    request: bytes,
    *,
    head_only: bool,
    max_body: int,
    timeout: float,
    timings: dict[str, float],
    body: bytes | None = None,
) -> tuple[HttpResponse, bool]:
    """Send one request and read its response. Returns it and whether the connection can be kept.

    With ``body``, the head carries ``Expect: 100-continue``: a server refusing the body (413) answers
    before it is sent, as nginx does, instead of resetting a connection it will not read from; without an
    answer within ``CONTINUE_WAIT`` the body is sent anyway."""
    # --timeout bounds the exchange as a whole (sending, waiting, reading), not each read: a peer that
    # trickles a byte at a time must not hold a probe for as long as it likes
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    started = time.perf_counter()
    p = _Parse(head_only, max_body)
    p.parser = httptools.HttpResponseParser(p)
    first_byte: float | None = None
    truncated = False
    try:
        async with asyncio.timeout_at(deadline):
            await channel.send(request)
    except TimeoutError:
        raise WireError(
            Outcome.TIMEOUT, "request", f"{channel.where} did not take the request within {timeout:g} s"
        ) from None
    sent = time.perf_counter()
    if body is not None:
        try:
            async with asyncio.timeout_at(min(loop.time() + CONTINUE_WAIT, deadline)):
                while not p.interim and not p.complete:
                    data = await channel.recv()
                    if not data:
                        break
                    first_byte = first_byte or time.perf_counter()
                    _feed(p, data, channel, "wait")
        except TimeoutError:
            pass
        if p.complete:
            p.keep_alive = False  # answered without the body: the server may still expect it
        else:
            try:
                async with asyncio.timeout_at(deadline):
                    await channel.send(body)
            except TimeoutError:
                raise WireError(
                    Outcome.TIMEOUT, "request", f"{channel.where} did not take the request body within {timeout:g} s"
                ) from None
            sent = time.perf_counter()
    timings["request"] = (sent - started) * 1000
    while not p.complete:
        phase = "wait" if first_byte is None else "transfer"
        try:
            async with asyncio.timeout_at(deadline):
                data = await channel.recv()
        except TimeoutError:
            if first_byte is None:
                got = "no response"
            else:
                so_far = p.head_bytes if not p.headers_done else p.body_bytes
                part = "status line and headers" if not p.headers_done else "body"
                got = f"an incomplete response ({so_far} bytes of its {part} so far)"
            raise WireError(Outcome.TIMEOUT, phase, f"{got} from {channel.where} within {timeout:g} s") from None
        if first_byte is None:
            first_byte = time.perf_counter()
            timings["wait"] = (first_byte - sent) * 1000
        if not data:
            if p.headers_done and not _framed(p.headers):
                p.keep_alive, p.complete = False, True  # a body delimited by the connection's end
                break
            if first_byte is not None and not p.headers_done and p.head_bytes == 0:
                raise WireError(Outcome.RESET, "wait", f"{channel.where} closed the connection without answering")
            raise WireError(
                Outcome.RESET, phase, f"{channel.where} closed the connection in the middle of the response"
            )
        _feed(p, data, channel, phase)
        if not p.complete and p.headers_done and p.body_bytes > max_body:
            truncated, p.keep_alive = True, False  # the rest is not worth reading
            break
    timings["transfer"] = (time.perf_counter() - (first_byte or sent)) * 1000
    reason = p.reason.decode("latin-1", errors="replace")
    response = HttpResponse(
        p.status, reason, tuple(p.headers), bytes(p.body), p.body_bytes, truncated or p.body_bytes > len(p.body)
    )
    return response, p.keep_alive and not truncated


def _feed(p: _Parse, data: bytes, channel: Channel, phase: str) -> None:
    if not p.headers_done:
        p.head_bytes += len(data)
        if p.head_bytes > MAX_HEAD + len(data) and not p.headers_done:
            raise WireError(
                Outcome.TOO_LARGE, "wait", f"{channel.where} sent more than {MAX_HEAD} bytes of status line and headers"
            )
    try:
        p.parser.feed_data(data)
    except httptools.HttpParserUpgrade:
        raise WireError(Outcome.HTTP_ERROR, phase, f"{channel.where} switched protocols") from None
    except httptools.HttpParserError as exc:
        if not p.complete:
            raise WireError(
                Outcome.HTTP_ERROR, phase, f"{channel.where} sent a malformed HTTP response: {exc}"
            ) from None
        p.keep_alive = False


def _framed(headers: list[tuple[str, str]]) -> bool:
    te = [v for n, v in headers if n == "transfer-encoding"]
    if te:
        return te[-1].lower().endswith("chunked")
    return any(n == "content-length" for n, _ in headers)
