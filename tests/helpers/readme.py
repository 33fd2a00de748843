"""Running a README command block as written: a bash script, the venue in the background on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands(heading: str, page: str = "README.md") -> list[str]:
    """The lines of the first ```bash block after ``heading`` in ``page`` (README.md or a docs page; continuations
    joined)."""
    text = (ROOT / page).read_text()
    start = text.index(heading)
    block = text[text.index("```bash\n", start) + len("```bash\n"):]
    block = block[:block.index("```")]
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_commands(commands: list[str], cwd: Path, port: str, readme_port: str,
                 drop_env: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """Run ``commands`` with ``readme_port`` replaced by ``port``; a line ending in ``&`` (the venue) writes
    ``venue.log`` and the script waits for its "listening" line, as a person would. ``examples`` is linked into
    ``cwd``; environment variables starting with ``drop_env`` are removed first."""
    script = ["set -euo pipefail"]
    for command in commands:
        command = command.replace(readme_port, port)
        code = command.split("  #")[0].rstrip() if "  #" in command else command
        if code.endswith("&"):
            script.append(code[:-1].rstrip() + " > venue.log 2>&1 &")
            script.append("for _ in $(seq 1 600); do grep -q listening venue.log && break; sleep 0.1; done")
            script.append("grep -q listening venue.log")
        else:
            script.append(code)
    (cwd / "examples").symlink_to(ROOT / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop_env)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
