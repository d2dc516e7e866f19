"""deploy/kind/ checked without kind: every Kubernetes manifest of the recipe passes the lab's real
kube-apiserver in a server-side dry run (``?dryRun=All``: defaulting, validation and admission run,
nothing is stored), and the kind config, the workflow and the profile hold what they must.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from cryptography import x509
from kubernetes.client.exceptions import ApiException

from ingresscheck import kube
from ingresscheck.kube import Resources, resource_path
from ingresscheck.profile import load
from ingresscheck_lab import objects
from ingresscheck_lab.lab import Lab
from ingresscheck_lab.layout import LabLayout

Obj = dict[str, Any]

ROOT = Path(__file__).resolve().parents[2]
KIND = ROOT / "deploy" / "kind"
SAMPLE = KIND / "sample-app"
CONTROLLER = KIND / "controller"
SAMPLE_NS = "sample"
DEMO_PASSWORD = "ingresscheck-demo"  # the documented demo password of sample-app/20-wordpress.yaml

# Where the namespaced objects are dry-run: the lab has no `sample` namespace, and the apiserver
# refuses a dry-run create into a namespace that does not exist (NamespaceLifecycle: 404). Creating
# `sample` for real is no way out either: the lab runs no kube-controller-manager, so no namespace
# controller, and a deleted namespace would stay Terminating for good. So every namespaced object
# is dry-run into the lab's existing `demo` namespace instead.
DRY_RUN_NS = objects.DEMO_NS
# ...under a suffixed name: `demo` already holds a wordpress Service, a shop-tls Secret and so on,
# and a dry-run create of a taken name answers 409 AlreadyExists (after validation, but that
# would be a murky pass). The suffix keeps every name valid for its kind.
DRY_RUN_SUFFIX = "-kind-dry-run"

# Kinds the recipe uses that ingresscheck.kube's table does not know: kind -> (prefix, plural, namespaced).
_EXTRA_KINDS: dict[str, tuple[str, str, bool]] = {
    "Deployment": ("/apis/apps/v1", "deployments", True),
}


def _documents(path: Path) -> list[Obj]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _manifest_files() -> list[Path]:
    return sorted(SAMPLE.glob("*.yaml")) + sorted(CONTROLLER.glob("*.yaml"))


def _manifests() -> list[tuple[str, Obj]]:
    out = []
    for path in _manifest_files():
        for obj in _documents(path):
            out.append((f"{path.relative_to(KIND)}:{obj.get('kind')}/{obj.get('metadata', {}).get('name')}", obj))
    return out


MANIFESTS = _manifests()


def _namespaced(obj: Obj) -> bool:
    kind = obj["kind"]
    table = {**kube._RESOURCES, **_EXTRA_KINDS}
    if kind not in table:
        raise AssertionError(f"{kind}: add its REST path to _EXTRA_KINDS in this test")
    return table[kind][2]


def _path(obj: Obj, *, named: bool) -> str:
    """The REST path of obj (named) or of its collection, like ingresscheck.kube.resource_path."""
    kind = obj["kind"]
    if kind in kube._RESOURCES:
        return resource_path(obj, named=named)
    prefix, plural, namespaced = _EXTRA_KINDS[kind]
    assert obj["apiVersion"] == prefix.removeprefix("/apis/"), f"{kind} is served as {prefix}, not {obj['apiVersion']}"
    meta = obj["metadata"]
    path = prefix + (f"/namespaces/{meta.get('namespace') or 'default'}" if namespaced else "") + f"/{plural}"
    return path + (f"/{meta['name']}" if named else "")


def dry_run_create(res: Resources, obj: Obj) -> Obj:
    """POST obj with dryRun=All, rejecting unknown or duplicate fields (fieldValidation=Strict)."""
    query = urlencode({"dryRun": "All", "fieldValidation": "Strict"})
    return res._call("POST", f"{_path(obj, named=False)}?{query}", obj)


def _for_dry_run(obj: Obj) -> Obj:
    moved = copy.deepcopy(obj)
    moved["metadata"]["name"] += DRY_RUN_SUFFIX
    if _namespaced(moved):
        moved["metadata"]["namespace"] = DRY_RUN_NS
    return moved


@pytest.fixture(scope="module")
def writer(lab: Lab) -> Resources:
    return lab.writer()


def test_the_recipe_has_manifests() -> None:
    kinds = {obj["kind"] for _, obj in MANIFESTS}
    assert {"Namespace", "Deployment", "Service", "Secret", "Ingress"} <= kinds
    assert (SAMPLE / "shop-tls.yaml").is_file(), "run deploy/kind/make-demo-certs.py"


def test_sample_objects_live_in_the_sample_namespace() -> None:
    """Given sample-app/, then every namespaced object names the namespace that 00-namespace.yaml creates."""
    sample = [obj for path in sorted(SAMPLE.glob("*.yaml")) for obj in _documents(path)]
    namespaces = [o["metadata"]["name"] for o in sample if o["kind"] == "Namespace"]
    assert namespaces == [SAMPLE_NS]
    wrong = [
        f"{o['kind']}/{o['metadata']['name']}"
        for o in sample
        if _namespaced(o) and o["metadata"].get("namespace") != SAMPLE_NS
    ]
    assert not wrong, f"not in namespace {SAMPLE_NS}: {wrong}"


@pytest.mark.parametrize(
    "obj",
    [obj for _, obj in MANIFESTS if obj["kind"] == "Namespace"],
    ids=[i for i, obj in MANIFESTS if obj["kind"] == "Namespace"],
)
def test_namespace_passes_a_server_side_dry_run(writer: Resources, obj: Obj) -> None:
    """Given the Namespace, when dry-run created, then the apiserver accepts it and stores nothing."""
    sent = _for_dry_run(obj)
    got = dry_run_create(writer, sent)
    assert (got["kind"], got["metadata"]["name"]) == ("Namespace", sent["metadata"]["name"])
    assert writer.get(sent) is None


@pytest.mark.parametrize(
    "obj",
    [obj for _, obj in MANIFESTS if obj["kind"] != "Namespace"],
    ids=[i for i, obj in MANIFESTS if obj["kind"] != "Namespace"],
)
def test_object_passes_a_server_side_dry_run(writer: Resources, obj: Obj) -> None:
    """Given a manifest (moved to the lab's demo namespace), when dry-run created, then the apiserver
    accepts it as written (strict fields, full validation) and stores nothing."""
    sent = _for_dry_run(obj)
    try:
        got = dry_run_create(writer, sent)
    except ApiException as exc:
        pytest.fail(f"the apiserver refused {obj['kind']}/{obj['metadata']['name']}: HTTP {exc.status} {exc.body}")
    assert got["kind"] == obj["kind"]
    assert got["metadata"]["name"] == sent["metadata"]["name"]
    if _namespaced(sent):
        assert got["metadata"]["namespace"] == DRY_RUN_NS
    with pytest.raises(ApiException) as missing:
        writer._call("GET", _path(sent, named=True))
    assert missing.value.status == 404, "a dry run must not create the object"


def _ingress_shape(ing: Obj) -> Obj:
    spec = ing["spec"]
    rules = [
        (
            r["host"],
            [
                (p["path"], p["pathType"], p["backend"]["service"]["name"], p["backend"]["service"]["port"])
                for p in r["http"]["paths"]
            ],
        )
        for r in spec["rules"]
    ]
    tls = [(sorted(t["hosts"]), t["secretName"]) for t in spec.get("tls", [])]
    return {
        "class": spec.get("ingressClassName"),
        "rules": rules,
        "tls": tls,
        "annotations": ing["metadata"].get("annotations", {}),
    }


def test_sample_ingresses_have_the_lab_shapes(lab_layout: LabLayout) -> None:
    """Given the lab's demo Ingresses, then the sample has the same hosts, paths, backends, annotations, TLS."""
    lab_objs = objects.demo_objects(lab_layout, "admin:x", b"cert", b"key")
    lab = {o["metadata"]["name"]: _ingress_shape(o) for o in lab_objs if o["kind"] == "Ingress"}
    sample = {o["metadata"]["name"]: _ingress_shape(o) for _, o in MANIFESTS if o["kind"] == "Ingress"}
    assert sample == lab
    services = {o["metadata"]["name"]: o["spec"]["selector"] for _, o in MANIFESTS if o["kind"] == "Service"}
    pods = [o["spec"]["template"]["metadata"]["labels"] for _, o in MANIFESTS if o["kind"] == "Deployment"]
    backends = {p[2] for shape in sample.values() for _, paths in shape["rules"] for p in paths}
    assert backends <= set(services)
    # every Service selects the pods of a Deployment (api-v2 shares api's, as in the lab)
    assert all(any(sel.items() <= labels.items() for labels in pods) for sel in services.values())


def test_auth_secret_holds_the_documented_demo_password() -> None:
    """Given the wordpress basic-auth Secret, then its one htpasswd line verifies the demo password."""
    bcrypt = pytest.importorskip("bcrypt")
    secret = next(o for _, o in MANIFESTS if o["kind"] == "Secret" and o["metadata"]["name"] == "wordpress-basic-auth")
    lines = [ln for ln in secret["stringData"]["auth"].splitlines() if ln.strip()]
    assert len(lines) == 1
    user, _, hashed = lines[0].partition(":")
    assert user == objects.WORDPRESS_USER
    assert bcrypt.checkpw(DEMO_PASSWORD.encode(), hashed.replace("$2y$", "$2b$", 1).encode())


def test_demo_certificates_chain_to_the_profile_ca() -> None:
    """Given demo-ca.crt, then the shop and wildcard certificates are issued by it, name their host, and
    are not about to expire."""
    ca = x509.load_pem_x509_certificate((KIND / "demo-ca.crt").read_bytes())
    expected = {"shop-tls": "shop.apps.test", "example-test-wildcard": "*.example.test"}
    secrets = {
        o["metadata"]["name"]: o for _, o in MANIFESTS if o["kind"] == "Secret" and o.get("type") == "kubernetes.io/tls"
    }
    assert set(secrets) == set(expected)
    for name, host in expected.items():
        cert = x509.load_pem_x509_certificate(base64.b64decode(secrets[name]["data"]["tls.crt"]))
        cert.verify_directly_issued_by(ca)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.DNSName) == [host]
        left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
        assert left > dt.timedelta(days=30), f"{name} expires soon: rerun deploy/kind/make-demo-certs.py"


