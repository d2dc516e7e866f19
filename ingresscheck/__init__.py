"""ingresscheck: diagnostics and conformance checks for Kubernetes ingress.

The public API, for writing probes and driving runs from Python; everything else is internal.
"""

from .discovery import Inventory, PathRule, Target
from .errors import IngresscheckError, LabError, UsageError
from .probes import CheckSpec, Probe, ProbeContext, Scope
from .profile import Profile
from .profile import load as load_profile
from .results import Report, Result, Severity, Status, Step
from .runner import RunOptions, plan, run

__version__ = "0.1.0"
__all__ = [
    "CheckSpec",
    "IngresscheckError",
    "Inventory",
    "LabError",
    "PathRule",
    "Probe",
    "ProbeContext",
    "Profile",
    "Report",
    "Result",
    "RunOptions",
    "Scope",
    "Severity",
    "Status",
    "Step",
    "Target",
    "UsageError",
    "__version__",
    "load_profile",
    "plan",
    "run",
]
