"""Scale campaign: reload propagation with 10, 100 and 1,000 existing Ingresses (lab --extra-hosts).

Does a growing configuration make every change slower? For each size the lab is brought up with
that many generated Ingresses, `ingresscheck reload` runs N rounds, and the figures are printed as
a table; reports/reload-scale.html/.json hold the table and the chart.
Usage: .venv/bin/python benchmarks/reload_scale.py [--sizes 10,100,1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, lab_with_extra_hosts

from ingresscheck import reports
from ingresscheck.results import Report


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    started = dt.datetime.now(dt.UTC)
    rows, last_section = [], {}
    lab = None
    for size in sizes:
        lab, _ = lab_with_extra_hosts(size)
        if int(lab.state().get("extra_hosts", 0)) != size:  # a bigger lab was up: make it exactly this size
            lab.down(quiet=True)
            lab.up(extra_hosts=size)
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(
                [sys.executable, "-m", "ingresscheck", "reload", "--profile", str(lab.layout.profile),
                 "--allow-mutations", "--rounds", str(args.rounds), "-n", "demo", "--no-progress",
                 "--json", f"{tmp}/r.json", "--html", f"{tmp}/r.html", "--junit", f"{tmp}/r.xml"],
                cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
            last_section = json.loads(Path(f"{tmp}/r.json").read_text())["sections"]["reload"]
        prop = last_section["propagation"]
        rows.append({"ingresses": size + 3, **prop})
        print(f"{size + 3:>6} Ingresses: " + "  ".join(
            f"{p} p50 {prop[p]['p50']:>7.0f} ms p95 {prop[p]['p95']:>7.0f} ms" for p in ("create", "update", "delete")),
            flush=True)
    if lab is not None:
        lab.down(quiet=True)
    section = {**last_section, "scale": rows}
    report = Report(started, dt.datetime.now(dt.UTC), "lab", "scale campaign", [], sections={"reload": section})
    out = reports.write_all(report, html=ROOT / "reports/reload-scale.html", json=ROOT / "reports/reload-scale.json")
    print(f"report: {out['html']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