def test_kind_config_is_the_standard_ingress_setup() -> None:
    doc = yaml.safe_load((KIND / "kind-config.yaml").read_text())
    assert set(doc) >= {"kind", "apiVersion", "nodes"}
    assert (doc["kind"], doc["apiVersion"]) == ("Cluster", "kind.x-k8s.io/v1alpha4")
    [node] = doc["nodes"]
    assert node["role"] == "control-plane"
    assert node["labels"] == {"ingress-ready": "true"}
    assert node["image"].startswith("kindest/node:v1.35.")
    ports = {(m["containerPort"], m["hostPort"], m.get("protocol", "TCP")) for m in node["extraPortMappings"]}
    assert ports == {(80, 80, "TCP"), (443, 443, "TCP")}


def test_workflow_has_the_ci_steps() -> None:
    doc = yaml.safe_load((KIND / "github-actions.yml").read_text())
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert set(doc) >= {"name", "jobs"} and on is not None
    [job] = doc["jobs"].values()
    steps = job["steps"]
    uses = [s["uses"] for s in steps if "uses" in s]
    runs = "\n".join(s.get("run", "") for s in steps)
    for action in ("actions/checkout@v", "actions/setup-python@v", "helm/kind-action@v", "actions/upload-artifact@v"):
        assert any(u.startswith(action) for u in uses), action
    kind_step = next(s for s in steps if s.get("uses", "").startswith("helm/kind-action@"))
    assert (ROOT / kind_step["with"]["config"]).is_file()
    assert next(s for s in steps if "setup-python" in s.get("uses", ""))["with"]["python-version"] == "3.11"
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["path"].rstrip("/") == "reports"
    for command in (
        "deploy/kind/install-controller.sh",
        "kubectl apply -f deploy/kind/sample-app/",
        'pip install ".[test]"',
        "pytest suites -n auto --profile deploy/kind/profile.yaml --junitxml=reports/junit.xml",
        "ingresscheck run --profile deploy/kind/profile.yaml",
    ):
        assert command in runs, command
    for word in runs.split():
        if word.startswith("deploy/kind/"):
            assert (ROOT / word).exists(), word


def test_install_script_parses() -> None:
    subprocess.run(["bash", "-n", str(KIND / "install-controller.sh")], check=True)


def test_profile_loads_and_sends_every_sample_host_to_localhost() -> None:
    profile = load(KIND / "profile.yaml")
    assert profile.dns_servers == ()  # the system resolver
    assert profile.controller == "ingress-nginx"
    assert profile.load_balancers == ("127.0.0.1",)
    assert profile.ca_bundle == str(KIND / "demo-ca.crt")
    hosts = {r["host"] for _, o in MANIFESTS if o["kind"] == "Ingress" for r in o["spec"]["rules"]}
    for host in hosts:
        for port in (80, 443):
            assert profile.resolve_override(host, port) == ["127.0.0.1"], f"{host}:{port}"
    cred = profile.credentials["wordpress.example.test"]
    assert (cred.username, cred.password_env) == (objects.WORDPRESS_USER, "WORDPRESS_PASSWORD")
