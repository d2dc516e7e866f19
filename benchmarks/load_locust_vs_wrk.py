"""Locust's throughput against the lab next to wrk's against the same route, in the same run.

Both hit https://api.example.test/v1/bench through the VIP for the same time with keep-alive
connections; the ratio says how much of the chain's capacity a Python load generator can use.
Usage: .venv/bin/python benchmarks/load_locust_vs_wrk.py [--seconds 10] [--users 20]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, figure, lab_with_extra_hosts

HOST, PATH = "api.example.test", "/v1/bench"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=20)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian package wrk)", file=sys.stderr)
        return 2
    lab, started = lab_with_extra_hosts(0)
    L = lab.layout
    try:
        with tempfile.TemporaryDirectory() as tmp:
            targets = Path(tmp) / "targets.json"
            targets.write_text(
                json.dumps(
                    {
                        "ca_bundle": str(L.pki / "ingress-ca.crt"),
                        "targets": [
                            {"url": f"https://{HOST}{PATH}", "address": L.vip, "port": L.lb_https_port, "sni": HOST}
                        ],
                    }
                )
            )
            env = {
                **os.environ,
                "INGRESSCHECK_TARGETS": str(targets),
                "INGRESSCHECK_SHAPE": "none",
                "INGRESSCHECK_USERS": "keepalive",
                "INGRESSCHECK_WAIT": "0,0",  # flat out, like wrk
                "INGRESSCHECK_MAX_SECONDS": str(args.seconds + 30),
            }
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "locust",
                    "-f",
                    str(ROOT / "loadtests/locustfile.py"),
                    "--headless",
                    "-u",
                    str(args.users),
                    "-r",
                    str(args.users),
                    "-t",
                    f"{args.seconds}s",
                    "--csv",
                    f"{tmp}/locust",
                    "--only-summary",
                ],
                env=env,
                capture_output=True,
                check=True,
            )
            with open(f"{tmp}/locust_stats.csv") as f:
                agg = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
            locust_rps, locust_fail = float(agg["Requests/s"]), int(agg["Failure Count"])
            # wrk resolves the URL's host itself: point it at the VIP and send the right Host header.
            # (wrk's TLS has no separate SNI setting; the VIP's default is the *.example.test wildcard,
            # which is what this host gets anyway.)
            out = subprocess.run(
                [
                    "wrk",
                    "-t",
                    "2",
                    "-c",
                    str(args.users),
                    "-d",
                    f"{args.seconds}s",
                    "-H",
                    f"Host: {HOST}",
                    f"https://{L.vip}:{L.lb_https_port}{PATH}",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            wrk_rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
            non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        figure("locust requests/s (FastHttpUser, keep-alive)", locust_rps, "req/s")
        figure("locust failures", locust_fail, "requests")
        figure("wrk requests/s (same route, same connections)", wrk_rps, "req/s")
        figure("wrk non-2xx responses", int(non2xx.group(1)) if non2xx else 0, "requests")
        figure("locust / wrk", locust_rps / wrk_rps, "ratio")
        return 0
    finally:
        if started:
            lab.down(quiet=True)


if __name__ == "__main__":
    raise SystemExit(main())
