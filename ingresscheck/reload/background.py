"""Background load for a reload campaign: locust in its own process (it monkey-patches the standard
library, so it never runs inside ingresscheck's process), with a hard time cap, stopped when the
rounds are done. Its CSV and HTML stats land in the run's reports directory (--reports-dir)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..profile import Profile

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtests" / "locustfile.py"


def write_targets(profile: Profile, urls: Sequence[tuple[str, tuple[int, ...]]], path: Path) -> Path:
    """The locustfiles' targets file (see loadtests/common.py): each URL dialed at its LB address."""
    port = profile.https_port
    targets = []
    for url, statuses in urls:
        host = url.split("/")[2].split(":")[0]
        addresses = profile.resolve_override(host, port) or list(profile.load_balancers[:1])
        if not addresses:
            raise UsageError(f"no address for {host}: give load_balancers in the profile or a --resolve override")
        targets.append(
            {"url": url, "address": addresses[0], "port": port, "sni": host, "expect_status": list(statuses)}
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"ca_bundle": profile.ca_bundle, "targets": targets}, indent=2))
    return path


class BackgroundLoad:
    def __init__(
        self, profile: Profile, urls: list[str], users: int, max_seconds: int, reports_dir: Path = Path("reports")
    ) -> None:
        if not LOCUSTFILE.is_file():
            raise UsageError(f"--under-load needs the locustfile of a checkout ({LOCUSTFILE} is missing)")
        if not 1 <= users <= 200:
            raise UsageError("--under-load takes 1 to 200 users")
        self.profile, self.urls, self.users, self.max_seconds = profile, urls, users, max_seconds
        self.reports_dir = reports_dir
        reports_dir.mkdir(parents=True, exist_ok=True)
        self.stats_prefix = reports_dir / "reload-load"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        targets = write_targets(
            self.profile, [(u, (200,)) for u in self.urls], self.reports_dir / "reload-load-targets.json"
        )
        env = {
            **os.environ,
            "INGRESSCHECK_TARGETS": str(targets),
            "INGRESSCHECK_SHAPE": "none",
            "INGRESSCHECK_MAX_SECONDS": str(self.max_seconds),
        }
        log = (self.reports_dir / "reload-load.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(LOCUSTFILE),
                "--headless",
                "-u",
                str(self.users),
                "-r",
                str(self.users),
                "-t",
                f"{self.max_seconds}s",
                "--csv",
                str(self.stats_prefix),
                "--html",
                f"{self.stats_prefix}.html",
                "--only-summary",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            # the load must not outlive us (a SIGKILLed reload left locust loading the LB): the kernel
            # sends it SIGTERM when this process goes
            preexec_fn=_die_with_parent(os.getpid()) if sys.platform == "linux" else None,
        )
        log.close()

    def stop(self) -> dict[str, Any] | None:
        if self.proc is None:
            return None
        # SIGINT: locust writes its HTML report and CSV stats (on SIGTERM it writes the CSV only)
        for sig, wait in ((signal.SIGINT, 20), (signal.SIGTERM, 10), (signal.SIGKILL, None)):
            if self.proc.poll() is not None:
                break
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        return self.summary()

    def summary(self) -> dict[str, Any] | None:
        stats = Path(f"{self.stats_prefix}_stats.csv")
        if not stats.exists():
            return None
        with stats.open() as f:
            rows = list(csv.DictReader(f))
        agg = next((r for r in rows if r.get("Name") == "Aggregated"), None)
        if agg is None:
            return None
        html = Path(f"{self.stats_prefix}.html")
        return {
            "users": self.users,
            "requests": int(agg["Request Count"]),
            "failures": int(agg["Failure Count"]),
            "rps": round(float(agg["Requests/s"]), 1),
            "median_ms": float(agg["Median Response Time"]),
            "p95_ms": float(agg.get("95%") or 0),
            "csv": str(stats),
            "html": str(html) if html.is_file() else None,
        }  # None: locust wrote none (it was killed)


def _die_with_parent(parent: int) -> Callable[[], None]:
    """For preexec_fn: PR_SET_PDEATHSIG(SIGTERM) in the child, and exit at once if the parent is already gone."""

    def setup() -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(1)

    return setup
