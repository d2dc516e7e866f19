"""Discovery from manifests, and targets derived from Ingress rules."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from ingresscheck.discovery import targets_of
from ingresscheck.discovery.manifests import discover
from ingresscheck.errors import UsageError

from .helpers import ingress


def test_multi_document_yaml_and_list_dumps(tmp_path: Path) -> None:
    """Given a multi-doc file and a `kubectl get -o yaml` List, then every object is found."""
    docs = [ingress("a", "a.example.test"), {"apiVersion": "v1", "kind": "Service",
                                             "metadata": {"name": "web", "namespace": "demo"}}]
    (tmp_path / "app.yaml").write_text(yaml.safe_dump_all(docs))
    (tmp_path / "dump.yml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [
        ingress("b", "b.apps.test", tls_secret="b-tls"),
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
         "metadata": {"name": "b-tls", "namespace": "demo"},
         "data": {"tls.crt": base64.b64encode(b"CERT").decode(), "tls.key": base64.b64encode(b"KEY").decode()}},
    ]}))
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
    sec = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "wp-auth", "namespace": "demo"},
           "stringData": {"auth": htpasswd}}
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
    no_rules = {"kind": "Ingress", "metadata": {"name": "d", "namespace": "x"}, "spec": {
        "defaultBackend": {"service": {"name": "s", "port": {"number": 80}}}}}
    targets = targets_of([ingress("any", None), no_rules, ingress("ok", "OK.Example.Test")], problems)
    assert [t.id for t in targets] == ["demo/ok/ok.example.test"]
    assert [p[1].split(":")[0] for p in problems] == ["has a rule without host", "has no rules"]


def test_sample_path_avoids_regex_paths() -> None:
    t = targets_of([ingress("r", "r.test", path="/api(/|$)(.*)")])[0]
    assert t.sample_path == "/"
    assert targets_of([ingress("p", "p.test", path="/v1")])[0].sample_path == "/v1"
