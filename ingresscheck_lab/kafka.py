"""`lab up --with kafka`: a real Apache Kafka 4.x cluster (KRaft, 3 brokers) exposed broker by broker.

```
client ─DNS─▶ dnsmasq: bootstrap.kafka.gw.test, b1..b3.kafka.gw.test ─▶ VIP 127.0.0.10
  └─TLS (SNI = the broker's name)─▶ HAProxy VIP:9094 (tcp) ─▶ Traefik nodes :9094 (entry point "kafka")
        └─ Gateway kafka/kafka-gateway, listener TLS 9094 *.kafka.gw.test, mode Passthrough
             └─ TLSRoute per broker (hostname b<N>.kafka.gw.test ─▶ Service kafka/b<N>) and one for bootstrap
                  └─ broker N on 127.0.0.6N: EXTERNAL SSL :9093 (its own certificate, lab ingress CA),
                     INTERNAL PLAINTEXT :9092 (between brokers), CONTROLLER :9097 (KRaft quorum of the three)
```

Each broker advertises ``EXTERNAL://b<N>.kafka.gw.test:9094``: the names outside clients use. The jars come
from Maven Central once (``mvn dependency:copy-dependencies`` into ``.cache/kafka/<version>``, about 46 jars);
each JVM is bounded (``-Xmx256m``). The heavy part runs only when asked for: the default lab has none of it.
Processes are recorded like the others, so ``lab down`` stops them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingresscheck.errors import LabError

from . import objects, pki, processes
from .layout import GW_DOMAIN, LabLayout

if TYPE_CHECKING:
    from .lab import Lab

KAFKA_VERSION = "4.3.1"
SLF4J_BINDING = ("org.slf4j", "slf4j-simple", "1.7.36")  # Kafka logs through slf4j 1.7: a binding, or nothing
NAMESPACE = "kafka"
GATEWAY = "kafka-gateway"
DOMAIN = f"kafka.{GW_DOMAIN}"
BOOTSTRAP = f"bootstrap.{DOMAIN}"
BROKERS = (1, 2, 3)
PORT = 9094  # the Gateway listener, Traefik's "kafka" entry point and the LB's TCP frontend
EXTERNAL_PORT = 9093
INTERNAL_PORT = 9092
CONTROLLER_PORT = 9097
HEAP = "-Xmx256m"

Obj = dict[str, Any]


def broker_ip(node_id: int) -> str:
    return f"127.0.0.{60 + node_id}"


def broker_host(node_id: int) -> str:
    return f"b{node_id}.{DOMAIN}"


def process_name(node_id: int) -> str:
    return f"kafka-{node_id}"


def lib_dir(layout: LabLayout) -> Path:
    return layout.cache / "kafka" / KAFKA_VERSION / "libs"


_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ingresscheck.lab</groupId><artifactId>kafka-lab</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{v}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-server</artifactId><version>{v}</version></dependency>
    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{b}</version></dependency>
  </dependencies>
</project>
"""


def ensure_jars(layout: LabLayout, say: Any) -> Path:
    """The cached folder of Kafka's jars, fetched once per version from Maven Central with mvn."""
    target = lib_dir(layout)
    if target.is_dir() and any(target.glob("kafka_2.13-*.jar")):
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LabError("kafka", "mvn is not installed (Debian package maven): it fetches the Kafka jars once")
    work = target.parent
    work.mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_text(
        _POM.format(v=KAFKA_VERSION, g=SLF4J_BINDING[0], a=SLF4J_BINDING[1], b=SLF4J_BINDING[2])
    )
    tmp = work / "libs.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    say(f"lab: fetching Apache Kafka {KAFKA_VERSION} jars with mvn (once; cached in {target})")
    started = time.monotonic()
    done = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            f"-Dmaven.repo.local={work / 'm2'}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["(no output)"]
        raise LabError("kafka", f"mvn could not fetch the Kafka jars: {last[0]}")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    say(f"lab: {len(list(target.glob('*.jar')))} Kafka jars fetched in {time.monotonic() - started:.0f} s")
    return target


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise LabError("kafka", "java is not installed (Kafka 4.x needs Java 17 or later)")
    return java


