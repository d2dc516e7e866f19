"""On the lab's API server: discovery reads a list page by page, every object exactly once, and keeps no
managedFields; the cyclic collector is back as it was afterwards."""

from __future__ import annotations

import gc

from ingresscheck.discovery.kube import discover
from ingresscheck.kube import Resources, connect
from ingresscheck_lab import objects
from ingresscheck_lab.lab import Lab

NS = "pages-test"


def test_a_list_arrives_in_pages_and_discovery_keeps_every_object_once(lab: Lab) -> None:
    """Given 5 Ingresses in a namespace of their own, when listed 2 at a time, then 3 pages hold all 5 once;
    and discovery of the namespace finds the 5 hosts without managedFields, with the collector enabled after."""
    res = lab.writer()
    res.create(objects.namespace(NS), exist_ok=True)
    names = [f"p-{i}" for i in range(5)]
    try:
        for name in names:
            ing = objects.ingress(name, NS, f"{name}.pages.example.test", [("/", "Prefix", "web")])
            ing["spec"]["ingressClassName"] = "pages-unserved"  # no controller writes status for these
            res.create(ing, exist_ok=True)
        pages = list(Resources(res.api).pages("Ingress", NS, limit=2))
        assert [len(p) for p in pages] == [2, 2, 1]
        assert sorted(i["metadata"]["name"] for p in pages for i in p) == names
        assert all(i["kind"] == "Ingress" for p in pages for i in p)

        assert gc.isenabled()
        inventory = discover(connect(lab.layout.kubeconfig, "lab"), NS)
        assert gc.isenabled(), "discovery pauses the cyclic collector only while it builds the inventory"
        assert sorted(t.host for t in inventory.targets) == [f"{n}.pages.example.test" for n in names]
        assert not any("managedFields" in i["metadata"] for i in inventory.ingresses)
    finally:
        for name in names:
            res.delete(objects.ingress(name, NS, "x", []))
