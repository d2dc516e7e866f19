"""The terminal gate: cluster data printed by a command has its control characters escaped and its
known credentials masked (cli/_terminal.printable, known_secrets)."""

from __future__ import annotations

import base64

from ingresscheck import known_secrets
from ingresscheck.cli._terminal import printable
from ingresscheck.reports import redact


def test_escape_sequences_and_newlines_are_shown_escaped() -> None:
    # Given an annotation value that retitles the terminal, clears it and forges a second line
    value = "\x1b]0;pwned\x07\x1b[2Jok\nfail  fake.check cluster\r\x9b1m\u202eevil\tx"
    # When printed, Then it is one line of visible escapes
    shown = printable(value)
    assert shown == "\\x1b]0;pwned\\x07\\x1b[2Jok\\nfail  fake.check cluster\\r\\x9b1m\\u202eevil\\tx"
    assert "\n" not in shown and "\x1b" not in shown


def test_plain_text_and_non_ascii_names_pass_unchanged() -> None:
    assert printable("demo/shop/bücher.example.test [10.0.0.1:443]") == "demo/shop/bücher.example.test [10.0.0.1:443]"


def test_url_credentials_are_masked_on_the_terminal_as_in_reports() -> None:
    assert printable("got https://admin:hunter22@x.test/") == "got https://admin:[redacted]@x.test/"


def test_a_registered_secret_value_is_masked_under_any_key_and_in_any_text() -> None:
    # Given a password this process read (the profile), and a backend that echoed it decoded
    known_secrets.register("Zq8-registered-pw", username="alice")
    basic = base64.b64encode(b"alice:Zq8-registered-pw").decode()
    echoed = {"response": {"body_head": '{"seen_pw": "Zq8-registered-pw"}', "headers": {"x-debug": basic}}}
    # Then neither the value nor its Basic form survives redaction or printing
    out = str(redact(echoed))
    assert "Zq8-registered-pw" not in out and basic not in out
    assert printable("echo: Zq8-registered-pw") == "echo: [redacted]"


def test_short_values_are_not_registered_so_ordinary_words_stay() -> None:
    known_secrets.register("test")
    assert printable("shop.example.test") == "shop.example.test"
