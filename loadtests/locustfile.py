"""Background load for ingress-change measurements: FastHttpUsers spread over every host of a targets
file, through the real chain (dial the LB address, Host header and TLS SNI of each host).

Locust is closed-loop: it is the BACKGROUND load only. What traffic suffers during a change is
measured by the open-loop prober (``ingresscheck.load.prober``), in another process.

Users (weights: INGRESSCHECK_KEEPALIVE_WEIGHT=3, INGRESSCHECK_NEWCONN_WEIGHT=1):
  KeepAliveUser      keeps one connection per target and reuses it
  NewConnectionUser  sends ``Connection: close`` and drops its connection after every request
Pick one with INGRESSCHECK_USERS=keepalive|newconn (default: mix), or name the class on the command
line (``locust -f loadtests/locustfile.py KeepAliveUser``).

Shape: RampShape ramps to INGRESSCHECK_RAMP_USERS (20) over INGRESSCHECK_RAMP_SECONDS (10), holds
INGRESSCHECK_HOLD_SECONDS (20), then stops; INGRESSCHECK_STAGES="10:20,20:20,5:0" gives stages
instead. INGRESSCHECK_SHAPE=none disables it (then -u/-r/-t apply). Hard caps, whatever the shape,
-u, -t or the web UI ask: at most 200 users (INGRESSCHECK_MAX_USERS can lower it), and every run
stops at INGRESSCHECK_MAX_SECONDS (default 60, at most 3600).

Run (stats as CSV and HTML under reports/)::

    INGRESSCHECK_TARGETS=reports/load-targets.json \\
    .venv/bin/locust -f loadtests/locustfile.py --headless --csv reports/bg-load --html reports/bg-load.html

    # distributed: one master, N workers (each its own process; same targets file). Start as many
    # workers as --expect-workers says; --expect-workers-max-wait bounds the wait for them.
    .venv/bin/locust -f loadtests/locustfile.py --master --headless --expect-workers 2 \\
        --expect-workers-max-wait 30 --csv reports/bg-load --html reports/bg-load.html &
    .venv/bin/locust -f loadtests/locustfile.py --worker & .venv/bin/locust -f loadtests/locustfile.py --worker; wait
"""

from __future__ import annotations

import logging
import os
import random
from typing import Any

import gevent
from common import (
    Target,
    TargetsError,
    load_targets,
    make_session,
    max_seconds,
    max_users,
    stages,
    targets_path,
    wait_bounds,
)
from locust import LoadTestShape, between, events, task
from locust.contrib.fasthttp import FastHttpSession, FastHttpUser
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

log = logging.getLogger("ingresscheck.loadtests")

_USERS = os.environ.get("INGRESSCHECK_USERS", "mix").strip().lower()
if _USERS not in ("mix", "keepalive", "newconn"):
    raise SystemExit(f"INGRESSCHECK_USERS={_USERS!r}: expected mix, keepalive or newconn")
_SHAPE = os.environ.get("INGRESSCHECK_SHAPE", "ramp").strip().lower()
if _SHAPE not in ("ramp", "none"):
    raise SystemExit(f"INGRESSCHECK_SHAPE={_SHAPE!r}: expected ramp or none")


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument(
        "--ingresscheck-targets",
        type=str,
        default="",
        help="targets file (JSON; default $INGRESSCHECK_TARGETS or reports/load-targets.json)",
    )


@events.init.add_listener
def _caps(environment: Environment, **_kwargs: Any) -> None:
    """On the master (or a local runner): cap users and run time however the run is started."""
    runner = environment.runner
    if runner is None or isinstance(runner, WorkerRunner):
        return
    cap, limit = max_users(), max_seconds()
    options = environment.parsed_options
    if options is not None:
        if options.num_users and options.num_users > cap:
            log.warning("capping -u %s to %s users", options.num_users, cap)
            options.num_users = cap
        if environment.shape_class is None and options.headless:
            if not options.run_time or options.run_time > limit:
                options.run_time = int(limit)
                log.info("run time capped at %s s (INGRESSCHECK_MAX_SECONDS)", int(limit))
    start = runner.start

    def capped_start(user_count: int, spawn_rate: float, *args: Any, **kwargs: Any) -> Any:
        if user_count > cap:
            log.warning("capping %s users to %s", user_count, cap)
        return start(min(user_count, cap), spawn_rate, *args, **kwargs)

    runner.start = capped_start  # type: ignore[method-assign]

    def stop_after_limit() -> None:
        log.warning("INGRESSCHECK_MAX_SECONDS=%s reached: stopping", int(limit))
        if options is not None and (options.headless or options.autostart):
            runner.quit()
        else:
            runner.stop()

    watchdog: list[gevent.Greenlet] = []

    @environment.events.test_start.add_listener
    def _arm(**_kw: Any) -> None:  # every run, including ones started from the web UI
        for g in watchdog:
            g.kill(block=False)
        watchdog[:] = [gevent.spawn_later(limit + 5, stop_after_limit)]

    @environment.events.test_stop.add_listener
    def _disarm(**_kw: Any) -> None:
        for g in watchdog:
            g.kill(block=False)
        watchdog.clear()


