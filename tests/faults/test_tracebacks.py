"""Inputs and peers that used to end in a traceback: an API server answering HTML or garbage, a
kubeconfig server URL with a query string, `cleanup` with a token that may not list or delete, and
`diff` on a report with a malformed field. Each is one classified line on stderr and exit 2."""

from __future__ import annotations

import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme
import yaml

from ingresscheck.reload.canary import LABEL
from ingresscheck_lab.lab import Lab

from ._helpers import ROOT, assert_one_line_exit_2, record, run_cli, token_kubeconfig

BOUND = 20.0


@contextmanager
def fake_api(tmp_path: Path, answer: bytes, content_type: str, version_ok: bool = False) -> Iterator[Path]:
    """An HTTPS server on loopback that answers every API path with ``answer`` (200); with ``version_ok``,
    /version is a real version object, so the garbage comes only with the first list. Yields a kubeconfig."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(tmp_path / "fake-ca.pem"))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, kind = answer, content_type
            if version_ok and self.path.startswith("/version"):
                body, kind = (
                    json.dumps({"major": "1", "minor": "35", "gitVersion": "v1.35.4"}).encode(),
                    "application/json",
                )
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_DELETE = do_PATCH = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kc = tmp_path / "kubeconfig"
    kc.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "fake",
                        "cluster": {
                            "server": f"https://127.0.0.1:{server.server_address[1]}",
                            "certificate-authority": str(tmp_path / "fake-ca.pem"),
                        },
                    }
                ],
                "users": [{"name": "u", "user": {"token": "fake-token-0123456789"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u"}}],
                "current-context": "fake",
            }
        )
    )
    try:
        yield kc
    finally:
        server.shutdown()
        server.server_close()


COMMANDS = {
    "run": ("run", "--no-progress", "--no-reports"),
    "cleanup": ("cleanup",),
    "reload": ("reload", "--allow-mutations", "--no-progress", "--no-reports", "--rounds", "1"),
}
ANSWERS = [
    ("HTML login page", b"<html><body>Please log in</body></html>", "text/html", False, "text/html"),
    ("binary garbage", b"\x00\xff\xfe garbage {", "application/json", False, "not the Kubernetes API's JSON"),
    ("a JSON list", b"[1, 2, 3]", "application/json", False, "not the Kubernetes API's JSON"),
    ("garbage after a good /version", b"<html>proxy error</html>", "text/html", True, "list ingresses"),
]


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize(
    "fault, answer, content_type, version_ok, needle", ANSWERS, ids=[a[0] for a in ANSWERS]
)  # fmt: skip
def test_an_api_server_answering_something_else_is_one_line(
    tmp_path: Path, command: str, fault: str, answer: bytes, content_type: str, version_ok: bool, needle: str
) -> None:
    with fake_api(tmp_path, answer, content_type, version_ok) as kc:
        run = run_cli(*COMMANDS[command], "--kubeconfig", str(kc), timeout=BOUND, cwd=tmp_path)
    line = assert_one_line_exit_2(run, "API server https://127.0.0.1:", needle)
    assert "\x00" not in line  # control bytes of the answer are shown escaped
    assert "fake-token-0123456789" not in run.stdout + run.stderr
    record(f"{command}: API answers {fault}", run, "exit 2: " + line[14:110])


def test_a_kubeconfig_server_url_with_a_query_string_is_refused_without_echoing_it(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text(
        "apiVersion: v1\nkind: Config\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443?access_token=qs-secret-12345'}}]\n"
        "users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
    )
    run = run_cli("run", "--kubeconfig", str(kc), "--no-progress", "--no-reports", timeout=BOUND, cwd=tmp_path)
    line = assert_one_line_exit_2(run, f"kubeconfig {kc}:3", "clusters[0].cluster.server has a query string")
    assert "qs-secret-12345" not in run.stdout + run.stderr
    record("kubeconfig server URL with ?access_token=", run, "exit 2: " + line[14:110])


def _diff_input(tmp_path: Path, field: str, value: object) -> tuple[Path, Path]:
    old = tmp_path / "old.json"
    run = run_cli(
        "run",
        "--manifests",
        str(ROOT / "deploy" / "kind" / "sample-app"),
        "--no-progress",
        "--json",
        str(old),
        timeout=BOUND,
        cwd=tmp_path,
    )
    assert run.code == 0, run.stderr
    data = json.loads(old.read_text())
    data["results"][1][field] = value
    new = tmp_path / "new.json"
    new.write_text(json.dumps(data))
    return old, new


@pytest.mark.parametrize(
    "field, value, needle",
    [
        ("duration_ms", "slow", "results[1].duration_ms: expected a number, got 'slow'"),
        ("evidence", [1, 2], "results[1].evidence: expected a mapping, got list"),
        ("host", 42, "results[1].host: expected a string, got 42"),
    ],
)
def test_diff_on_a_malformed_field_names_it(tmp_path: Path, field: str, value: object, needle: str) -> None:
    old, new = _diff_input(tmp_path, field, value)
    run = run_cli("diff", str(old), str(new), timeout=BOUND, cwd=tmp_path)
    line = assert_one_line_exit_2(run, f"{new}: {needle}")
    record(f"diff: {field} = {value!r}", run, "exit 2: " + line[14:110])


# --- cleanup with a token that may not do its work (the real lab) ---------------------------------


@pytest.mark.lab
def test_cleanup_with_a_token_that_may_not_list_is_one_classified_line(lab: Lab, tmp_path: Path) -> None:
    rules = [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]}]
    with token_kubeconfig(lab, tmp_path, "ic-fault-cleanup-nolist", rules) as kc:
        run = run_cli("cleanup", "--kubeconfig", str(kc), timeout=30)
    line = assert_one_line_exit_2(run, "list ingresses.networking.k8s.io", "forbidden")
    record("cleanup: token may not list", run, "exit 2: " + line[14:110])


@pytest.mark.lab
def test_cleanup_with_a_token_that_may_not_delete_names_what_is_left(lab: Lab, tmp_path: Path) -> None:
    from ingresscheck_lab import objects

    canary = objects.ingress("ic-fault-left-canary", "demo", "left.canary.example.test", [("/", "Prefix", "api")])
    canary["metadata"].setdefault("labels", {})[LABEL] = "fault-test"
    res = lab.writer()
    res.create(canary)
    rules = [
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": ["get", "list"]},
        {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["httproutes"], "verbs": ["get", "list"]},
    ]
    try:
        with token_kubeconfig(lab, tmp_path, "ic-fault-cleanup-nodelete", rules) as kc:
            run = run_cli("cleanup", "--kubeconfig", str(kc), timeout=30)
    finally:
        res.delete(canary)
    line = assert_one_line_exit_2(run, "delete ingresses.networking.k8s.io", "forbidden", "demo/ic-fault-left-canary")
    record("cleanup: token may not delete", run, "exit 2: " + line[14:110])
