"""The exception tree of ingresscheck, drawn once.

    IngresscheckError            anything the CLI turns into one line and a non-zero exit
    ├── UsageError               bad flags, bad profile, unreadable kubeconfig ... (exit 2)
    └── LabError                 a lab component failed; names the component and its log (exit 2)

A probe never raises to the user: the runner turns a probe's exception into a result with
status ``error`` and the exception as its reason.
"""

from __future__ import annotations


class IngresscheckError(Exception):
    """Base of every error that ends a command with a one-line message."""

    exit_code = 2


class UsageError(IngresscheckError):
    """The user's input (flags, profile, kubeconfig, manifests) cannot be used."""


class LabError(IngresscheckError):
    """A lab component could not be built, started or reached."""

    def __init__(self, component: str, reason: str, log: str | None = None) -> None:
        self.component = component
        self.reason = reason
        self.log = log
        where = f" (log: {log})" if log else ""
        super().__init__(f"lab: {component}: {reason}{where}")