def broker_properties(layout: LabLayout, node_id: int, data: Path, keystore: Path, external: str | None = None) -> str:
    """``external``: the EXTERNAL listener's advertised host:port (default: its name on the Gateway; a fail
    case advertises the broker's internal address instead)."""
    ip = broker_ip(node_id)
    external = external or f"{broker_host(node_id)}:{PORT}"
    voters = ",".join(f"{n}@{broker_ip(n)}:{CONTROLLER_PORT}" for n in BROKERS)
    lines = [
        "# Rendered by ingresscheck lab --with kafka",
        "process.roles=broker,controller",
        f"node.id={node_id}",
        f"controller.quorum.voters={voters}",
        f"listeners=INTERNAL://{ip}:{INTERNAL_PORT},EXTERNAL://{ip}:{EXTERNAL_PORT},CONTROLLER://{ip}:{CONTROLLER_PORT}",
        f"advertised.listeners=INTERNAL://{ip}:{INTERNAL_PORT},EXTERNAL://{external}",
        "listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:SSL,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name=INTERNAL",
        "controller.listener.names=CONTROLLER",
        f"log.dirs={data}",
        "num.partitions=1",
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "auto.create.topics.enable=false",
        "group.initial.rebalance.delay.ms=0",
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={keystore}",
        "ssl.client.auth=none",
    ]
    return "\n".join(lines) + "\n"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def running(layout: LabLayout) -> bool:
    return all((r := processes.find(layout, process_name(n))) is not None and processes.alive(r) for n in BROKERS)


def start(lab: Lab) -> None:
    """Start the three brokers (if not running) and publish them through the lab Gateway."""
    L = lab.layout
    if running(L):
        lab.say("lab: kafka is already running")
        publish(lab)
        return
    jars = ensure_jars(L, lab.say)
    java = _java()
    classpath = f"{jars}/*"
    root = L.root / "kafka"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    ca = pki.load_pair(L.pki, "ingress-ca")
    cluster_id = _random_uuid()
    for n in BROKERS:
        node = root / f"broker-{n}"
        node.mkdir()
        issued = pki.issue(ca, broker_host(n), dns_names=(broker_host(n), BOOTSTRAP))
        keystore = node / "keystore.pem"
        pki.write_private(keystore, issued.key_pem + issued.cert_pem)
        conf = node / "server.properties"
        conf.write_text(broker_properties(L, n, node / "data", keystore))
        fmt = subprocess.run(
            [java, HEAP, "-cp", classpath, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(conf)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if fmt.returncode != 0:
            raise LabError(
                "kafka", f"formatting broker {n}'s storage failed: {(fmt.stderr or fmt.stdout).strip()[-300:]}"
            )
    for n in BROKERS:
        lab.say(f"lab: starting kafka broker {n} on {broker_ip(n)} (advertises {broker_host(n)}:{PORT})")
        _start_broker(L, n, java, classpath)
    deadline = time.monotonic() + 120
    for n in BROKERS:
        _wait_broker(L, n, deadline)
    publish(lab)


def _start_broker(L: LabLayout, n: int, java: str, classpath: str) -> None:
    processes.start(
        L,
        processes.Spec(
            process_name(n),
            [
                java,
                HEAP,
                "-Xms64m",
                "-XX:+UseSerialGC",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(L.root / "kafka" / f"broker-{n}" / "server.properties"),
            ],
            listens=((broker_ip(n), INTERNAL_PORT), (broker_ip(n), EXTERNAL_PORT), (broker_ip(n), CONTROLLER_PORT)),
        ),
    )


def _wait_broker(L: LabLayout, n: int, deadline: float) -> None:
    r = processes.find(L, process_name(n))
    assert r is not None
    processes.wait_ready(
        r,
        partial(_port_open, broker_ip(n), EXTERNAL_PORT),
        max(1.0, deadline - time.monotonic()),
        f"broker {n} TLS listener",
    )


def restart_broker(lab: Lab, n: int, external: str | None = None) -> None:
    """Restart broker ``n`` advertising ``external`` (host:port) on its EXTERNAL listener, or its Gateway
    name when None: advertised.listeners is read-only at runtime (Kafka refuses a dynamic update), so a
    changed advertised address needs a restart. Its data and certificate stay."""
    L = lab.layout
    node = L.root / "kafka" / f"broker-{n}"
    r = processes.find(L, process_name(n))
    if r is not None:
        processes.stop(L, r)
    conf = node / "server.properties"
    conf.write_text(broker_properties(L, n, node / "data", node / "keystore.pem", external))
    _start_broker(L, n, _java(), f"{lib_dir(L)}/*")
    _wait_broker(L, n, time.monotonic() + 120)


def _random_uuid() -> str:
    """A Kafka cluster id: URL-safe base64 of 16 random bytes, what StorageTool random-uuid prints."""
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def gateway_objects() -> list[Obj]:
    """The namespace, the Gateway with its TLS passthrough listener, one Service + TLSRoute per broker and the
    bootstrap route (labelled for ingresscheck's Kafka checks)."""
    out: list[Obj] = [objects.namespace(NAMESPACE)]
    out.append(
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": objects._meta(GATEWAY, NAMESPACE),
            "spec": {
                "gatewayClassName": objects.GATEWAY_CLASS,
                "listeners": [
                    {
                        "name": "kafka",
                        "protocol": "TLS",
                        "port": PORT,
                        "hostname": f"*.{DOMAIN}",
                        "tls": {"mode": "Passthrough"},
                        "allowedRoutes": {"namespaces": {"from": "Same"}, "kinds": [{"kind": "TLSRoute"}]},
                    }
                ],
            },
        }
    )
    for n in BROKERS:
        out += broker_service(f"b{n}", [broker_ip(n)])
        out.append(tls_route(f"b{n}", broker_host(n), f"b{n}"))
    out += broker_service("bootstrap", [broker_ip(n) for n in BROKERS])
    route = tls_route("bootstrap", BOOTSTRAP, "bootstrap")
    route["metadata"]["labels"].update({"ingresscheck.io/kafka": "bootstrap", "ingresscheck.io/kafka-brokers": "3"})
    out.append(route)
    return out


def broker_service(name: str, ips: list[str]) -> list[Obj]:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": objects._meta(name, NAMESPACE),
        "spec": {"ports": [{"name": "tls", "port": EXTERNAL_PORT, "targetPort": EXTERNAL_PORT, "protocol": "TCP"}]},
    }
    eps = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": objects._meta(
            f"{name}-lab", NAMESPACE, labels={objects.LAB_LABEL: "true", "kubernetes.io/service-name": name}
        ),
        "addressType": "FQDN",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
        "ports": [{"name": "tls", "port": EXTERNAL_PORT, "protocol": "TCP"}],
    }
    return [svc, eps]


