"""Kafka from outside on the lab (issue 25): a real 3-broker Apache Kafka cluster, each broker behind its own
TLSRoute on the lab Gateway (TLS passthrough). The healthy cluster passes the TCP, passthrough and Kafka checks
broker by broker; each fail case is made by changing the lab for real and put back."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from ingresscheck import runner
from ingresscheck.discovery.kube import discover
from ingresscheck.kube import connect
from ingresscheck.probes import registry
from ingresscheck.profile import load
from ingresscheck.results import Report, Result, Status
from ingresscheck_lab import kafka
from ingresscheck_lab.lab import Lab

from . import changes

Obj = dict[str, Any]
CHECKS = ("tcp", "passthrough", "kafka")


def check(lab: Lab) -> Report:
    profile = load(lab.layout.profile)
    inventory = discover(connect(lab.layout.kubeconfig, "lab"))
    return runner.run(runner.plan(registry(), [*CHECKS, "gateway"], None), profile, inventory, runner.RunOptions())


def ours(rep: Report) -> list[Result]:
    """The results about the Kafka cluster: the stream and Kafka checks, and the gateway checks of its namespace."""
    return [r for r in rep.results if r.probe in CHECKS or (r.probe == "gateway" and r.namespace == kafka.NAMESPACE)]


def bad(rep: Report) -> list[Result]:
    return [r for r in ours(rep) if r.status in (Status.FAIL, Status.ERROR)]


def converge(until: Callable[[Report], bool], lab: Lab, timeout: float = 40.0) -> Report:
    return changes.converge(lambda: check(lab), until, timeout=timeout)


def broker(rep: Report, check_id: str, node_id: int) -> list[Result]:
    return [r for r in rep.results if r.check == check_id and (r.evidence or {}).get("node_id") == node_id]


@contextmanager
def changed(lab: Lab, kind: str, name: str, edit: Callable[[Obj], None]) -> Iterator[None]:
    """Apply an edited copy of one of the Kafka lab's objects; apply the original again afterwards."""
    w = lab.writer()
    original = next(o for o in kafka.gateway_objects() if o["kind"] == kind and o["metadata"]["name"] == name)
    edited = copy.deepcopy(original)
    edit(edited)
    w.apply(edited, "ingresscheck-lab")
    try:
        yield
    finally:
        w.apply(original, "ingresscheck-lab")
        converge(lambda rep: not bad(rep), lab)


@pytest.fixture(scope="module")
def healthy(kafka_lab: Lab) -> Report:
    return converge(lambda rep: not bad(rep) and bool(broker(rep, "kafka.broker_route", 3)), kafka_lab)


def test_the_healthy_kafka_lab_passes_the_tcp_passthrough_and_kafka_checks_broker_by_broker(healthy: Report) -> None:
    # Given the 3-broker cluster behind one TLSRoute each, When everything is checked
    assert bad(healthy) == []
    # Then every broker is advertised under an exposed name and reached by its own route
    for n in kafka.BROKERS:
        assert [r.status for r in broker(healthy, "kafka.advertised", n)] == [Status.PASS]
        assert [r.status for r in broker(healthy, "kafka.broker_route", n)] == [Status.PASS]
    assert [r.status for r in healthy.results if r.check == "kafka.bootstrap"] == [Status.PASS]
    passthrough = [r for r in healthy.results if r.check == "tls.passthrough"]
    assert len(passthrough) == len(kafka.BROKERS) + 1 and {r.status for r in passthrough} == {Status.PASS}
    assert [r.status for r in healthy.results if r.check == "tcp.connect"] == [Status.PASS]