_targets_cache: dict[str, Any] = {}


def _targets(environment: Environment) -> tuple[str | None, tuple[Target, ...]]:
    path = targets_path(environment.parsed_options)
    if path not in _targets_cache:
        loaded = load_targets(path)
        _targets_cache[path] = (loaded.ca_bundle, loaded.targets)
    ca, targets = _targets_cache[path]
    return ca, targets


class _TargetsUser(FastHttpUser):
    """Round-robin over every target from a random start; one FastHttpSession per target."""

    abstract = True
    # FastHttpUser insists on a host; requests never use it (each target has its own session that
    # dials the target's address). .invalid never resolves, so a stray use fails loudly.
    host = "https://targets-file.invalid"
    wait_time = between(*wait_bounds())
    new_connection = False
    label = ""

    def on_start(self) -> None:
        try:
            ca, targets = _targets(self.environment)
        except TargetsError as exc:
            log.error("%s", exc)
            raise StopUser() from exc
        self.targets = targets
        self.sessions: list[FastHttpSession] = [make_session(self, t, ca) for t in targets]
        self.next = random.randrange(len(targets))

    def on_stop(self) -> None:
        for s in getattr(self, "sessions", []):
            s.client.clientpool.close()

    @task
    def request(self) -> None:
        i = self.next
        self.next = (i + 1) % len(self.targets)
        target, session = self.targets[i], self.sessions[i]
        headers = {"Host": target.host_header}
        if self.new_connection:
            headers["Connection"] = "close"
        name = target.url + self.label
        with session.get(target.path, name=name, headers=headers, allow_redirects=False, catch_response=True) as resp:
            if resp.status_code in target.expect_status:
                resp.success()
            elif resp.status_code == 0:
                resp.failure(f"no response: {resp.error!r}")
            else:
                resp.failure(f"status {resp.status_code}, expected {list(target.expect_status)}")
        if self.new_connection:
            session.client.clientpool.close()  # the next request makes a new connection (TCP + TLS)


class KeepAliveUser(_TargetsUser):
    abstract = _USERS == "newconn"
    weight = int(os.environ.get("INGRESSCHECK_KEEPALIVE_WEIGHT", "3"))


class NewConnectionUser(_TargetsUser):
    abstract = _USERS == "keepalive"
    weight = int(os.environ.get("INGRESSCHECK_NEWCONN_WEIGHT", "1"))
    new_connection = True
    label = " [new connection]"


class RampShape(LoadTestShape):
    """Stages from the environment (see common.stages); stops (None) at INGRESSCHECK_MAX_SECONDS regardless."""

    abstract = _SHAPE == "none"

    def __init__(self) -> None:
        super().__init__()
        self.stages = stages()
        self.limit = max_seconds()

    def tick(self) -> tuple[int, float] | None:
        t = self.get_run_time()
        if t >= self.limit:
            return None
        for stage in self.stages:
            if t < stage.until:
                return min(stage.users, max_users()), stage.spawn_rate
        return None


@events.test_start.add_listener
def _check_targets(environment: Environment, **_kwargs: Any) -> None:
    """Fail fast on the master (and locally) if the targets file is unusable."""
    if isinstance(environment.runner, WorkerRunner):
        return
    try:
        _, targets = _targets(environment)
    except TargetsError as exc:
        log.error("%s", exc)
        if environment.runner is not None:
            environment.runner.quit()
        return
    where = "master" if isinstance(environment.runner, MasterRunner) else "local"
    log.info("%s: %d targets: %s", where, len(targets), ", ".join(t.url for t in targets))
