"""The exception tree of ingresscheck, drawn once.

    IngresscheckError            anything the CLI turns into one line and a non-zero exit
    ├── UsageError               bad flags, bad profile, unreadable kubeconfig ... (exit 2)
    │   └── KubeError            a Kubernetes API call gave a classified outcome (forbidden, not found,
    │                            unauthorized, unreachable, timeout, invalid) naming verb and resource
    ├── LabError                 a lab component failed; names the component and its log (exit 2)
    └── Interrupted              Ctrl-C or SIGTERM; exit 128 + the signal's number (130, 143)

A probe never raises to the user: the runner turns a probe's exception into a result with
status ``error`` and the exception as its reason.
"""

from __future__ import annotations

import signal
from enum import Enum


class IngresscheckError(Exception):
    """Base of every error that ends a command with a one-line message."""

    exit_code = 2


class UsageError(IngresscheckError):
    """The user's input (flags, profile, kubeconfig, manifests) cannot be used."""


class Outcome(str, Enum):
    """What went wrong with one call, never guessed from a message: each maps from a status or an
    exception class (see ``kube.classify``)."""

    FORBIDDEN = "forbidden"  # HTTP 403: authenticated, but RBAC says no
    UNAUTHORIZED = "unauthorized"  # HTTP 401: the credentials were refused
    NOT_FOUND = "not_found"  # HTTP 404
    INVALID = "invalid"  # HTTP 400/422: the API refused the object
    UNREACHABLE = "unreachable"  # no TCP connection (refused, no route, DNS)
    TIMEOUT = "timeout"  # connected (or trying), no answer in time
    ERROR = "error"  # any other answer (5xx, a broken response)


class KubeError(UsageError):
    """One Kubernetes API call that did not succeed, with what it was and why."""

    def __init__(
        self,
        outcome: Outcome,
        server: str,
        verb: str,
        resource: str,
        detail: str,
        namespace: str | None = None,
        summary: str | None = None,
    ) -> None:
        self.outcome = outcome
        self.server = server
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        self.detail = detail
        super().__init__(summary or f"API server {server}: {self.what}: {outcome.value}: {detail}")

    @property
    def what(self) -> str:
        """``list ingresses.networking.k8s.io in namespace demo``: the call, without its outcome."""
        scope = f"in namespace {self.namespace}" if self.namespace else "cluster-wide"
        return f"{self.verb} {self.resource} {scope}"


class LabError(IngresscheckError):
    """A lab component could not be built, started or reached."""

    def __init__(self, component: str, reason: str, log: str | None = None) -> None:
        self.component = component
        self.reason = reason
        self.log = log
        where = f" (log: {log})" if log else ""
        super().__init__(f"lab: {component}: {reason}{where}")


class Interrupted(IngresscheckError):
    """A run stopped by a signal after cleaning up; the exit code says which signal (shell style)."""

    def __init__(self, signame: str = "SIGINT") -> None:
        try:
            number = signal.Signals[signame].value
        except KeyError:
            signame, number = "SIGINT", signal.SIGINT.value
        self.signame = signame
        self.exit_code = 128 + number
        super().__init__(f"interrupted by {signame}; objects it created were removed")