def test_a_broker_without_a_route_fails_naming_the_broker_and_its_advertised_address(kafka_lab: Lab) -> None:
    # Given broker 2's TLSRoute removed
    w = kafka_lab.writer()
    route = next(o for o in kafka.gateway_objects() if o["kind"] == "TLSRoute" and o["metadata"]["name"] == "b2")
    w.delete(route)
    try:
        rep = converge(
            lambda rep: any(r.status is Status.FAIL for r in broker(rep, "kafka.broker_route", 2)), kafka_lab
        )
        # Then broker 2 fails both checks, named with its advertised address; the others pass
        (adv,) = broker(rep, "kafka.advertised", 2)
        assert adv.status is Status.FAIL and "no TLSRoute or TCPRoute publishes" in adv.message
        assert f"broker 2 ({kafka.broker_host(2)}:{kafka.PORT})" in adv.message
        assert [r.status for r in broker(rep, "kafka.broker_route", 1)] == [Status.PASS]
    finally:
        w.apply(route, "ingresscheck-lab")
        converge(lambda rep: not bad(rep), kafka_lab)


def test_a_tls_route_whose_sni_leads_to_another_broker_fails_naming_both(kafka_lab: Lab) -> None:
    # Given b2.kafka.gw.test routed to broker 3's Service
    def to_b3(route: Obj) -> None:
        route["spec"]["rules"][0]["backendRefs"][0]["name"] = "b3"

    with changed(kafka_lab, "TLSRoute", "b2", to_b3):
        rep = converge(
            lambda rep: any(r.status is Status.FAIL for r in broker(rep, "kafka.broker_route", 2)), kafka_lab
        )
        (route,) = broker(rep, "kafka.broker_route", 2)
        # Then the broker route names the broker reached and the one advertised
        assert "reaches broker 3, not broker 2" in route.message and kafka.broker_host(2) in route.message
        assert [r.status for r in broker(rep, "kafka.broker_route", 3)] == [Status.PASS]
        # and tls.passthrough fails: the certificate answering b2's SNI is broker 3's, which does not cover it
        (pt,) = [r for r in rep.results if r.check == "tls.passthrough" and r.name == "b2"]
        assert pt.status is Status.FAIL and "does not cover" in pt.message


def _topics() -> set[str]:
    """Every topic of the lab cluster, asked of broker 1's internal listener (not through the routes)."""
    import socket
    import struct

    from kafka.protocol.metadata import MetadataRequest, MetadataResponse

    request = MetadataRequest[12](
        topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False
    )
    request.with_header(correlation_id=7, client_id="test")
    payload = bytes(request.encode(header=True))
    with socket.create_connection((kafka.broker_ip(1), kafka.INTERNAL_PORT), timeout=10) as s:
        s.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
        answer = s.recv(size, socket.MSG_WAITALL)
    return {t.name for t in MetadataResponse.decode(answer, version=12, header=True).topics}


def _run(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ingresscheck",
            "run",
            "--profile",
            str(lab.layout.profile),
            "--probes",
            "kafka_roundtrip",
            "--no-progress",
            "-o",
            "json",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_round_trip_produces_and_consumes_one_record_and_leaves_no_topic(kafka_lab: Lab) -> None:
    # Given the healthy cluster, When the round trip runs with --allow-mutations
    done = _run(kafka_lab, "--allow-mutations")
    assert done.returncode == 0, done.stderr
    results = {r["check"]: r for r in json.loads(done.stdout)["results"]}
    # Then the record came back from the leader, the subject is the stable bootstrap, the nonce is evidence
    trip = results["kafka.roundtrip"]
    assert trip["status"] == "pass" and "consumed" in trip["message"], trip
    assert trip["subject"] == f"Kafka {kafka.BOOTSTRAP}:{kafka.PORT}"
    topic = trip["evidence"]["topic"]
    assert topic.startswith("ingresscheck-canary-") and topic not in trip["subject"]
    # and the topic is gone
    assert results["kafka.roundtrip.cleanup"]["status"] == "pass"
    assert not [t for t in _topics() if t.startswith("ingresscheck-canary-")]


def test_without_allow_mutations_the_round_trip_is_skipped_saying_why(kafka_lab: Lab) -> None:
    # Given no --allow-mutations, When only the round trip is asked for
    done = _run(kafka_lab)
    # Then nothing is checked (exit 2), the skip names the flag, and no topic was made
    assert done.returncode == 2 and "--allow-mutations" in done.stderr, done.stderr
    assert not [t for t in _topics() if t.startswith("ingresscheck-canary-")]


def test_lab_build_with_kafka_fetches_the_jars_into_the_cache(kafka_lab: Lab) -> None:
    # Given the lab's cache, When `lab build --with kafka` runs (the jars cached: no fetch again)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ingresscheck",
            "lab",
            "--lab-dir",
            str(kafka_lab.layout.root),
            "build",
            "--with",
            "kafka",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "INGRESSCHECK_CACHE": str(kafka_lab.layout.cache)},
    )
    # Then it names the jar folder, which holds Kafka's jars
    assert done.returncode == 0, done.stderr
    assert f"kafka-jars      {kafka.lib_dir(kafka_lab.layout)}" in done.stdout
    assert any(kafka.lib_dir(kafka_lab.layout).glob(f"kafka_2.13-{kafka.KAFKA_VERSION}.jar"))


