"""Kafka from outside on the lab (issue 25): a real 3-broker Apache Kafka cluster, each broker behind its own
TLSRoute on the lab Gateway (TLS passthrough). The healthy cluster passes the TCP, passthrough and Kafka checks
broker by broker; each fail case is made by changing the lab for real and put back."""

from __future__ import annotations

import copy
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
