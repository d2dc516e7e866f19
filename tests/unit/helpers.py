"""Build inventories and run probes for unit tests, through the real runner."""

from __future__ import annotations

from typing import Any

from ingresscheck import runner
from ingresscheck.discovery import Inventory
from ingresscheck.probes import registry
from ingresscheck.profile import Profile
from ingresscheck.results import Report, Result


def ingress(
    name: str,
    host: str | None,
    *,
    namespace: str = "demo",
    path: str = "/",
    annotations: dict[str, str] | None = None,
    status_ip: str | None = None,
    tls_secret: str | None = None,
    service: str = "web",
) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "http": {
            "paths": [
                {"path": path, "pathType": "Prefix", "backend": {"service": {"name": service, "port": {"number": 80}}}}
            ]
        }
    }
    if host:
        rule["host"] = host
    obj: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
        "spec": {"ingressClassName": "nginx", "rules": [rule]},
    }
    if tls_secret and host:
        obj["spec"]["tls"] = [{"hosts": [host], "secretName": tls_secret}]
    if status_ip:
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": status_ip}]}}
    return obj


def run_probes(
    names: list[str], profile: Profile, ingresses: list[dict[str, Any]], run: dict[str, Any] | None = None, **inv: Any
) -> Report:
    """Run probes ``names`` on an inventory of ``ingresses`` (and ``inv``); ``run``: RunOptions fields."""
    inventory = Inventory(context="unit", server="local", ingresses=ingresses, **inv)
    probes = runner.plan(registry(), names, None)
    return runner.run(probes, profile, inventory, runner.RunOptions(**{"concurrency": 8, **(run or {})}))


def by_check(report: Report, check: str, host: str | None = None) -> list[Result]:
    return [r for r in report.results if r.check == check and (host is None or r.host == host)]


def one(report: Report, check: str, host: str | None = None) -> Result:
    found = by_check(report, check, host)
    assert len(found) == 1, f"expected one {check} result for {host}, got {found}"
    return found[0]
