"""Discovery from manifests, and targets derived from Ingress rules."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
import yaml

from ingresscheck.discovery import targets_of
from ingresscheck.discovery.manifests import discover
from ingresscheck.errors import UsageError

from .helpers import ingress


def test_multi_document_yaml_and_list_dumps(tmp_path: Path) -> None:
    """Given a multi-doc file and a `kubectl get -o yaml` List, then every object is found."""
    docs = [
        ingress("a", "a.example.test"),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "demo"}},
    ]
    (tmp_path / "app.yaml").write_text(yaml.safe_dump_all(docs))
    (tmp_path / "dump.yml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "List",
                "items": [
                    ingress("b", "b.apps.test", tls_secret="b-tls"),
                    {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "type": "kubernetes.io/tls",
                        "metadata": {"name": "b-tls", "namespace": "demo"},
                        "data": {
                            "tls.crt": base64.b64encode(b"CERT").decode(),
                            "tls.key": base64.b64encode(b"KEY").decode(),
                        },
                    },
                ],
            }
        )
    )
    inv = discover(str(tmp_path))
    assert sorted(t.host for t in inv.targets) == ["a.example.test", "b.apps.test"]
    assert inv.service("demo", "web") is not None
    secret = inv.secrets[("demo", "b-tls")]
    assert secret is not None and secret.keys == ("tls.crt", "tls.key") and secret.cert_pem == b"CERT"
    assert not hasattr(secret, "key_pem")  # private keys are never kept


def test_referenced_but_missing_secret_is_recorded_as_missing(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(ingress("a", "a.apps.test", tls_secret="gone")))
    assert discover(str(tmp_path)).secrets == {("demo", "gone"): None}


def test_auth_secret_keeps_counts_not_hashes(tmp_path: Path) -> None:
    htpasswd = "admin:$2y$10$" + "a" * 53 + "\nbroken line\n\n"
    ing = ingress("wp", "wp.example.test", annotations={"nginx.ingress.kubernetes.io/auth-secret": "wp-auth"})
    sec = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "wp-auth", "namespace": "demo"},
        "stringData": {"auth": htpasswd},
    }
    (tmp_path / "a.yaml").write_text(yaml.safe_dump_all([ing, sec]))
    info = discover(str(tmp_path)).secrets[("demo", "wp-auth")]
    assert info is not None and (info.htpasswd_lines, info.htpasswd_invalid) == (1, 1)
    assert "$2y$" not in repr(info)


def test_invalid_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("kind: Ingress\nspec:\n  rules: [\n")
    with pytest.raises(UsageError, match=r"x\.yaml:\d+: invalid YAML"):
        discover(str(tmp_path))


def test_rules_without_host_and_ingresses_without_rules_are_problems_not_targets() -> None:
    problems: list = []
    no_rules = {
        "kind": "Ingress",
        "metadata": {"name": "d", "namespace": "x"},
        "spec": {"defaultBackend": {"service": {"name": "s", "port": {"number": 80}}}},
    }
    targets = targets_of([ingress("any", None), no_rules, ingress("ok", "OK.Example.Test")], problems)
    assert [t.id for t in targets] == ["demo/ok/ok.example.test"]
    assert [p[1].split(":")[0] for p in problems] == ["has a rule without host", "has no rules"]


def test_sample_path_avoids_regex_paths() -> None:
    t = targets_of([ingress("r", "r.test", path="/api(/|$)(.*)")])[0]
    assert t.sample_path == "/"
    assert targets_of([ingress("p", "p.test", path="/v1")])[0].sample_path == "/v1"


# --- what the API server would refuse, refused offline with file and line --------------------------

BAD_INGRESSES = [
    # (what is wrong, the object change, the field and the API server's words)
    ("no spec at all", lambda o: o.pop("spec"), "spec: Invalid value: []: either `defaultBackend` or `rules`"),
    (
        "rules not a list",
        lambda o: o["spec"].update(rules="notalist"),
        "spec.rules: Invalid value: 'notalist': must be of type array",
    ),
    (
        "uppercase host",
        lambda o: o["spec"]["rules"][0].update(host="Shop.Example.Test"),
        "spec.rules[0].host: Invalid value: 'Shop.Example.Test': a lowercase RFC 1123 subdomain",
    ),
    (
        "unicode host",
        lambda o: o["spec"]["rules"][0].update(host="bücher.example.test"),
        "spec.rules[0].host: Invalid value: 'bücher.example.test': a lowercase RFC 1123 subdomain",
    ),
    (
        "IP host",
        lambda o: o["spec"]["rules"][0].update(host="10.0.0.1"),
        "spec.rules[0].host: Invalid value: '10.0.0.1': must be a DNS name, not an IP address",
    ),
    (
        "bad wildcard",
        lambda o: o["spec"]["rules"][0].update(host="*"),
        "spec.rules[0].host: Invalid value: '*': a wildcard DNS-1123 subdomain",
    ),
    (
        "pathType missing",
        lambda o: o["spec"]["rules"][0]["http"]["paths"][0].pop("pathType"),
        "spec.rules[0].http.paths[0].pathType: Required value",
    ),
    (
        "relative Prefix path",
        lambda o: o["spec"]["rules"][0]["http"]["paths"][0].update(path="v1"),
        "spec.rules[0].http.paths[0].path: Invalid value: 'v1': must be an absolute path",
    ),
    ("path with //", lambda o: o["spec"]["rules"][0]["http"]["paths"][0].update(path="/a//b"), "must not contain '//'"),
    (
        "unknown pathType",
        lambda o: o["spec"]["rules"][0]["http"]["paths"][0].update(pathType="Regex"),
        "pathType: Unsupported value: 'Regex'",
    ),
    (
        "port name and number",
        lambda o: o["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"].update(
            port={"number": 80, "name": "http"}
        ),
        "backend: Invalid value: '': cannot set both port name & port number",
    ),
    (
        "no backend",
        lambda o: o["spec"]["rules"][0]["http"]["paths"][0].update(backend={}),
        "backend: Invalid value: '': resource or service backend is required",
    ),
    (
        "port number as text",
        lambda o: o["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"].update(port={"number": "80"}),
        "port.number: Invalid value: '80': must be of type integer",
    ),
    (
        "old apiVersion",
        lambda o: o.update(apiVersion="extensions/v1beta1"),
        "apiVersion: Unsupported value: 'extensions/v1beta1'",
    ),
    (
        "class annotation disagrees",
        lambda o: o["metadata"]["annotations"].update({"kubernetes.io/ingress.class": "traefik"}),
        "must match `ingressClassName`",
    ),
]


@pytest.mark.parametrize("what, change, needle", BAD_INGRESSES, ids=[b[0] for b in BAD_INGRESSES])
def test_manifests_refuse_what_the_api_server_would_refuse(tmp_path: Path, what: str, change, needle: str) -> None:
    """Given an Ingress the API would refuse, then discovery stops with one line: file, line, object, field."""
    obj = ingress("web", "shop.example.test")
    change(obj)
    (tmp_path / "ok.yaml").write_text(yaml.safe_dump(ingress("fine", "fine.example.test")))
    (tmp_path / "web.yaml").write_text("# a comment first\n" + yaml.safe_dump(obj, allow_unicode=True))
    with pytest.raises(UsageError) as err:
        discover(str(tmp_path))
    message = str(err.value)
    assert re.match(r"manifests: \S+web\.yaml:\d+: Ingress demo/web: ", message), message
    assert needle in message
    assert "\n" not in message


def test_the_line_is_the_line_of_the_offending_field(tmp_path: Path) -> None:
    text = yaml.safe_dump(ingress("web", "shop.example.test"), sort_keys=False).replace(
        "host: shop.example.test", "host: Shop.Example.Test"
    )
    (tmp_path / "web.yaml").write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "Shop.Example.Test" in t)
    with pytest.raises(UsageError, match=rf"web\.yaml:{line}: Ingress demo/web: spec\.rules\[0\]\.host"):
        discover(str(tmp_path))


def test_items_of_a_list_dump_are_validated_too(tmp_path: Path) -> None:
    bad = ingress("b", "b.example.test")
    bad["spec"]["rules"][0]["http"]["paths"][0]["pathType"] = None
    (tmp_path / "dump.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [ingress("a", "a.example.test"), bad]})
    )
    with pytest.raises(UsageError, match=r"Ingress demo/b: spec\.rules\[0\]\.http\.paths\[0\]\.pathType"):
        discover(str(tmp_path))


def test_a_folder_without_ingress_is_a_usage_error_not_zero_checks(tmp_path: Path) -> None:
    (tmp_path / "svc.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "demo"}})
    )
    with pytest.raises(UsageError, match=r"has no Ingress or HTTPRoute to check \(found: Service\)"):
        discover(str(tmp_path))


def test_valid_wildcard_default_backend_and_resource_backends_pass(tmp_path: Path) -> None:
    wild = ingress("w", "*.apps.example.test")
    default_only = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "d", "namespace": "demo"},
        "spec": {"defaultBackend": {"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "static"}}},
    }
    (tmp_path / "a.yaml").write_text(yaml.safe_dump_all([wild, default_only]))
    inv = discover(str(tmp_path))
    assert [t.host for t in inv.targets] == ["*.apps.example.test"]
    assert [p[1].split(":")[0] for p in inv.problems] == ["has no rules"]
