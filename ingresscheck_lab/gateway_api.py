"""Gateway API CRDs for the lab (and for any second data plane that needs them).

The standard-channel CRD YAML ships inside the Go module ``sigs.k8s.io/gateway-api`` under
``config/crd/standard/``. ``ensure_crds`` downloads the module once with the Go toolchain the lab
already uses and copies the CRDs into the cache, so `lab up` never needs the module proxy again.
``install_crds`` server-side applies them (idempotent: running it twice, or after another data
plane did, changes nothing) and waits until the API server reports them Established.

The version is the one the lab's Traefik 3.7 implements (its v3.7.10 passed the v1.6.1
conformance report). The ValidatingAdmissionPolicy of the bundle (safe upgrades) is left out:
the lab's apiserver has no other channel to protect against.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ingresscheck.errors import LabError
from ingresscheck.kube import Resources

from .layout import LabLayout

GATEWAY_API_VERSION = "v1.6.1"
MODULE = "sigs.k8s.io/gateway-api"
FIELD_MANAGER = "ingresscheck-lab"

Say = Callable[[str], None]
Obj = dict[str, Any]


def crd_dir(layout: LabLayout) -> Path:
    return layout.cache / "gateway-api" / GATEWAY_API_VERSION / "standard"


def ensure_crds(layout: LabLayout, say: Say) -> Path:
    """The cached folder of standard-channel CRD files, downloaded once per version."""
    target = crd_dir(layout)
    if target.is_dir() and any(target.glob("*.yaml")):
        return target
    from .build import module_dir

    say(f"downloading the Gateway API {GATEWAY_API_VERSION} CRDs (once; cached in {target})")
    module = module_dir(layout, MODULE, GATEWAY_API_VERSION, "gateway-api")
    source = module / "config" / "crd" / "standard"
    files = sorted(p for p in source.glob("gateway.networking.k8s.io_*.yaml") if "vap_" not in p.name)
    if not files:
        raise LabError("gateway-api", f"no CRD files in {source}")
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in files:
        shutil.copyfile(f, tmp / f.name)  # the module cache is read-only: copy, do not link
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


def crds(folder: Path) -> list[Obj]:
    out: list[Obj] = []
    for f in sorted(folder.glob("*.yaml")):
        out += [
            d
            for d in yaml.safe_load_all(f.read_text())
            if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition"
        ]
    return out


def install_crds(res: Resources, folder: Path, *, timeout: float = 30.0) -> list[str]:
    """Server-side apply every CRD in ``folder`` and wait until each is Established. Returns their names."""
    objs = crds(folder)
    for obj in objs:
        res.apply(obj, FIELD_MANAGER)
    names = [o["metadata"]["name"] for o in objs]
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending:
        for name in sorted(pending):
            got = res.get({"kind": "CustomResourceDefinition", "metadata": {"name": name}}) or {}
            conds = (got.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conds):
                pending.discard(name)
        if pending and time.monotonic() > deadline:
            raise LabError("gateway-api", f"CRDs not Established after {timeout:g} s: {', '.join(sorted(pending))}")
        if pending:
            time.sleep(0.1)
    return names
