"""Discovery of many Ingresses from the lab's API server (paginated lists). Target: 50,000 in at most 5 s
and at most 400 MB, measured for the discovering process on its own.

Creates the Ingresses in namespace `bench-discovery` (label ingresscheck.io/bench), then runs discovery in a
child process of its own (its wall time and peak RSS are the figures: this process holds the objects it
created), and removes them again whatever happens: an error, a timeout or Ctrl-C still ends in the cleanup,
which waits for the API server to finish deleting and then removes the namespace.

Usage: .venv/bin/python benchmarks/discovery_5000.py [--count 5000] [--rounds 1] [--keep]
  --keep   leave the Ingresses for the next invocation, which reuses them when their count matches
           (creating 50,000 takes minutes; the discovery figure is the same either way)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import urllib3
from _common import ROOT, figure, lab_with_extra_hosts, run_measured
from kubernetes.client.exceptions import ApiException

from ingresscheck.kube import Resources
from ingresscheck_lab import objects

NS = "bench-discovery"
LABEL = "ingresscheck.io/bench"
CLEANUP_BOUND_S = 900  # the API server deletes a few hundred Ingresses a second on this machine

# The measured child: discovery and target derivation, as `ingresscheck run` does them, nothing else.
_DISCOVER = """
import json, sys, time
from ingresscheck.discovery.kube import discover
from ingresscheck.kube import connect
cluster = connect(sys.argv[1], "lab", pool_size=16)
started = time.perf_counter()
inventory = discover(cluster, sys.argv[2])
took = time.perf_counter() - started
print(json.dumps({"seconds": took, "ingresses": len(inventory.ingresses), "targets": len(inventory.targets)}))
"""


def _bench_ingresses(res: Resources) -> int:
    return sum(len(page) for page in res.pages("Ingress", NS, f"{LABEL}=true"))


def _create(res: Resources, count: int) -> None:
    res.create(objects.namespace(NS), exist_ok=True)
    have = _bench_ingresses(res)
    if have == count:
        figure("create (reused from --keep)", 0, "s")
        return
    if have > count:
        _cleanup(res, keep_namespace=True)
    items = []
    for i in range(count):
        ing = objects.ingress(
            f"d-{i:05d}",
            NS,
            f"d-{i:05d}.example.test",
            [("/", "Prefix", "web")],
            annotations={"nginx.ingress.kubernetes.io/ssl-redirect": "true"},
        )
        ing["metadata"]["labels"][LABEL] = "true"
        # a class no controller serves: the lab's Traefik must not spend minutes writing 50,000 statuses
        ing["spec"]["ingressClassName"] = "bench-unserved"
        items.append(ing)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda ing: res.create(ing, exist_ok=True), items))  # tops up a partial set
    figure("create (setup, not the target)", time.perf_counter() - started, "s")


def _cleanup(res: Resources, *, keep_namespace: bool = False) -> None:
    """Delete the Ingresses and wait until the API server has, then the namespace (the lab has no namespace
    controller, so its finalizer is completed here). Bounded; says what it left if the bound runs out."""
    deadline = time.monotonic() + CLEANUP_BOUND_S
    # The API server ends a request after its own timeout (60 s by default) while it goes on deleting, so one
    # deletecollection call is not enough for tens of thousands: ask again until none is left or time is up.
    while (left := _bench_ingresses(res)) and time.monotonic() < deadline:
        try:
            res.delete_collection("Ingress", NS, f"{LABEL}=true", timeout=120)
        except ApiException as exc:
            if exc.status != 404:
                raise
        except (OSError, urllib3.exceptions.HTTPError):
            time.sleep(1)  # cut off by the server's request timeout; the next round asks again
    if left:
        raise RuntimeError(f"{left} Ingresses still in namespace {NS} after {CLEANUP_BOUND_S} s")
    if keep_namespace:
        return
    ns = objects.namespace(NS)
    res.delete(ns)
    if res.get(ns) is not None:
        _finalize(res, NS)  # the lab has no namespace controller: without this it stays Terminating for ever


def _finalize(res: Resources, name: str) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "spec": {"finalizers": []}}
    _, url, headers, body, _ = res.api.param_serialize(
        "PUT",
        f"/api/v1/namespaces/{name}/finalize",
        header_params={"Content-Type": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
    )
    res.api.call_api("PUT", url, header_params=headers, body=body, _request_timeout=30).read()


def _measure(kubeconfig: str) -> dict:
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        code, wall, rss_mb = run_measured(
            [sys.executable, "-c", _DISCOVER, kubeconfig, NS], cwd=ROOT, stdout=out, stderr=err
        )
        out.seek(0)
        err.seek(0)
        if code != 0:
            last = (err.read().strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"the discovering process exited {code}: {last}")
        return {**json.loads(out.read()), "rss_mb": rss_mb, "wall": wall}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=1, help="discoveries of the same objects (default 1)")
    parser.add_argument("--keep", action="store_true", help="leave the Ingresses for the next invocation")
    args = parser.parse_args()
    lab, started = lab_with_extra_hosts(0)
    res = lab.writer()
    code = 1
    try:
        _create(res, args.count)
        seconds, peaks = [], []
        for _ in range(max(1, args.rounds)):
            got = _measure(str(lab.layout.kubeconfig))
            seconds.append(got["seconds"])
            peaks.append(got["rss_mb"])
        figure("ingresses discovered", got["ingresses"], "objects")
        figure("targets derived", got["targets"], "targets")
        target_s = "target <= 5 at 50,000"
        figure("discovery time (median)", sorted(seconds)[len(seconds) // 2], "s", target_s)
        figure("discovery time (best)", min(seconds), "s")
        figure("discovering process peak RSS (max)", max(peaks), "MB", "target <= 400 at 50,000")
        code = 0 if got["targets"] == args.count else 1
    except KeyboardInterrupt:
        print("interrupted: cleaning up", file=sys.stderr)
        code = 130
    except (RuntimeError, ApiException, OSError, urllib3.exceptions.HTTPError, subprocess.SubprocessError) as exc:
        print(f"discovery benchmark: {exc}".splitlines()[0], file=sys.stderr)
    finally:
        try:
            if not args.keep:
                _cleanup(res)
        except KeyboardInterrupt:
            print(f"cleanup interrupted: namespace {NS} may be left; run this again to remove it", file=sys.stderr)
        except (RuntimeError, ApiException, OSError, urllib3.exceptions.HTTPError) as exc:
            print(f"cleanup: {exc}".splitlines()[0], file=sys.stderr)
            code = code or 1
        if started:
            lab.down(quiet=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
