"""The READMEs are executed: every ```bash block of README.md and the sub-READMEs runs on the lab, as
written, and each command must give its documented exit code and output. A doc that drifts from the
code fails here.

Conventions (readable for users, recognised here):
- a command exits 0 unless its comment says ``(exit N)``;
- ``#> text`` lines after a command: text its output (stdout + stderr) must contain;
- ``<!-- doc-test: skip REASON -->`` right before a block skips it with that reason (keep them few:
  the demo and the test suite themselves, installs, commands needing Docker, podman or `lab down`);
- ``export`` lines carry over to the later blocks of the same file, as in a shell session.

Each block runs as one bash script in the repository root with ``.venv/bin`` first on PATH, so
``a & b; wait`` behaves as in a terminal; the whole block is bounded in time (BLOCK_TIMEOUT) and
its process group is killed if it overruns. The commands bound their own load (rounds, users, run
times are in the README). Run under the lab lock: ``flock /tmp/ingresscheck-lab.lock pytest tests/docs``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ingresscheck_lab.lab import Lab

ROOT = Path(__file__).resolve().parents[2]
BLOCK_TIMEOUT = 240.0
SKIP = re.compile(r"<!--\s*doc-test:\s*skip\s+(?P<reason>.*?)\s*-->")
EXIT = re.compile(r"\(exit (\d+)")
READMES = sorted(
    p
    for p in ROOT.rglob("README.md")
    if not any(part.startswith(".") or part in ("node_modules", "build") for part in p.relative_to(ROOT).parts[:-1])
)


@dataclass
class Command:
    line: str  # the logical line, continuations joined
    expect_exit: int
    expect_output: list[str] = field(default_factory=list)


@dataclass
class Block:
    readme: Path
    lineno: int
    commands: list[Command]
    exports: list[str]  # export lines of earlier blocks of the same file
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.readme.relative_to(ROOT)}:{self.lineno}"


def _comment(line: str) -> str:
    """The trailing comment of a shell line (outside quotes), or ''."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[i + 1 :]
    return ""


def parse(readme: Path) -> list[Block]:
    blocks: list[Block] = []
    exports: list[str] = []
    lines = readme.read_text().splitlines()
    i = 0
    while i < len(lines):
        fence = lines[i].strip()
        if fence.startswith("```"):
            lang = fence[3:].strip()
            start = i
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            if lang in ("bash", "sh", "shell"):
                skip = SKIP.search(lines[start - 1]) if start > 0 else None
                commands = _commands(body)
                blocks.append(Block(readme, start + 1, commands, list(exports), skip.group("reason") if skip else None))
                exports += [c.line for c in commands if c.line.startswith("export ")]
        i += 1
    return blocks


def _commands(body: list[str]) -> list[Command]:
    out: list[Command] = []
    pending = ""
    for raw in body:
        stripped = raw.strip()
        if stripped.startswith("#>") and out:
            out[-1].expect_output.append(stripped[2:].strip())
            continue
        if not stripped or (stripped.startswith("#") and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = pending + stripped
        pending = ""
        m = EXIT.search(_comment(line))
        out.append(Command(line, int(m.group(1)) if m else 0))
    return out


BLOCKS = [b for readme in READMES for b in parse(readme)]


def test_the_readmes_have_runnable_blocks_and_few_skips() -> None:
    """Given the READMEs, then most shell blocks run (skips stay the exception) and the main README
    documents what it promises: the two first commands, nothing-matched, --resolve, the locust one-liner."""
    main = [b for b in BLOCKS if b.readme == ROOT / "README.md"]
    assert main[0].skip and [c.line.split()[0] for c in main[0].commands] == ["scripts/demo", "scripts/test"]
    runnable = [b for b in BLOCKS if not b.skip]
    assert len(runnable) >= 5 and len(BLOCKS) - len(runnable) <= 6, [b.id for b in BLOCKS if b.skip]
    text = " ".join(c.line for b in runnable for c in b.commands)
    for needle in (
        "--resolve shop.apps.test:443:",
        "--expect-workers 2",
        "--worker & locust",
        "pytest suites",
        "--allow-mutations --rounds",
    ):
        assert needle in text, needle


def _script(block: Block, outdir: Path) -> str:
    """One bash script: each command's output and exit code go to files, so each is judged alone."""
    parts = ["set -u", f"cd {_q(str(ROOT))}", *block.exports]
    for n, c in enumerate(block.commands):
        parts.append(f"{{ {c.line}\n}} >{_q(str(outdir / f'out.{n}'))} 2>&1 </dev/null")
        parts.append(f"echo $? >{_q(str(outdir / f'rc.{n}'))}")
    parts.append("wait")
    return "\n".join(parts) + "\n"


def _q(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_readme_block_runs_as_documented(block: Block, lab: Lab, tmp_path: Path) -> None:
    """Given the lab, when the block runs as written, then each command exits as documented and prints
    what the README shows after it."""
    if block.skip:
        pytest.skip(block.skip)
    if not block.commands:
        pytest.skip("no command in this block")
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "120",
    }
    env.pop("KUBECONFIG", None)  # only what the README exports
    proc = subprocess.Popen(
        ["bash", "-c", _script(block, tmp_path)],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        shell_out, _ = proc.communicate(timeout=BLOCK_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{block.id}: did not finish within {BLOCK_TIMEOUT:g} s", pytrace=False)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    problems = []
    for n, c in enumerate(block.commands):
        rc_file, out_file = tmp_path / f"rc.{n}", tmp_path / f"out.{n}"
        if not rc_file.exists():
            problems.append(f"$ {c.line}\n  never ran; shell said: {shell_out[-500:]}")
            continue
        rc = int(rc_file.read_text().strip())
        output = out_file.read_text(errors="replace") if out_file.exists() else ""
        missing = [e for e in c.expect_output if e not in output]
        if rc != c.expect_exit or missing:
            problems.append(
                f"$ {c.line}\n  exit {rc} (documented: {c.expect_exit}); missing output: {missing}\n"
                + "\n".join("  | " + line for line in output.splitlines()[-25:])
            )
    assert not problems, f"{block.id}:\n" + "\n\n".join(problems)


def test_the_probe_guide_is_complete_and_runs() -> None:
    """Given the README's probe example as written (imports included), when it is executed and run through
    the public runner on one Ingress, then its check passes for that host: the guide needs nothing else."""
    import ingresscheck

    text = (ROOT / "README.md").read_text()
    code = re.search(r"### Writing a probe.*?```python\n(?P<code>.*?)```", text, re.S)
    assert code, "the README has no probe example"
    namespace: dict[str, object] = {}
    exec(compile(code.group("code"), "README.md (Writing a probe)", "exec"), namespace)  # noqa: S102 - our own doc
    probes = [
        v
        for v in namespace.values()
        if isinstance(v, type) and issubclass(v, ingresscheck.Probe) and v is not ingresscheck.Probe
    ]
    assert len(probes) == 1
    ing = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "rules": [
                {
                    "host": "shop.test",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ]
        },
    }
    report = ingresscheck.run(probes, ingresscheck.Profile(), ingresscheck.Inventory("doc", "local", ingresses=[ing]))
    assert [(r.check, r.status.value, r.host) for r in report.results] == [("my.thing", "pass", "shop.test")]
