"""Scale campaign: reload propagation with 10, 100 and 1,000 existing routes, on each data plane.

Does a growing configuration make every change slower? For each size the lab is brought up with that
many generated Ingresses (lab --extra-hosts); with ``--data-planes traefik,envoy-gateway`` Envoy Gateway
runs too and gets as many generated HTTPRoutes on its Gateway. Then `ingresscheck reload` runs N rounds
per data plane: Ingress canaries on Traefik, HTTPRoute canaries on Envoy Gateway's Gateway. The figures
are printed as a table; reports/reload-scale.html/.json hold the table and both propagation curves
(Traefik throttles its provider: about 2 s; Envoy Gateway pushes xDS: tens of ms).
Usage: .venv/bin/python benchmarks/reload_scale.py [--sizes 10,100,1000] [--rounds 5]
                                                   [--data-planes traefik,envoy-gateway]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import ROOT

from ingresscheck import reports
from ingresscheck.results import Report
from ingresscheck_lab import envoy_gateway as eg
from ingresscheck_lab import objects
from ingresscheck_lab.lab import Lab
from ingresscheck_lab.layout import EXAMPLE_DOMAIN, LabLayout

PHASES = ("create", "update", "delete")


def _lab(size: int, planes: tuple[str, ...]) -> Lab:
    """The lab with exactly ``size`` extra hosts and the data planes asked for."""
    lab = Lab(LabLayout.at(ROOT / ".lab"), say=lambda m: print(m, file=sys.stderr))
    if lab.is_up():
        lab.down(quiet=True)
    lab.up(extra_hosts=size, data_planes=planes)
    return lab


def _envoy_routes(lab: Lab, size: int) -> None:
    """As many HTTPRoutes on Envoy Gateway's Gateway as there are extra Ingresses on Traefik: its configuration
    grows the same way. They live in the demo namespace (the lab's Envoy Gateway watches demo only) and point
    at the api Service."""
    routes = [
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": f"scale-{i:04d}", "namespace": objects.DEMO_NS, "labels": {objects.LAB_LABEL: "true"}},
            "spec": {
                "parentRefs": [{"name": eg.GATEWAY, "namespace": eg.NAMESPACE, "sectionName": "https-example"}],
                "hostnames": [f"host-{i:04d}.{EXAMPLE_DOMAIN}"],
                "rules": [{"backendRefs": [{"name": "api", "port": 80}]}],
            },
        }
        for i in range(size)
    ]
    writer = lab.writer()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda r: writer.create(r, exist_ok=True), routes))


def _reload(lab: Lab, rounds: int, extra: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "ingresscheck",
                "reload",
                "--profile",
                str(lab.layout.profile),
                "--allow-mutations",
                "--rounds",
                str(rounds),
                "--no-progress",
                *extra,
                "--json",
                f"{tmp}/r.json",
                "--html",
                f"{tmp}/r.html",
                "--junit",
                f"{tmp}/r.xml",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
        section: dict[str, Any] = json.loads(Path(f"{tmp}/r.json").read_text())["sections"]["reload"]
        return section


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data-planes", default="traefik", help="traefik, or traefik,envoy-gateway")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    planes = tuple(p.strip() for p in args.data_planes.split(",") if p.strip())
    started = dt.datetime.now(dt.UTC)
    rows: list[dict[str, Any]] = []
    last_section: dict[str, Any] = {}
    lab = None
    for size in sizes:
        lab = _lab(size, planes)
        runs = [("traefik", ["-n", "demo"])]
        if "envoy-gateway" in planes:
            _envoy_routes(lab, size)
            runs.append(("envoy-gateway", ["--kind", "httproute", "--gateway", f"{eg.NAMESPACE}/{eg.GATEWAY}"]))
        for plane, extra in runs:
            last_section = _reload(lab, args.rounds, extra)
            prop = last_section["propagation"]
            rows.append({"ingresses": size + 3, "plane": plane, **prop})
            print(
                f"{plane:<14} {size + 3:>6} routes: "
                + "  ".join(
                    f"{p} p50 {prop[p]['p50'] or 0:>7.0f} ms p95 {prop[p]['p95'] or 0:>7.0f} ms" for p in PHASES
                ),
                flush=True,
            )
    if lab is not None:
        lab.down(quiet=True)
    section = {**last_section, "scale": rows}
    report = Report(started, dt.datetime.now(dt.UTC), "lab", "scale campaign", [], sections={"reload": section})
    out = reports.write_all(report, html=ROOT / "reports/reload-scale.html", json=ROOT / "reports/reload-scale.json")
    print(f"report: {out['html']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
