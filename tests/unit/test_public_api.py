"""The public API is exactly what ``__all__`` says, and enough to write and run a probe."""

from __future__ import annotations

import ingresscheck


def test_all_names_exist_and_nothing_public_is_missing() -> None:
    for name in ingresscheck.__all__:
        assert hasattr(ingresscheck, name), name
    public = {
        n
        for n in vars(ingresscheck)
        if not n.startswith(("_", "@"))
        and n
        not in {
            "discovery",
            "errors",
            "probes",
            "profile",
            "results",
            "runner",
            "net",
            "reports",
            "kube",
            "hostname",
            "htpasswd",
            "annotations",
            "cli",
            "lab",
            "load",
            "reload",
            "pytest_plugin",
            "session",
            "compare",
            "identity",
            "known_secrets",
            "evidence",
        }
    }
    # ("@py_builtins" and the like: pytest rewrites asserts in the package of its registered plugin)
    assert public == set(ingresscheck.__all__) - {"__version__"}


def test_a_probe_written_against_the_public_api_runs() -> None:
    class Hello(ingresscheck.Probe):
        name = "hello"
        scope = ingresscheck.Scope.CLUSTER
        network = False
        checks = (
            ingresscheck.CheckSpec(
                "hello.ingresses", ingresscheck.Step.INGRESS, ingresscheck.Severity.INFO, "counts Ingresses", "none"
            ),
        )

        async def run(self, ctx: ingresscheck.ProbeContext) -> None:
            ctx.passed("hello.ingresses", f"{len(ctx.inventory.ingresses)} Ingresses")

    report = ingresscheck.run([Hello], ingresscheck.Profile(), ingresscheck.Inventory("unit", "local"))
    assert [(r.check, r.status, r.message) for r in report.results] == [
        ("hello.ingresses", ingresscheck.Status.PASS, "0 Ingresses")
    ]
