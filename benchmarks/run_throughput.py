"""dns+redirect over the lab with 1000 extra hosts: hosts/s and peak RSS of `ingresscheck run`.

Targets: at least 100 hosts/s on a 2-core machine, at most 300 MB peak RSS.
Usage: .venv/bin/python benchmarks/run_throughput.py [--hosts 1000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, figure, lab_with_extra_hosts


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--keep", action="store_true", help="leave the lab up")
    args = parser.parse_args()
    lab, started = lab_with_extra_hosts(args.hosts)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "r.json"
            t0 = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "ingresscheck", "run", "--profile", str(lab.layout.profile),
                 "--probes", "dns,redirect", "--no-progress", "--json", str(out), "--html", f"{tmp}/r.html",
                 "--junit", f"{tmp}/r.xml"], cwd=ROOT, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            report = json.loads(out.read_text())
        hosts = len({r["host"] for r in report["results"] if r["host"]})
        bad = [r for r in report["results"] if r["status"] in ("fail", "error")]
        figure("hosts checked", hosts, "hosts")
        figure("wall time (discovery+probes+reports)", wall, "s")
        figure("throughput", hosts / wall, "hosts/s", "target >= 100")
        figure("peak RSS", rss_mb, "MB", "target <= 300")
        figure("failed or errored checks", len(bad), "checks", "expected 0")
        return 0 if not bad and done.returncode == 0 else 1
    finally:
        if started and not args.keep:
            lab.down(quiet=True)


if __name__ == "__main__":
    raise SystemExit(main())
