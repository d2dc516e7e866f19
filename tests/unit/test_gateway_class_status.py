"""gateway.class_accepted reads the GatewayClass's Accepted condition as the Gateway API means it: True passes,
False fails, and Unknown (the CRD's default "Pending: Waiting for controller") fails unless the class's controller
visibly serves it, by having Programmed this Gateway for its current generation: then the class's status is
lagging or stale, a warning that says so (seen on the lab right after Envoy Gateway restarts)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ingresscheck.profile import Profile
from ingresscheck.results import Status

from .helpers import by_check, run_probes
from .test_planes import _objects

PENDING = {"type": "Accepted", "status": "Unknown", "reason": "Pending", "message": "Waiting for controller"}
REFUSED = {"type": "Accepted", "status": "False", "reason": "InvalidParameters", "message": "bad parametersRef"}


def _verdict(class_conditions: list[dict[str, Any]], programmed: str = "True", observed: int = 1) -> Any:
    objs = copy.deepcopy(_objects())
    objs["gateway_classes"][0]["status"] = {"conditions": class_conditions}
    gw = objs["gateways"][0]
    gw["metadata"]["generation"] = 1
    gw["status"]["conditions"] = [
        {"type": "Accepted", "status": "True", "reason": "Accepted"},
        {"type": "Programmed", "status": programmed, "reason": "Programmed", "observedGeneration": observed},
    ]
    [result] = by_check(run_probes(["gateway"], Profile(), **objs), "gateway.class_accepted")
    return result


@pytest.mark.parametrize(
    ("conditions", "programmed", "observed", "expected"),
    [
        ([{"type": "Accepted", "status": "True", "reason": "Accepted"}], "True", 1, Status.PASS),
        ([REFUSED], "True", 1, Status.FAIL),  # False is the controller's refusal, whatever the Gateway says
        ([PENDING], "False", 1, Status.FAIL),  # nobody serves the class
        ([PENDING], "True", 0, Status.FAIL),  # Programmed for an older generation: no proof for this one
        ([], "False", 1, Status.FAIL),
        ([PENDING], "True", 1, Status.WARN),
        ([], "True", 1, Status.WARN),
    ],
)
def test_accepted_unknown_is_a_warning_only_when_the_controller_programmed_this_gateway(
    conditions: list[dict[str, Any]], programmed: str, observed: int, expected: Status
) -> None:
    result = _verdict(conditions, programmed, observed)
    assert result.status is expected, result.message
    assert result.subject == "GatewayClass eg"
    if expected is Status.WARN:
        assert "Gateway eg/parity of this class is Programmed" in result.message
        assert "not written the class's status" in result.message
    if conditions == [PENDING] and expected is Status.FAIL:
        assert "Accepted=Unknown (Pending: Waiting for controller)" in result.message
