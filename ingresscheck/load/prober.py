"""An open-loop, fixed-rate HTTP prober (wrk2's method) for measuring what existing traffic suffers
while an ingress change is applied.

Request ``i`` is due at ``t0 + i / rate`` and is sent then, whether or not earlier requests have
finished: a stalled server cannot slow the prober down and hide the stall (coordinated omission).
Each response's latency is recorded twice, into HdrHistograms:

* corrected: from the request's INTENDED send time, what a user arriving on schedule experienced;
* uncorrected: from the ACTUAL send time, what a closed-loop tool such as locust would report.

The difference between the two only shows when sends fall behind schedule (the send-lag
histogram says by how much), e.g. when ``max_in_flight`` requests are outstanding and the
scheduler has to wait for a slot.

Requests go to a chosen address with the Host header and TLS SNI of the URL (as ``net.py`` does),
over ONE keep-alive ``httpx.AsyncClient`` per target host, so a connection made with one host's SNI
never carries another host's request.

This module must stay importable without locust or gevent (``import locust`` monkey-patches the
standard library); background load lives in ``loadtests/`` and runs in other processes.
"""

from __future__ import annotations

import asyncio
import bisect
import importlib.util
import ipaddress
import math
import ssl
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from hdrh.histogram import HdrHistogram

from ..net import Outcome, classify
from ..profile import Profile
from .lean_http import LeanTransport

HARD_MAX_RATE = 2000.0  # requests/s; the default of OpenLoopProber(max_rate=...)
HARD_MAX_DURATION = 600.0  # seconds; the default of OpenLoopProber(max_duration=...)
HTTP_STACKS = ("lean", "httpcore")
# "ok", "bad_status" (a response the target does not expect), then the network layer's outcomes
OUTCOMES = ("ok", "bad_status", *(o.value for o in Outcome if o is not Outcome.OK))
PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9))
_START_DELAY = 0.02  # s between building the clients and the first intended send


@dataclass(frozen=True)
class ProbeTarget:
    """Send GET ``url`` (``https://host/path``) to ``address``, with the URL's Host and SNI.

    ``port`` is the port dialed when it differs from the URL's (e.g. a lab LB on 10443 for
    ``https://host/``); by default the URL's port, else 443/80. The Host header is the URL's authority.
    """

    url: str
    address: str
    verify: ssl.SSLContext | bool
    expect_status: tuple[int, ...] = (200,)
    port: int | None = None


@dataclass(frozen=True)
class ChangeEvent:
    """A change applied while the prober runs; ``at`` is a ``time.monotonic()`` stamp."""

    label: str
    at: float

    @classmethod
    def now(cls, label: str) -> ChangeEvent:
        return cls(label, time.monotonic())


def targets_for(profile: Profile, urls: Sequence[str], *, expect_status: tuple[int, ...] = (200,)) -> list[ProbeTarget]:
    """ProbeTargets for ``urls`` as the profile reaches them: a --resolve override for host:https_port
    when there is one, else every load balancer; verified against the profile's CA bundle."""
    verify: ssl.SSLContext = (
        ssl.create_default_context(cafile=profile.ca_bundle) if profile.ca_bundle else ssl.create_default_context()
    )
    targets = []
    for url in urls:
        parsed = httpx.URL(url)
        port = parsed.port or (profile.https_port if parsed.scheme == "https" else profile.http_port)
        override = profile.resolve_override(parsed.host, port)
        addresses = list(override) or list(profile.load_balancers)
        if not addresses:
            raise ValueError(
                f"{url}: no address to dial (no --resolve override for {parsed.host}:{port} "
                "and no load_balancers in the profile)"
            )
        targets += [ProbeTarget(url, address, verify, expect_status, port) for address in addresses]
    return targets


