"""compare and run see the same hosts: on the lab (Traefik, Ingresses and HTTPRoutes on its Gateway), the hosts
and path types compare would send its matrix for are the ones run's routing checks judged.

Given the healthy lab, when `ingresscheck run` reports and compare discovers one side of Ingresses and one of
HTTPRoutes, then both list the same hosts of each kind with the same rules and path types (RegularExpression
included: compare's own translation used to call it ImplementationSpecific)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from ingresscheck.compare import Side, discover_sides
from ingresscheck.probes._ingress_annotations import grpc_backend
from ingresscheck.profile import load
from ingresscheck_lab.lab import Lab


def _run_rules(lab: Lab, tmp_path: Path) -> dict[tuple[str, str], set[tuple[str, str]]]:
    out = tmp_path / "run.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ingresscheck",
            "run",
            "--profile",
            str(lab.layout.profile),
            "--probes",
            "dns,redirect,tls,routing",
            "--json",
            str(out),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    rules: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for r in json.loads(out.read_text())["results"]:
        if r["check"] == "routing.backend" and r["subject"]:
            # "/docs (Prefix) via A", or with an HTTPRoute's header matches: "/docs (Prefix) +X-V: v2 via A"
            m = re.match(r"(\S+) \((\w+)\)(?: \+.*?)? via ", r["subject"])
            assert m, r["subject"]
            rules.setdefault((r["kind"], r["host"]), set()).add((m.group(1), m.group(2)))
    return rules


def test_run_and_compare_list_the_same_hosts_and_path_types(lab: Lab, tmp_path: Path) -> None:
    seen_by_run = _run_rules(lab, tmp_path)
    ingresses, routes = discover_sides(
        Side("A", kind="Ingress"),
        Side("B", kind="HTTPRoute"),
        load(lab.layout.profile),
        kubeconfig=str(lab.layout.kubeconfig),
    )
    seen_by_compare = {
        (t.kind, host): {(p.path, p.path_type) for p in t.paths}
        for side in (ingresses, routes)
        for host, t in side.targets.items()
        if not grpc_backend(t)  # run leaves gRPC hosts' routing to grpc.health: no rule results to compare
    }
    assert seen_by_compare == seen_by_run
    assert ("/reports/[0-9]+", "RegularExpression") in seen_by_compare[("HTTPRoute", "app.gw.test")]
    assert {k for k, _ in seen_by_compare} == {"Ingress", "HTTPRoute"}
