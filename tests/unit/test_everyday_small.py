"""Small everyday fixes of issue 26: compare's labels and guesses, cleanup's wording."""

from __future__ import annotations

from ingresscheck.cli.reload import _removed
from ingresscheck.compare import _implementation
from ingresscheck.compare._discover import SideHosts
from ingresscheck.compare._model import Request
from ingresscheck.compare._support import implementation_for
from ingresscheck.discovery.model import Target
from ingresscheck.profile import Profile


def test_compare_names_the_wrong_credentials_request_as_such() -> None:
    """Given the matrix's wrong- and right-credentials requests, then only the right one says 'with credentials'."""
    wrong = Request("auth wrong", "auth", "https", "wp.test", "/", auth=("ingresscheck", "wrong-password"))
    right = Request("auth right", "auth", "https", "wp.test", "/", auth=("admin", "secret"))
    assert wrong.describe().endswith("(with wrong credentials)") and "secret" not in right.describe()
    assert right.describe().endswith("(with credentials)")
    assert "credentials" not in Request("auth none", "auth", "https", "wp.test", "/").describe()


def _ingress_side(controller: str) -> SideHosts:
    target = Target("demo", "web", "web.test", ())
    return SideHosts({"web.test": target}, {"web.test": "127.0.0.10"}, {"web.test": controller})


def test_compare_takes_the_profiles_controller_over_the_ingressclass_name() -> None:
    """Given an IngressClass k8s.io/ingress-nginx that Traefik serves (the profile says controller: traefik),
    then compare's support table is Traefik's, not ingress-nginx's."""
    side = _ingress_side("k8s.io/ingress-nginx")
    assert _implementation(side, Profile(controller="traefik")) == "traefik"
    assert _implementation(side, Profile()) == "ingress-nginx"  # nothing says otherwise


def test_an_ingressclass_naming_another_program_is_that_program() -> None:
    assert implementation_for("Ingress", "traefik.io/ingress-controller") == "traefik"
    assert implementation_for("Ingress", "projectcontour.io/contour") == "contour"
    assert _implementation(_ingress_side("traefik.io/ingress-controller"), Profile()) == "traefik"


def test_cleanup_names_each_kind_it_removed() -> None:
    objs = [{"kind": "HTTPRoute"}, {"kind": "HTTPRoute"}, {"kind": "Ingress"}]
    assert _removed(objs) == "2 canary HTTPRoutes and 1 canary Ingress"
    assert _removed([{"kind": "Ingress"}] * 3) == "3 canary Ingresses"
    assert _removed([]) == "0 canary objects"