def _cache_missing_sniffio() -> None:
    """httpcore runs ``import sniffio`` several times per request; when sniffio is not installed each
    attempt walks sys.path again (failed imports are not cached), ~1 ms of CPU per request. Record the
    absence once (``None`` in sys.modules makes the import fail at once), as if it had been cached."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


def _histogram(highest_us: int, digits: int = 3) -> HdrHistogram:
    return HdrHistogram(1, highest_us, digits)


def _ms(us: float) -> float:
    return round(us / 1000.0, 3)


def _summary(h: HdrHistogram) -> dict[str, float | int | None]:
    """p50/p90/p99/p99.9/max in ms (None when nothing was recorded), and the count."""
    count = h.get_total_count()
    out: dict[str, float | int | None] = {
        name: (_ms(h.get_value_at_percentile(p)) if count else None) for name, p in PERCENTILES
    }
    out["max"] = _ms(h.get_max_value()) if count else None
    out["mean"] = _ms(h.get_mean_value()) if count else None
    out["count"] = count
    return out


@dataclass
class _Second:
    """One second of the schedule (by intended send time)."""

    sent: int = 0
    ok: int = 0
    errors: int = 0
    latency: HdrHistogram | None = None  # corrected, responses only


@dataclass
class _Error:
    t: float  # monotonic, when the error was observed
    intended: float
    kind: str
    status: int | None
    detail: str
    url: str


@dataclass
class ProberResult:
    """What a run measured. Histograms (microseconds) are kept for merging/inspection; ``to_dict()`` is
    JSON-able, in milliseconds.

    * ``corrected`` / ``uncorrected``: latency of every request that got a response (any status), from
      its intended / actual send time. Timeouts and connection errors are counted, not timed.
    * ``send_lag``: actual - intended send time of every request sent.
    * ``achieved_rate``: requests sent / time from t0 to the last send (+ one interval), never less than
      the planned schedule, so unsent requests count against it.
    * ``timeline``: one entry per second of the schedule, by INTENDED send time; p50/p99 corrected.
    * ``errors``: ``t_ms`` when the error was observed and ``sent_ms`` when the request was due (both
      since t0); ``after_event`` is the latest ChangeEvent at or before ``t_ms``. At most
      ``max_error_records`` are kept (``errors_dropped`` counts the rest; ``counts`` stay exact).
    """

    target_rate: float
    duration: float
    planned: int
    sent: int
    achieved_rate: float
    wall_seconds: float
    counts: dict[str, int]
    send_lag: HdrHistogram
    corrected: HdrHistogram
    uncorrected: HdrHistogram
    timeline: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    events: list[dict[str, Any]]
    errors_dropped: int = 0
    targets: list[str] = field(default_factory=list)

    @property
    def deviation_pct(self) -> float:
        """Achieved send rate vs target, in percent (negative: slower than asked)."""
        return (self.achieved_rate - self.target_rate) / self.target_rate * 100.0

    @property
    def not_sent(self) -> int:
        return self.planned - self.sent

    def latency_ms(self, corrected: bool = True) -> dict[str, float | int | None]:
        return _summary(self.corrected if corrected else self.uncorrected)

    def send_lag_ms(self) -> dict[str, float | int | None]:
        s = _summary(self.send_lag)
        return {"p50": s["p50"], "p99": s["p99"], "max": s["max"], "count": s["count"]}

    def to_dict(self) -> dict[str, Any]:
        return {
            "target_rate": self.target_rate,
            "duration_s": self.duration,
            "planned": self.planned,
            "sent": self.sent,
            "not_sent": self.not_sent,
            "achieved_rate": round(self.achieved_rate, 3),
            "deviation_pct": round(self.deviation_pct, 3),
            "wall_s": round(self.wall_seconds, 3),
            "targets": list(self.targets),
            "counts": dict(self.counts),
            "send_lag_ms": self.send_lag_ms(),
            "latency_ms": {"corrected": self.latency_ms(True), "uncorrected": self.latency_ms(False)},
            "timeline": [dict(t) for t in self.timeline],
            "errors": [dict(e) for e in self.errors],
            "errors_dropped": self.errors_dropped,
            "events": [dict(e) for e in self.events],
        }


@dataclass
class _Route:
    """A target prepared for sending: the URL dialed, headers, extensions and its host's client."""

    target: ProbeTarget
    dial_url: httpx.URL
    headers: dict[str, str]
    extensions: dict[str, Any]
    client: httpx.AsyncClient


