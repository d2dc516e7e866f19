"""TCP services from outside (issue 25): TLSRoute/TCPRoute/ssl-passthrough discovery, tcp.connect,
tls.passthrough and the Kafka checks against small real servers (real sockets, real TLS via trustme, Kafka's
wire format from kafka-python's protocol classes)."""

from __future__ import annotations

import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import trustme
from kafka.protocol.admin import DescribeConfigsRequest, DescribeConfigsResponse
from kafka.protocol.metadata import ApiVersionsResponse, MetadataResponse

from ingresscheck.discovery import Inventory
from ingresscheck.profile import KafkaTarget, Profile, Resolve, Thresholds
from ingresscheck.results import Status

from .helpers import by_check, run_probes

Obj = dict[str, Any]
GW_IP = "127.0.0.1"


def _gateway(port: int, mode: str = "Passthrough", address: str = GW_IP) -> Obj:
    return {
        "metadata": {"namespace": "kafka", "name": "gw"},
        "spec": {
            "gatewayClassName": "c",
            "listeners": [
                {
                    "name": "kafka",
                    "protocol": "TLS",
                    "port": port,
                    "hostname": "*.kafka.test",
                    "tls": {"mode": mode},
                    "allowedRoutes": {"namespaces": {"from": "Same"}},
                },
                {"name": "https", "protocol": "HTTPS", "port": 8443},
            ],
        },
        "status": {"addresses": [{"value": address}]},
    }


def _tls_route(name: str, host: str, service: str, labels: dict[str, str] | None = None) -> Obj:
    return {
        "metadata": {"namespace": "kafka", "name": name, "labels": labels or {}},
        "spec": {
            "parentRefs": [{"name": "gw", "sectionName": "kafka"}],
            "hostnames": [host],
            "rules": [{"backendRefs": [{"name": service, "port": 9093}]}],
        },
    }


def _service(name: str, address: str, port: int) -> tuple[Obj, Obj]:
    svc = {"metadata": {"namespace": "kafka", "name": name}, "spec": {"ports": [{"name": "tls", "port": 9093}]}}
    eps = {
        "metadata": {"namespace": "kafka", "name": name, "labels": {"kubernetes.io/service-name": name}},
        "addressType": "FQDN",
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        "ports": [{"name": "tls", "port": port}],
    }
    return svc, eps


# --- discovery ---------------------------------------------------------------------------------------
def test_a_tls_route_on_a_passthrough_listener_is_a_stream_target_with_its_sni_and_the_gateway_address() -> None:
    # Given a TLS listener in Passthrough mode and a TLSRoute for one broker name on it
    inv = Inventory("unit", "local", gateways=[_gateway(9094)], tls_routes=[_tls_route("b0", "b0.kafka.test", "b0")])
    # When the stream targets are derived
    (t,) = inv.stream_targets
    # Then the target is the broker name on the listener's port, passthrough, at the Gateway's address
    assert (t.kind, t.sni, t.port, t.mode, t.addresses) == ("TLSRoute", "b0.kafka.test", 9094, "Passthrough", (GW_IP,))
    assert [b.service for b in t.backends] == ["b0"]


def test_a_tls_route_on_an_https_listener_attaches_nowhere() -> None:
    # Given a TLSRoute whose parentRef names the HTTPS listener
    route = _tls_route("b0", "b0.kafka.test", "b0")
    route["spec"]["parentRefs"] = [{"name": "gw", "sectionName": "https"}]
    inv = Inventory("unit", "local", gateways=[_gateway(9094)], tls_routes=[route])
    # Then it yields no target and gateway.route_attached fails naming the protocol
    assert inv.stream_targets == []
    report = run_probes(["gateway"], Profile(), [], gateways=inv.gateways, tls_routes=inv.tls_routes)
    attached = by_check(report, "gateway.route_attached")
    assert [r.status for r in attached] == [Status.FAIL]
    assert "TLSRoutes do not attach" in attached[0].message


def test_tcp_routes_and_ssl_passthrough_ingresses_are_stream_targets() -> None:
    gw = _gateway(9094)
    gw["spec"]["listeners"].append({"name": "raw", "protocol": "TCP", "port": 9095})
    tcp = {
        "metadata": {"namespace": "kafka", "name": "raw"},
        "spec": {"parentRefs": [{"name": "gw", "sectionName": "raw"}], "rules": [{"backendRefs": [{"name": "x"}]}]},
    }
    ing = {
        "metadata": {
            "namespace": "kafka",
            "name": "pt",
            "annotations": {"nginx.ingress.kubernetes.io/ssl-passthrough": "true"},
        },
        "spec": {"rules": [{"host": "pt.kafka.test"}]},
    }
    inv = Inventory("unit", "local", ingresses=[ing], gateways=[gw], tcp_routes=[tcp])
    kinds = sorted((t.kind, t.sni, t.port) for t in inv.stream_targets)
    assert kinds == [("Ingress", "pt.kafka.test", 443), ("TCPRoute", None, 9095)]