def tls_route(name: str, hostname: str, service: str) -> Obj:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "TLSRoute",
        "metadata": objects._meta(name, NAMESPACE),
        "spec": {
            "parentRefs": [
                {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": GATEWAY, "sectionName": "kafka"}
            ],
            "hostnames": [hostname],
            "rules": [{"backendRefs": [{"name": service, "port": EXTERNAL_PORT}]}],
        },
    }


def publish(lab: Lab) -> None:
    """Apply the Gateway objects, render the DNS records, and wait until a broker answers through the VIP."""
    w = lab.writer()
    for obj in gateway_objects():
        w.apply(obj, "ingresscheck-lab")
    lab.sync(quiet=True)
    wait_published(lab, [BOOTSTRAP, *(broker_host(n) for n in BROKERS)])
    lab.say(f"lab: kafka is up: bootstrap {BOOTSTRAP}:{PORT}, brokers {', '.join(broker_host(n) for n in BROKERS)}")


def wait_published(lab: Lab, hostnames: list[str], timeout: float = 60) -> None:
    """Until a TLS handshake with each SNI through the VIP returns that broker's certificate (Traefik polls)."""
    import ssl

    ctx = ssl.create_default_context(cafile=str(lab.layout.pki / "ingress-ca.crt"))
    deadline = time.monotonic() + timeout
    pending = list(hostnames)
    last = ""
    while pending:
        host = pending[0]
        try:
            with socket.create_connection((lab.layout.vip, PORT), timeout=2) as raw:
                with ctx.wrap_socket(raw, server_hostname=host):
                    pending.pop(0)
                    continue
        except (OSError, ssl.SSLError) as exc:
            last = f"{host}: {exc}"
        if time.monotonic() > deadline:
            raise LabError("kafka", f"not published through {lab.layout.vip}:{PORT} after {timeout:g} s ({last})")
        time.sleep(0.3)


def remove(lab: Lab) -> None:
    """Delete the Kafka Gateway objects (the brokers stop with `lab down`)."""
    w = lab.writer()
    for obj in reversed(gateway_objects()[1:]):
        w.delete(obj)


def stop(lab: Lab, *, remove_objects: bool = True) -> None:
    """Stop the brokers by PID (and remove their Gateway objects and DNS records)."""
    if remove_objects:
        with contextlib.suppress(Exception):  # a lab already half down: the processes still go
            remove(lab)
            lab.sync(quiet=True)
    for n in BROKERS:
        r = processes.find(lab.layout, process_name(n))
        if r is not None:
            processes.stop(lab.layout, r)
