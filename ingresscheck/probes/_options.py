"""Front-ends derive their flags from the probes' declared ``Options`` (``_contract.ProbeOptions``).

One field, one default, one validation: the command line, the profile and the pytest plugin only say
which values were given (None: not given), and ``validate`` makes them the probe's ``Options`` with the
model's defaults for the rest. A bad value is one ``UsageError`` line naming the flag as the user wrote it.

Names: ``ingresscheck reload`` takes the reload probe's fields as ``--rounds``; ``ingresscheck run`` and
pytest take every probe's as ``--<probe>-<field>`` (``--reload-rounds``); the profile as a mapping under
the probe's name (``reload: {rounds: 5}``).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..errors import UsageError
from ._contract import Probe, ProbeOptions


@dataclass(frozen=True)
class OptionFlag:
    probe: str
    field: str
    type: Callable[[str], Any]
    default: Any
    help: str
    choices: tuple[str, ...] | None = None

    @property
    def long(self) -> str:  # the name under `run` and pytest
        return f"--{self.probe}-{self.field.replace('_', '-')}"

    @property
    def short(self) -> str:  # the name under the probe's own command (`reload --rounds`)
        return f"--{self.field.replace('_', '-')}"

    @property
    def dest(self) -> str:
        return f"{self.probe}_{self.field}"


def _scalar(annotation: Any) -> tuple[Callable[[str], Any], tuple[str, ...] | None]:
    """The argparse type (and choices) of a field: its annotation without None."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if typing.get_origin(annotation) is typing.Literal:
        return str, tuple(str(a) for a in typing.get_args(annotation))
    if annotation in (int, float, str):
        return typing.cast(Callable[[str], Any], annotation), None
    return str, None


def flags(probe: type[Probe]) -> list[OptionFlag]:
    out = []
    for name, info in probe.Options.model_fields.items():
        kind, choices = _scalar(info.annotation)
        out.append(OptionFlag(probe.name, name, kind, info.default, info.description or name, choices))
    return out


def add_arguments(group: Any, probe: type[Probe], *, short: bool, pytest: bool = False) -> None:
    """The probe's options as flags of an argparse group (``short``: --field) or pytest's (--probe-field),
    each defaulting to None (not given) and saying the model's default in its help."""
    for f in flags(probe):
        default = "" if f.default is None else f" (default {f.default})"
        kw: dict[str, Any] = {
            "dest": f"ic_{f.dest}" if pytest else f.dest,
            "default": None,
            "help": f"{f.help}{default}",
            "type": f.type,
            "metavar": f.field.upper(),
        }
        if f.choices:
            kw["choices"] = f.choices
        (group.addoption if pytest else group.add_argument)(f.short if short else f.long, **kw)


def given(probes: Iterable[type[Probe]], get: Callable[[str], Any]) -> dict[str, dict[str, Any]]:
    """probe name -> {field: value} of the flags given (``get(dest)`` is None when not given)."""
    out: dict[str, dict[str, Any]] = {}
    for probe in probes:
        for f in flags(probe):
            value = get(f.dest)
            if value is not None:
                out.setdefault(probe.name, {})[f.field] = value
    return out


def validate(probe: type[Probe], values: Mapping[str, Any], name: Callable[[str], str] | None = None) -> ProbeOptions:
    """``values`` as the probe's ``Options``; a bad one is one UsageError line, ``name(field)`` saying
    how the user wrote it (default --probe-field)."""
    name = name or (lambda field: f"--{probe.name}-{field.replace('_', '-')}")
    try:
        return probe.Options.model_validate(dict(values))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        given_value = values.get(field, err.get("input"))
        shown = f"{given_value!r}" if isinstance(given_value, str) else str(given_value)
        where = name(field) if field in probe.Options.model_fields else f"{probe.name} option {field!r}"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise UsageError(f"{where} {shown}: {msg[:1].lower()}{msg[1:]}") from None


def resolve(
    probe: type[Probe],
    profile: Mapping[str, Any] | None,
    flags_given: Mapping[str, Any] | None,
    name: Callable[[str], str] | None = None,
) -> ProbeOptions:
    """The probe's options: the flags win over the profile, the model's defaults fill the rest."""
    return validate(probe, {**(profile or {}), **(flags_given or {})}, name)


__all__ = ["OptionFlag", "add_arguments", "flags", "given", "resolve", "validate"]
