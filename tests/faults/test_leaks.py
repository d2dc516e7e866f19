"""Secrets and terminal safety, on the real lab with hostile servers: a backend that echoes the
credentials it received, a Location carrying ``user:password@``, and an Ingress author who puts ESC
sequences and newlines in annotation values. No known secret value may reach any report or stream,
and nothing printed may carry a raw control character."""

from __future__ import annotations

import base64
import re
import socket
import ssl
from pathlib import Path

import pytest

from ingresscheck_lab import objects, pki
from ingresscheck_lab.lab import Lab

from ._helpers import Run, assert_no_traceback, lab_run_args, record, run_cli
from .test_chain import FAULT_IP, _read_request, tcp_server

pytestmark = pytest.mark.lab

WP = "wordpress.example.test"  # the profile holds credentials for it (password_file)
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")  # anything but \t and \n, raw


def _streams_and_files(run: Run, tmp_path: Path) -> dict[str, str]:
    found = {"stdout": run.stdout, "stderr": run.stderr}
    for path in tmp_path.iterdir():
        if path.suffix in (".json", ".html", ".xml"):
            found[path.name] = path.read_text(errors="replace")
    return found


def test_a_backend_echoing_the_password_leaks_it_nowhere(lab: Lab, tmp_path: Path) -> None:
    """Given a backend that echoes the Basic credentials it got (decoded, under keys no one would call
    secret), when the auth checks send the profile's password, then no report and no stream holds it."""
    password = (lab.layout.secrets / "wordpress.password").read_text().strip()
    basic = base64.b64encode(f"admin:{password}".encode()).decode()
    issued = pki.issue(pki.load_pair(lab.layout.pki, "ingress-ca"), WP, dns_names=(WP,))
    (tmp_path / "wp.crt").write_bytes(issued.cert_pem)
    (tmp_path / "wp.key").write_bytes(issued.key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "wp.crt", tmp_path / "wp.key")

    def echo(conn: socket.socket) -> None:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            while True:
                request = _read_request(tls).decode(errors="replace")
                if not request:
                    return
                sent = re.search(r"(?im)^authorization:\s*basic\s+(\S+)", request)
                if sent is None:
                    body = b"login required"
                    head = b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="wp"\r\n'
                else:
                    user, _, pw = base64.b64decode(sent.group(1)).decode(errors="replace").partition(":")
                    body = f'{{"seen_user": "{user}", "seen_pw": "{pw}", "raw": "{sent.group(1)}"}}'.encode()
                    status = b"200 OK" if pw == password else b"401 Unauthorized"
                    head = b"HTTP/1.1 " + status + b"\r\nX-Debug-Auth: " + sent.group(1).encode() + b"\r\n"
                    head += b'WWW-Authenticate: Basic realm="wp"\r\n' if pw != password else b""
                tls.sendall(head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    with tcp_server(443, echo):
        run = run_cli(
            *lab_run_args(
                lab, tmp_path, "-n", "demo", "--probes", "auth", "--skip", "dns", "--timeout", "3",
                "--resolve", f"{WP}:443:{FAULT_IP}", "--resolve", f"{WP}:80:{FAULT_IP}",
            ),
            json_report=tmp_path / "report.json",
            timeout=60,
        )  # fmt: skip
    assert_no_traceback(run)
    good = run.one("auth.good_credentials", WP)
    record("backend echoes the credentials", run, f"auth.good_credentials {good['status']}; password in no output")
    assert good["status"] == "pass", good
    assert "seen_user" in str(good["evidence"]), good  # the echo is in the evidence, masked
    for where, text in _streams_and_files(run, tmp_path).items():
        assert password not in text, f"the password leaked into {where}"
        assert basic not in text, f"the Basic credential leaked into {where}"


def test_a_location_with_user_and_password_is_masked_on_stdout_too(lab: Lab, tmp_path: Path) -> None:
    leaked = "locpass-9f3k2"  # not a registered secret: the URL's userinfo pattern must catch it

    def redirect(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(
            f"HTTP/1.1 302 Found\r\nLocation: https://admin:{leaked}@elsewhere.example.test/\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        conn.close()

    host = "api.example.test"
    with tcp_server(80, redirect):
        run = run_cli(
            *lab_run_args(
                lab, tmp_path, "-n", "demo", "--probes", "redirect", "--skip", "dns,redirect.loop",
                "--timeout", "3", "--resolve", f"{host}:80:{FAULT_IP}",
            ),
            json_report=tmp_path / "report.json",
            timeout=60,
        )  # fmt: skip
    assert_no_traceback(run)
    https = run.one("redirect.https", host)
    record("Location with user:password@", run, f"redirect.https {https['status']}; password masked on stdout")
    assert https["status"] == "fail" and "another host" in https["message"], https
    assert "elsewhere.example.test" in run.stdout, run.stdout  # the finding is printed...
    for where, text in _streams_and_files(run, tmp_path).items():
        assert leaked not in text, f"the Location's password is in {where}"  # ...without the password


INJECTED = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\nfail  static.fake cluster: all good\r\x9b1m\u202eevil"


def test_control_characters_in_annotations_reach_the_terminal_escaped(lab: Lab, tmp_path: Path) -> None:
    """Given an Ingress whose auth-secret and auth-type carry ESC sequences, a newline and a bidi
    override, when run prints its findings, then stdout holds no raw control character and no forged line."""
    host = "fault-esc.example.test"
    ing = objects.ingress(
        "fault-esc",
        "demo",
        host,
        [("/", "Prefix", "api")],
        annotations={
            "nginx.ingress.kubernetes.io/auth-type": "basic",
            "nginx.ingress.kubernetes.io/auth-secret": INJECTED,
            "nginx.ingress.kubernetes.io/auth-realm": INJECTED,
            "nginx.ingress.kubernetes.io/auth-tpye": INJECTED,
        },
    )
    res = lab.writer()
    res.create(ing)
    try:
        run = run_cli(
            *lab_run_args(lab, tmp_path, "-n", "demo", "--probes", "static,auth_config", "--timeout", "3"),
            json_report=tmp_path / "report.json",
            timeout=60,
        )
    finally:
        res.delete(ing)
    assert_no_traceback(run)
    findings = [r for r in run.results("auth.secret", host) if r["status"] != "pass"]
    record("ESC sequences in annotations", run, f"auth.secret {findings[0]['status'] if findings else '?'}; escaped")
    assert findings, run.stdout
    for name, text in (("stdout", run.stdout), ("stderr", run.stderr)):
        assert not RAW_CONTROL.search(text), f"raw control character on {name}: {text[-1500:]!r}"
        assert "\u202e" not in text and "\x9b" not in text, name
    assert "\\x1b]0;pwned" in run.stdout, run.stdout  # shown, escaped
    assert not any(line.startswith("fail  static.fake") for line in run.stdout.splitlines()), run.stdout
    # every finding is one line naming its check (the piped form: greppable, never split)
    shapes = re.compile(r"(fail |error|warn ) [a-z_]+\.[a-z_]+ |ingresscheck: ")
    before = run.stdout.split(" checks in ")[0]
    # the findings end where the per-check summary ("by check:") or the totals line begins
    findings_part = before.split("by check:")[0].splitlines() if "by check:" in before else before.splitlines()[:-1]
    findings_part = [line for line in findings_part if line.strip()]
    assert findings_part, run.stdout
    for line in findings_part:
        assert shapes.match(line), line