# --- real servers ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@contextmanager
def tls_server(ca: trustme.CA, names: tuple[str, ...], answer: Any = None) -> Iterator[int]:
    """A TLS server on 127.0.0.1 with a certificate for ``names``; ``answer(frame) -> bytes`` speaks a framed
    protocol (Kafka's) after the handshake, else the connection is closed after it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*names).configure_cert(context)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(5)
                while answer is not None:
                    head = tls.recv(4)
                    if len(head) < 4:
                        return
                    size = struct.unpack(">i", head)[0]
                    body = b""
                    while len(body) < size:
                        chunk = tls.recv(size - len(body))
                        if not chunk:
                            return
                        body += chunk
                    out = answer(body)
                    tls.sendall(struct.pack(">i", len(out)) + out)
        except (OSError, ssl.SSLError):
            return

    listener.settimeout(0.2)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        thread.join(2)


def kafka_broker(node_id: int, advertised: list[tuple[int, str, int]]) -> Any:
    """Answers ApiVersions, Metadata (the ``advertised`` brokers) and DescribeConfigs (its own node.id)."""

    def answer(frame: bytes) -> bytes:
        api_key, version, correlation = struct.unpack(">hhi", frame[:8])
        message: Any
        if api_key == 18:
            message = ApiVersionsResponse[version](
                error_code=0,
                api_keys=[ApiVersionsResponse.ApiVersion(api_key=k, min_version=0, max_version=12) for k in (3, 18)],
                throttle_time_ms=0,
            )
        elif api_key == 3:
            message = MetadataResponse[version](
                throttle_time_ms=0,
                brokers=[
                    MetadataResponse.MetadataResponseBroker(node_id=n, host=h, port=p, rack=None)
                    for n, h, p in advertised
                ],
                cluster_id="unit-cluster",
                controller_id=advertised[0][0],
                topics=[],
            )
        else:
            asked = DescribeConfigsRequest.decode(frame, version=version, header=True).resources[0].resource_name
            result = DescribeConfigsResponse.DescribeConfigsResult
            mine = asked in ("", str(node_id))
            message = DescribeConfigsResponse[version](
                throttle_time_ms=0,
                results=[
                    result(
                        error_code=0 if mine else 42,
                        error_message=None if mine else f"Unexpected broker id, expected {node_id} or empty string",
                        resource_type=4,
                        resource_name=asked,
                        configs=[]
                        if not mine
                        else [
                            result.DescribeConfigsResourceResult(
                                name="node.id",
                                value=str(node_id),
                                read_only=True,
                                config_source=4,
                                is_sensitive=False,
                                synonyms=[],
                                config_type=3,
                                documentation=None,
                            )
                        ],
                    )
                ],
            )
        message.with_header(correlation_id=correlation)
        return bytes(message.encode(header=True))

    return answer


def _profile(ca: trustme.CA, tmp_path: Path, resolve: list[Resolve], **kw: Any) -> Profile:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return Profile(ca_bundle=str(bundle), resolve=tuple(resolve), thresholds=Thresholds(timeout=2), **kw)


def test_tcp_connect_passes_where_the_gateway_listens_and_fails_on_a_refused_port(
    ca: trustme.CA, tmp_path: Path
) -> None:
    with tls_server(ca, ("b0.kafka.test",)) as port:
        gw = _gateway(port)
        report = run_probes(["tcp"], Profile(), [], gateways=[gw], tls_routes=[_tls_route("b0", "b0.kafka.test", "b0")])
        (ok,) = by_check(report, "tcp.connect")
        assert ok.status is Status.PASS and ok.subject == f"127.0.0.1:{port}"
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    free = closed.getsockname()[1]
    closed.close()
    report = run_probes(
        ["tcp"], Profile(), [], gateways=[_gateway(free)], tls_routes=[_tls_route("b0", "b0.kafka.test", "b0")]
    )
    (bad,) = by_check(report, "tcp.connect")
    assert bad.status is Status.FAIL and "refused" in bad.message and "TLSRoute kafka/b0" in bad.message


def test_tls_passthrough_passes_on_the_backends_own_certificate_and_fails_on_a_certificate_for_another_name(
    ca: trustme.CA, tmp_path: Path
) -> None:
    # Given broker 0's TLS endpoint, and a published address that serves broker 0 (then broker 1's certificate)
    with tls_server(ca, ("b0.kafka.test",)) as b0, tls_server(ca, ("b1.kafka.test",)) as b1:
        svc, eps = _service("b0", "127.0.0.1", b0)
        for published, expected in ((b0, Status.PASS), (b1, Status.FAIL)):
            profile = _profile(ca, tmp_path, [Resolve("b0.kafka.test", published, ("127.0.0.1",))])
            report = run_probes(
                ["passthrough"],
                profile,
                [],
                gateways=[_gateway(published)],
                tls_routes=[_tls_route("b0", "b0.kafka.test", "b0")],
                services=[svc],
                endpoint_slices=[eps],
            )
            (r,) = by_check(report, "tls.passthrough")
            # Then the own certificate passes; another backend's fails, naming both certificates
            assert r.status is expected, r.message
            if expected is Status.FAIL:
                assert "does not cover b0.kafka.test" in r.message and "b1.kafka.test" in str(r.evidence["served"])


def test_kafka_checks_pass_broker_by_broker_and_fail_an_internal_advertised_address(
    ca: trustme.CA, tmp_path: Path
) -> None:
    # Given two brokers behind TLS (one port each, their names resolved to 127.0.0.1 by --resolve)
    with tls_server(ca, ("b0.kafka.test", "bootstrap.kafka.test"), None) as p0:
        pass  # a port that is free again: the advertised internal address below (refused)
    internal = p0
    ports: dict[int, int] = {}
    with (
        tls_server(ca, ("b1.kafka.test",), kafka_broker(1, [])) as p1,
        tls_server(ca, ("b2.kafka.test",), kafka_broker(2, [])) as p2,
    ):
        ports = {1: p1, 2: p2}

        def advertised(bad: bool) -> list[tuple[int, str, int]]:
            return [(1, "b1.kafka.test", p1), (2, "127.0.0.2" if bad else "b2.kafka.test", internal if bad else p2)]

        for bad in (False, True):
            broker = kafka_broker(1, advertised(bad))
            with tls_server(ca, ("bootstrap.kafka.test",), broker) as boot:
                resolve = [
                    Resolve("bootstrap.kafka.test", boot, ("127.0.0.1",)),
                    Resolve("b1.kafka.test", ports[1], ("127.0.0.1",)),
                    Resolve("b2.kafka.test", ports[2], ("127.0.0.1",)),
                ]
                profile = _profile(ca, tmp_path, resolve, kafka=(KafkaTarget("bootstrap.kafka.test", boot, True, 2),))
                report = run_probes(["kafka"], profile, [])
                statuses = {(r.check, r.subject): r for r in report.results if r.check.startswith("kafka.")}
                boot_result = [r for (c, _), r in statuses.items() if c == "kafka.bootstrap"]
                assert [r.status for r in boot_result] == [Status.PASS]
                adv = {r.evidence["node_id"]: r for (c, _), r in statuses.items() if c == "kafka.advertised"}
                route = {r.evidence["node_id"]: r for (c, _), r in statuses.items() if c == "kafka.broker_route"}
                assert adv[1].status is Status.PASS and route[1].status is Status.PASS
                if not bad:
                    assert adv[2].status is Status.PASS and route[2].status is Status.PASS, route[2].message
                else:
                    # Then broker 2 fails, named with the address it advertises
                    assert adv[2].status is Status.FAIL
                    assert "broker 2" in adv[2].message and f"127.0.0.2:{internal}" in adv[2].message


def test_a_broker_name_routed_to_another_broker_fails_naming_both(ca: trustme.CA, tmp_path: Path) -> None:
    # Given b2.kafka.test's route leading to broker 1
    with tls_server(ca, ("b1.kafka.test", "b2.kafka.test"), kafka_broker(1, [])) as p1:
        adv = [(1, "b1.kafka.test", p1), (2, "b2.kafka.test", p1)]
        with tls_server(ca, ("bootstrap.kafka.test",), kafka_broker(1, adv)) as boot:
            resolve = [Resolve(h, p, ("127.0.0.1",)) for h, p in (("bootstrap.kafka.test", boot), ("*", p1))]
            profile = _profile(ca, tmp_path, resolve, kafka=(KafkaTarget("bootstrap.kafka.test", boot, True, None),))
            report = run_probes(["kafka"], profile, [])
    route = {r.evidence["node_id"]: r for r in by_check(report, "kafka.broker_route")}
    assert route[1].status is Status.PASS
    assert route[2].status is Status.FAIL and "reaches broker 1, not broker 2" in route[2].message
    assert "b2.kafka.test" in route[2].message


def test_no_kafka_target_reports_no_kafka_result() -> None:
    report = run_probes(["kafka"], Profile(), [])
    assert [r for r in report.results if r.check.startswith("kafka.")] == []
