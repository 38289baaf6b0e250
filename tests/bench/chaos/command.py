"""Running `python -m bench.chaos` from a test, in a subprocess, with its own database name: under
pytest-xdist two harness runs may go at once, and on PostgreSQL each makes `<NAME>_run` and its
copies."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[3]


def harness_env(tag: str) -> dict:
    env = dict(os.environ)
    url = env.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(url)
        worker = env.get("PYTEST_XDIST_WORKER", "main")
        name = f"{parts.path.lstrip('/')}_{tag}_{worker}"
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
    return env


def run_harness(arguments: list[str], *, tmp_path: Path, tag: str) -> dict:
    """Run the harness; assert it exited 0 (showing its output when not); return its figures."""
    figures_file = tmp_path / "chaos.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.chaos", *arguments, "--json", str(figures_file)],
        cwd=ROOT,
        env=harness_env(tag),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    return json.loads(figures_file.read_text())
