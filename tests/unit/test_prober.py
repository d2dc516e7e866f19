"""The open-loop prober against a real local HTTPS server (own thread and event loop, trustme CA):
schedule held, coordinated omission made visible, errors attributed to change events, caps, and
no locust/gevent in its imports."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from ingresscheck.load.prober import (
    ChangeEvent,
    OpenLoopProber,
    ProberResult,
    ProbeTarget,
    loop_factory,
    run_prober,
)

ROOT = Path(__file__).resolve().parents[2]
HOST = "probe.test"


class Backend:
    """A tiny HTTP/1.1 keep-alive server on 127.0.0.1 over TLS, scripted through attributes.

    style: "length" (Content-Length), "chunked", "close" (no length, Connection: close),
    "interim" (a 103 before the answer), "reset" (abort the connection), "silent" (never answer).
    """

    def __init__(self, ca: trustme.CA) -> None:
        self.status = 200
        self.style = "length"
        self.stall_at: int | None = None  # the request number (0-based) that waits stall_s first
        self.stall_s = 0.3
        self.requests = 0
        self.connections = 0
        self.hosts: list[str] = []
        self.snis: set[str | None] = set()
        self._ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(HOST).configure_cert(self._ctx)
        self._ctx.sni_callback = lambda _obj, name, _ctx: self.snis.add(name)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    def __enter__(self) -> Backend:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self._ctx), self._loop
        ).result(5)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in list(self._writers):
            w.close()
        for t in list(self._handlers):
            t.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                n = self.requests
                self.requests += 1
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"host:"):
                        self.hosts.append(line[5:].strip().decode())
                if self.stall_at == n:
                    await asyncio.sleep(self.stall_s)
                style, status = self.style, self.status
                body = b'{"ok": true}\n'
                if style == "reset":
                    writer.transport.abort()
                    return
                if style == "silent":
                    await asyncio.sleep(30)
                    return
                if style == "interim":
                    writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </x.css>; rel=preload\r\n\r\n")
                reason = b"OK" if status == 200 else b"Service Unavailable"
                if style == "chunked":
                    writer.write(
                        b"HTTP/1.1 %d %s\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"5\r\n%s\r\n%x;ext=1\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n"
                        % (status, reason, body[:5], len(body) - 5, body[5:])
                    )
                elif style == "close":
                    writer.write(b"HTTP/1.1 %d %s\r\nConnection: close\r\n\r\n%s" % (status, reason, body))
                    await writer.drain()
                    return
                else:
                    writer.write(b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\n\r\n%s" % (status, reason, len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            self._handlers.discard(task)
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, ssl.SSLError, asyncio.CancelledError):
                pass


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def backend(ca: trustme.CA) -> Iterator[Backend]:
    with Backend(ca) as b:
        yield b


def _client_ctx(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


def _target(ca: trustme.CA, port: int, path: str = "/health", **kw: Any) -> ProbeTarget:
    return ProbeTarget(f"https://{HOST}{path}", "127.0.0.1", _client_ctx(ca), port=port, **kw)


def _run(prober: OpenLoopProber, *also: Any, events: list[ChangeEvent] | None = None) -> ProberResult:
    """Run the prober and ``also`` coroutines on one loop, as a caller applying a change would."""

    async def main() -> ProberResult:
        result, *_ = await asyncio.gather(prober.run(events), *also)
        return result

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main())


def test_holds_200_per_second_for_2_seconds(ca: trustme.CA, backend: Backend) -> None:
    """Given a healthy server, when probed at 200 req/s for 2 s, then ~400 requests, all ok, on schedule."""
    result = run_prober([_target(ca, backend.port)], 200, 2.0)
    assert result.planned == 400
    assert abs(result.sent - 400) <= 12
    assert abs(result.achieved_rate - 200) <= 6, result.achieved_rate
    assert result.counts["ok"] == result.sent and sum(result.counts.values()) == result.sent
    assert result.errors == []
    assert result.corrected.get_total_count() == result.sent
    assert result.uncorrected.get_total_count() == result.sent
    assert result.send_lag.get_total_count() == result.sent
    assert [s["t"] for s in result.timeline] == [0, 1]
    assert sum(s["sent"] for s in result.timeline) == result.sent
    assert all(s["ok"] == s["sent"] and s["errors"] == 0 and s["p50_ms"] is not None for s in result.timeline)
    # through the right name: SNI and Host are the URL's, while the address dialed is 127.0.0.1
    assert backend.snis == {HOST}
    assert set(backend.hosts) == {HOST}
    assert backend.connections <= 20  # keep-alive: a few connections carry 400 requests
    doc = json.loads(json.dumps(result.to_dict()))
    assert doc["latency_ms"]["corrected"]["p99"] >= doc["latency_ms"]["corrected"]["p50"] > 0
    assert set(doc["latency_ms"]["uncorrected"]) >= {"p50", "p90", "p99", "p99.9", "max"}
    assert set(doc["send_lag_ms"]) >= {"p50", "p99", "max"}


def test_httpx_default_stack_also_works(ca: trustme.CA, backend: Backend) -> None:
    """Given http_stack="httpcore" (httpx's own transport), then the same probe works at a low rate."""
    result = run_prober([_target(ca, backend.port)], 40, 1.0, http_stack="httpcore")
    assert result.counts["ok"] == result.sent == 40
    assert backend.snis == {HOST} and set(backend.hosts) == {HOST}


def test_a_stall_shows_in_corrected_not_uncorrected_latency(ca: trustme.CA, backend: Backend) -> None:
    """Given one connection and a server that stalls 300 ms once, then the corrected p99 shows the stall
    and the uncorrected p99 hides it (coordinated omission)."""
    backend.stall_at = 100  # mid-run: 100 req/s for 2 s
    result = run_prober([_target(ca, backend.port)], 100, 2.0, max_in_flight=1)
    assert result.counts["ok"] == result.sent == 200
    corrected, uncorrected = result.latency_ms(True), result.latency_ms(False)
    assert isinstance(corrected["p99"], float) and isinstance(uncorrected["p99"], float)
    assert uncorrected["max"] is not None and uncorrected["max"] >= 290  # the stalled request itself
    assert corrected["p99"] >= 200, corrected
    assert uncorrected["p99"] < 100, uncorrected
    assert corrected["p99"] > 3 * uncorrected["p99"]
    lag = result.send_lag_ms()
    assert lag["max"] is not None and lag["max"] >= 250  # sends waited for the one connection


def test_503_window_is_counted_and_attributed_to_the_change(ca: trustme.CA, backend: Backend) -> None:
    """Given a change applied at ~0.8 s that makes the server answer 503 for 0.4 s, then each 503 is a
    bad_status error attributed to that change, with the time since it."""
    events = [ChangeEvent.now("baseline")]

    async def change() -> None:
        await asyncio.sleep(0.8)
        events.append(ChangeEvent.now("apply ingress"))
        backend.status = 503
        await asyncio.sleep(0.4)
        backend.status = 200

    prober = OpenLoopProber([_target(ca, backend.port)], 200, 2.0)
    result = _run(prober, change(), events=events)
    bad = result.counts["bad_status"]
    assert 40 <= bad <= 120, result.counts
    assert result.counts["ok"] + bad == result.sent
    assert len(result.errors) == bad
    for e in result.errors:
        assert (e["kind"], e["status"], e["after_event"]) == ("bad_status", 503, "apply ingress"), e
        assert 0 <= e["since_event_ms"] <= 1000
        assert e["t_ms"] >= e["sent_ms"]
        assert e["url"] == f"https://{HOST}/health"
    assert sum(s["errors"] for s in result.timeline) == bad
    assert [e["label"] for e in result.to_dict()["events"]] == ["baseline", "apply ingress"]


def test_expected_status_is_not_an_error(ca: trustme.CA, backend: Backend) -> None:
    """Given expect_status=(503,), then 503 answers are ok; and errors without events have no attribution."""
    backend.status = 503
    ok = run_prober([_target(ca, backend.port, expect_status=(503,))], 20, 0.5)
    assert ok.counts["ok"] == ok.sent == 10
    bad = run_prober([_target(ca, backend.port)], 20, 0.5)
    assert bad.counts["bad_status"] == 10
    assert {(e["after_event"], e["since_event_ms"]) for e in bad.errors} == {(None, None)}


@pytest.mark.parametrize("style", ["chunked", "close", "interim"])
def test_response_framings_are_read(ca: trustme.CA, backend: Backend, style: str) -> None:
    """Given chunked, close-delimited or 1xx-preceded answers, then every request is ok."""
    backend.style = style
    result = run_prober([_target(ca, backend.port)], 40, 0.5)
    assert result.counts["ok"] == result.sent == 20, result.errors[:3]


@pytest.mark.parametrize("style, kind", [("reset", "reset"), ("silent", "timeout")])
def test_failures_are_classified(ca: trustme.CA, backend: Backend, style: str, kind: str) -> None:
    """Given a server that drops connections or never answers, then each request is one error of that kind."""
    backend.style = style
    started = time.monotonic()
    result = run_prober([_target(ca, backend.port)], 20, 0.5, timeout=0.3)
    assert time.monotonic() - started < 3  # bounded: schedule + at most one timeout of drain, + setup
    assert result.counts[kind] == result.sent == 10, result.counts
    assert {e["kind"] for e in result.errors} == {kind}
    assert all(e["status"] is None for e in result.errors)


def test_refused_and_untrusted_are_typed_outcomes(ca: trustme.CA, backend: Backend) -> None:
    """Given a closed port, or a certificate from another CA, then each request is refused or tls_error."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    other = ssl.create_default_context()
    trustme.CA().configure_trust(other)
    targets = [_target(ca, closed_port), ProbeTarget(f"https://{HOST}/", "127.0.0.1", other, port=backend.port)]
    result = run_prober(targets, 20, 0.5, timeout=1.0)
    assert result.counts["refused"] == result.counts["tls_error"] == 5, result.counts
    assert result.counts["refused"] + result.counts["tls_error"] == result.sent == 10, result.counts
    details = " ".join(e["detail"] for e in result.errors)
    assert "refused" in details.lower() and "certificate" in details.lower()


def test_round_robin_over_targets_with_one_client_per_host(ca: trustme.CA, backend: Backend) -> None:
    """Given two hosts on one address, then requests alternate, and each host's SNI/Host stay its own."""
    ctx = _client_ctx(ca)
    targets = [
        ProbeTarget(f"https://{HOST}/a", "127.0.0.1", ctx, port=backend.port),
        ProbeTarget(f"https://www.{HOST}/b", "127.0.0.1", ctx, port=backend.port),
    ]
    result = run_prober(targets, 40, 0.5, timeout=1.0)
    # www.probe.test is not in the certificate: a connection that carried the wrong SNI would pass
    assert result.counts["ok"] == 10
    assert result.counts["tls_error"] == 10
    assert backend.snis == {HOST, f"www.{HOST}"}
    assert set(backend.hosts) == {HOST}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rate": 2001, "duration": 1}, "rate 2001 req/s is above the cap of 2000"),
        ({"rate": 10, "duration": 601}, "duration 601 s is above the cap of 600"),
        ({"rate": 600, "duration": 1, "max_rate": 500}, "above the cap of 500"),
        ({"rate": 0, "duration": 1}, "rate must be a positive number"),
        ({"rate": 10, "duration": -1}, "duration must be a positive number"),
    ],
)
def test_caps_refuse_too_much(ca: trustme.CA, kwargs: dict[str, Any], message: str) -> None:
    """Given a rate or duration above the caps (or nonsense), then ValueError says which and why."""
    with pytest.raises(ValueError, match=message):
        OpenLoopProber([_target(ca, 443)], **kwargs)


def test_importing_the_prober_does_not_import_locust_or_gevent() -> None:
    """Given a fresh interpreter, when the prober is imported, then neither locust nor gevent is loaded."""
    code = (
        "import sys, ingresscheck.load.prober\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent', 'geventhttpclient'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