def test_a_broker_advertising_its_internal_address_fails_naming_the_broker_and_that_address(kafka_lab: Lab) -> None:
    # Given broker 2 restarted advertising its internal TLS listener (127.0.0.62:9093) instead of its name
    internal = f"{kafka.broker_ip(2)}:{kafka.EXTERNAL_PORT}"
    kafka.restart_broker(kafka_lab, 2, external=internal)
    try:
        rep = converge(lambda rep: any(r.status is Status.FAIL for r in broker(rep, "kafka.advertised", 2)), kafka_lab)
        # Then kafka.advertised fails for broker 2, naming it and the internal address; the others pass
        (adv,) = broker(rep, "kafka.advertised", 2)
        assert f"broker 2 ({internal})" in adv.message and "not an exposed address" in adv.message, adv.message
        assert [r.status for r in broker(rep, "kafka.advertised", 1)] == [Status.PASS]
    finally:
        kafka.restart_broker(kafka_lab, 2)
        converge(lambda rep: not bad(rep) and bool(broker(rep, "kafka.broker_route", 2)), kafka_lab, timeout=90)


def test_a_listener_in_terminate_mode_fails_tls_passthrough_with_the_gateways_certificate(kafka_lab: Lab) -> None:
    # Given the Kafka listener terminating TLS with the Gateway's own wildcard certificate instead of passing it
    import base64

    from ingresscheck_lab import pki

    pair = pki.load_pair(kafka_lab.layout.pki, "wildcard-gw-test")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "kafka-gateway-tls", "namespace": kafka.NAMESPACE},
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": base64.b64encode(pair.cert_pem).decode(),
            "tls.key": base64.b64encode(pair.key_pem).decode(),
        },
    }
    w = kafka_lab.writer()
    w.apply(secret, "ingresscheck-lab")

    def terminate(gateway: Obj) -> None:
        gateway["spec"]["listeners"][0]["tls"] = {
            "mode": "Terminate",
            "certificateRefs": [{"kind": "Secret", "name": "kafka-gateway-tls"}],
        }

    try:
        with changed(kafka_lab, "Gateway", kafka.GATEWAY, terminate):
            rep = converge(
                lambda rep: any(r.check == "tls.passthrough" and r.status is Status.FAIL for r in rep.results),
                kafka_lab,
            )
            # Then tls.passthrough fails for the brokers' names: the SNI reaches the Gateway's certificate
            failed = [r for r in rep.results if r.check == "tls.passthrough" and r.status is Status.FAIL]
            names = {r.name for r in failed}
            assert "b2" in names, [r.message for r in failed]
            (b2,) = [r for r in failed if r.name == "b2"]
            assert "terminates TLS (mode Terminate)" in b2.message and "serves TLS itself" in b2.message, b2.message
            assert f"SNI {kafka.broker_host(2)} gets the Gateway's certificate" in b2.message
    finally:
        w.delete(secret)
