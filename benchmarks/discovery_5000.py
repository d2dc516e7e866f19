"""Discovery of 5,000 Ingresses from the lab's API server (paginated lists). Target: at most 5 s.

Creates the Ingresses in namespace `bench-discovery` (label ingresscheck.io/bench), measures, and
removes them again. Usage: .venv/bin/python benchmarks/discovery_5000.py [--count 5000]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

from _common import figure, lab_with_extra_hosts

from ingresscheck.discovery.kube import discover
from ingresscheck.kube import connect
from ingresscheck_lab import objects

NS = "bench-discovery"
LABEL = "ingresscheck.io/bench"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    lab, started = lab_with_extra_hosts(0)
    cluster = connect(lab.layout.kubeconfig, "lab", pool_size=16)
    res = lab.writer()
    try:
        res.create(objects.namespace(NS), exist_ok=True)
        items = []
        for i in range(args.count):
            ing = objects.ingress(
                f"d-{i:05d}",
                NS,
                f"d-{i:05d}.example.test",
                [("/", "Prefix", "web")],
                annotations={"nginx.ingress.kubernetes.io/ssl-redirect": "true"},
            )
            ing["metadata"]["labels"][LABEL] = "true"
            # a class no controller serves: the lab's Traefik must not spend minutes writing 5000 statuses
            ing["spec"]["ingressClassName"] = "bench-unserved"
            items.append(ing)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(res.create, items))
        figure("create (setup, not the target)", time.perf_counter() - t0, "s")
        t0 = time.perf_counter()
        inventory = discover(cluster, NS)
        took = time.perf_counter() - t0
        targets = inventory.targets
        figure("ingresses discovered", len(inventory.ingresses), "objects")
        figure("targets derived", len(targets), "targets")
        figure("discovery time", took, "s", "target <= 5")
        return 0 if len(targets) == args.count else 1
    finally:
        res.delete_collection("Ingress", NS, f"{LABEL}=true")
        if started:
            lab.down(quiet=True)


if __name__ == "__main__":
    raise SystemExit(main())
