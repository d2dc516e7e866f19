"""A probe's defect is placed at file:line, also when the probe's code was compiled from a string (the
README's probe guide runs its example that way): the place is the bare name, never an IndexError."""

from __future__ import annotations

import pytest

from ingresscheck.runner import _where


def _raise_from(filename: str) -> BaseException:
    code = compile("x = 1\nraise TypeError('a defect')\n", filename, "exec")
    with pytest.raises(TypeError) as caught:
        exec(code, {})
    return caught.value


def test_code_compiled_from_a_string_is_placed_by_its_bare_name() -> None:
    assert _where(_raise_from("<guide>")) == "<guide>:2"


def test_a_file_is_placed_by_its_folder_and_name() -> None:
    assert _where(_raise_from("/somewhere/mypkg/probe.py")) == "mypkg/probe.py:2"