class OpenLoopProber:
    """Send GETs at a fixed rate, round-robin over ``targets``, for ``duration`` seconds.

    ``timeout`` bounds each network operation and the wait for in-flight requests at the end;
    ``max_in_flight`` bounds outstanding requests (when reached, sends wait and the lag shows in
    the corrected latencies). Rates above ``max_rate`` and durations above ``max_duration`` are refused.

    ``http_stack``: each host's ``httpx.AsyncClient`` sends through ``"lean"`` (``lean_http.LeanTransport``,
    the default: cheap enough to hold 500 req/s on 2 cores) or ``"httpcore"`` (httpx's own transport,
    ~0.7 ms CPU per request; it falls behind well before 500 req/s on 2 cores).
    """

    def __init__(
        self,
        targets: list[ProbeTarget],
        rate: float,
        duration: float,
        *,
        timeout: float = 2.0,
        max_in_flight: int = 1000,
        max_rate: float = HARD_MAX_RATE,
        max_duration: float = HARD_MAX_DURATION,
        max_error_records: int = 100_000,
        http_stack: str = "lean",
    ) -> None:
        if not targets:
            raise ValueError("OpenLoopProber: give at least one ProbeTarget")
        if not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
            raise ValueError(f"OpenLoopProber: rate must be a positive number of requests/s, not {rate!r}")
        if rate > max_rate:
            raise ValueError(f"OpenLoopProber: rate {rate:g} req/s is above the cap of {max_rate:g} req/s")
        if not (isinstance(duration, int | float) and math.isfinite(duration) and duration > 0):
            raise ValueError(f"OpenLoopProber: duration must be a positive number of seconds, not {duration!r}")
        if duration > max_duration:
            raise ValueError(f"OpenLoopProber: duration {duration:g} s is above the cap of {max_duration:g} s")
        if not timeout > 0:
            raise ValueError(f"OpenLoopProber: timeout must be > 0 s, not {timeout!r}")
        if max_in_flight < 1:
            raise ValueError(f"OpenLoopProber: max_in_flight must be >= 1, not {max_in_flight!r}")
        if http_stack not in HTTP_STACKS:
            raise ValueError(f"OpenLoopProber: http_stack must be one of {', '.join(HTTP_STACKS)}, not {http_stack!r}")
        for t in targets:
            url = httpx.URL(t.url)
            if url.scheme not in ("http", "https") or not url.host:
                raise ValueError(f"OpenLoopProber: target url {t.url!r} must be http(s)://host/path")
            try:
                ipaddress.ip_address(t.address)
            except ValueError:
                raise ValueError(f"OpenLoopProber: target address {t.address!r} is not an IP address") from None
        self.targets = list(targets)
        self.rate = float(rate)
        self.duration = float(duration)
        self.timeout = float(timeout)
        self.max_in_flight = int(max_in_flight)
        self.max_error_records = max_error_records
        self.http_stack = http_stack
        self.planned = max(1, math.ceil(self.duration * self.rate - 1e-9))  # intended offsets i/rate < duration
        # latencies can reach the schedule plus the drain wait; keep headroom, values above are clamped
        self._highest_us = int((self.duration + 3 * self.timeout + 60) * 1_000_000)
        self._stop_requested = False
        self._reset()

    def stop(self) -> None:
        """End the schedule at the next send; requests in flight still finish (bounded by the timeout)."""
        self._stop_requested = True

    def _reset(self) -> None:
        self._t0 = 0.0
        self._sent = 0
        self._first_send: float | None = None
        self._last_send = 0.0
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._slot = asyncio.Event()
        self._counts = dict.fromkeys(OUTCOMES, 0)
        self._lag = _histogram(self._highest_us)
        self._corrected = _histogram(self._highest_us)
        self._uncorrected = _histogram(self._highest_us)
        self._seconds = [_Second() for _ in range(math.ceil(self.duration - 1e-9))]
        self._errors: list[_Error] = []
        self._errors_dropped = 0

    # --- clients ------------------------------------------------------------------------
    def _routes(self) -> tuple[list[_Route], list[httpx.AsyncClient]]:
        clients: dict[tuple[str, str, int], httpx.AsyncClient] = {}
        contexts: dict[bool, ssl.SSLContext] = {}
        routes = []
        expiry = max(30.0, self.timeout)
        limits = httpx.Limits(
            max_connections=self.max_in_flight, max_keepalive_connections=self.max_in_flight, keepalive_expiry=expiry
        )
        for t in self.targets:
            url = httpx.URL(t.url)
            host = url.host
            if isinstance(t.verify, ssl.SSLContext):
                verify: ssl.SSLContext = t.verify
            else:
                if t.verify not in contexts:
                    ctx = ssl.create_default_context()
                    if not t.verify:
                        ctx.check_hostname = False
                        ctx.verify_mode = ssl.CERT_NONE
                    contexts[t.verify] = ctx
                verify = contexts[t.verify]
            # one client per host (and TLS policy): its pool never mixes SNI names
            key = (host, url.scheme, id(verify))
            if key not in clients:
                transport = (
                    LeanTransport(verify, max_connections=self.max_in_flight, keepalive_expiry=expiry)
                    if self.http_stack == "lean"
                    else None
                )
                clients[key] = httpx.AsyncClient(
                    verify=verify,
                    timeout=httpx.Timeout(self.timeout),
                    limits=limits,
                    follow_redirects=False,
                    trust_env=False,
                    transport=transport,
                )
            port = t.port or url.port or (443 if url.scheme == "https" else 80)
            dial_url = url.copy_with(host=t.address, port=port)
            authority = host if url.port is None else f"{host}:{url.port}"
            # identity: bodies are drained raw, never decoded
            headers = {"Host": authority, "User-Agent": "ingresscheck-prober", "Accept-Encoding": "identity"}
            extensions: dict[str, Any] = {"sni_hostname": host} if url.scheme == "https" else {}
            routes.append(_Route(t, dial_url, headers, extensions, clients[key]))
        return routes, list(clients.values())

    # --- one request --------------------------------------------------------------------
    async def _one(self, route: _Route, intended: float) -> None:
        actual = time.monotonic()
        self._sent += 1
        if self._first_send is None:
            self._first_send = actual
        self._last_send = actual
        sec = self._second(intended)
        sec.sent += 1
        self._lag.record_value(max(0, int((actual - intended) * 1_000_000)))
        kind, status, detail = "ok", None, ""
        try:
            client = route.client
            request = client.build_request("GET", route.dial_url, headers=route.headers, extensions=route.extensions)
            response = await client.send(request, stream=True)
            try:
                async for _ in response.aiter_raw():
                    pass
            finally:
                await response.aclose()
            status = response.status_code
            if status not in route.target.expect_status:
                kind, detail = "bad_status", f"{status} {response.reason_phrase}".strip()
        except asyncio.CancelledError:
            self._finish(
                route,
                intended,
                actual,
                "timeout",
                status,
                f"still in flight {self.timeout:g} s after the schedule ended; cancelled",
            )
            raise
        except Exception as exc:  # noqa: BLE001 - any failure is one failed request, counted, not fatal
            # the same typed outcomes as every other attempt of ingresscheck (refused, reset, timeout...)
            kind, detail = classify(exc).value, f"{type(exc).__name__}: {exc}".rstrip(": ")
        self._finish(route, intended, actual, kind, status, detail)

    def _second(self, intended: float) -> _Second:
        index = min(max(int(intended - self._t0), 0), len(self._seconds) - 1)
        return self._seconds[index]

    def _finish(
        self, route: _Route, intended: float, actual: float, kind: str, status: int | None, detail: str
    ) -> None:
        end = time.monotonic()
        self._counts[kind] += 1
        sec = self._second(intended)
        if status is not None:  # a response came back: its latency counts, whatever the status
            corrected = min(int((end - intended) * 1_000_000), self._highest_us)
            self._corrected.record_value(max(1, corrected))
            self._uncorrected.record_value(max(1, min(int((end - actual) * 1_000_000), self._highest_us)))
            if sec.latency is None:
                sec.latency = _histogram(self._highest_us, 2)
            sec.latency.record_value(max(1, corrected))
        if kind == "ok":
            sec.ok += 1
            return
        sec.errors += 1
        if len(self._errors) < self.max_error_records:
            self._errors.append(_Error(end, intended, kind, status, detail, route.target.url))
        else:
            self._errors_dropped += 1

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._in_flight -= 1
        self._slot.set()

    # --- the schedule -------------------------------------------------------------------
    async def run(self, events: list[ChangeEvent] | None = None) -> ProberResult:
        """Run the schedule; ``events`` may be appended to meanwhile (errors are attributed at the end)."""
        self._reset()
        _cache_missing_sniffio()
        events = events if events is not None else []
        routes, clients = self._routes()
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        try:
            self._t0 = t0 = time.monotonic() + _START_DELAY
            interval = 1.0 / self.rate
            hard_stop = t0 + self.duration + self.timeout  # sends this late are not made at all
            n, i, nroutes = self.planned, 0, len(routes)
            while i < n:
                if self._stop_requested:
                    # stopped early (the changes it measured are done): the schedule ends here
                    self.planned = n = i
                    break
                now = time.monotonic()
                due = t0 + i * interval
                if due > now:
                    await asyncio.sleep(due - now)
                    now = time.monotonic()
                if now > hard_stop:
                    break
                while i < n and t0 + i * interval <= now and self._in_flight < self.max_in_flight:
                    task = loop.create_task(self._one(routes[i % nroutes], t0 + i * interval))
                    self._in_flight += 1
                    self._tasks.add(task)
                    task.add_done_callback(self._done)
                    i += 1
                if i < n and self._in_flight >= self.max_in_flight:
                    self._slot.clear()
                    try:
                        await asyncio.wait_for(self._slot.wait(), max(0.0, hard_stop - time.monotonic()))
                    except TimeoutError:
                        break
            if self._tasks:
                _, pending = await asyncio.wait(set(self._tasks), timeout=self.timeout)
                for task in pending:
                    task.cancel()
                if pending:
                    await asyncio.gather(*pending, return_exceptions=True)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)
        return self._result(list(events), time.monotonic() - started)

    def _result(self, events: list[ChangeEvent], wall: float) -> ProberResult:
        t0 = self._t0
        if self._sent and self._first_send is not None:
            # n sends on schedule span (n - 1) intervals; add one so a perfect run gives exactly `rate`
            # (and never less than the whole schedule, so requests never sent count against the rate)
            window = max((self._last_send - t0) + 1.0 / self.rate, self.planned / self.rate)
            achieved = self._sent / window
        else:
            achieved = 0.0
        ordered = sorted(events, key=lambda e: e.at)
        stamps = [e.at for e in ordered]
        errors = []
        for err in sorted(self._errors, key=lambda e: e.t):
            k = bisect.bisect_right(stamps, err.t) - 1
            event = ordered[k] if k >= 0 else None
            errors.append(
                {
                    "t_ms": round((err.t - t0) * 1000, 3),
                    "sent_ms": round((err.intended - t0) * 1000, 3),
                    "kind": err.kind,
                    "status": err.status,
                    "detail": err.detail,
                    "url": err.url,
                    "after_event": event.label if event else None,
                    "since_event_ms": round((err.t - event.at) * 1000, 3) if event else None,
                }
            )
        timeline = []
        seconds_scheduled = math.ceil(self.planned / self.rate - 1e-9)  # fewer when stopped early
        for second, s in enumerate(self._seconds[:seconds_scheduled]):
            h = s.latency
            timeline.append(
                {
                    "t": second,
                    "sent": s.sent,
                    "ok": s.ok,
                    "errors": s.errors,
                    "p50_ms": _ms(h.get_value_at_percentile(50.0)) if h is not None else None,
                    "p99_ms": _ms(h.get_value_at_percentile(99.0)) if h is not None else None,
                }
            )
        return ProberResult(
            target_rate=self.rate,
            duration=self.duration,
            planned=self.planned,
            sent=self._sent,
            achieved_rate=achieved,
            wall_seconds=wall,
            counts=dict(self._counts),
            send_lag=self._lag,
            corrected=self._corrected,
            uncorrected=self._uncorrected,
            timeline=timeline,
            errors=errors,
            events=[{"label": e.label, "t_ms": round((e.at - t0) * 1000, 3)} for e in ordered],
            errors_dropped=self._errors_dropped,
            targets=sorted({t.url for t in self.targets}),
        )


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop where installed (cheaper wakeups and I/O), else asyncio's default."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_prober(
    targets: list[ProbeTarget], rate: float, duration: float, *, events: list[ChangeEvent] | None = None, **options: Any
) -> ProberResult:
    """Synchronous wrapper: run an ``OpenLoopProber`` on a fresh event loop (uvloop where installed)."""
    prober = OpenLoopProber(targets, rate, duration, **options)
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(prober.run(events))
