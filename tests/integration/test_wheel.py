"""The package as the container installs it: a wheel built from the project, installed on its own, runs.

The image (Dockerfile) is `pip wheel .` then `pip install` of that wheel; this builds the same wheel and
runs `sobot db upgrade`, `sobot procedures` and `sobot serve` from it alone, so a procedure file, a migration or
a dashboard template left out of the package fails here rather than in a council's deployment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir",
                            str(work / "dist"), str(ROOT)], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stderr
    wheels = list((work / "dist").glob("sobot-*.whl"))
    assert len(wheels) == 1
    target = work / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target),
                           str(wheels[0])], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return target


def sobot(site: Path, cwd: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SOBOT_", "CONNECTIONS__"))}
    # The wheel's copy first on the path, run from an empty folder: nothing of the checkout is imported.
    clean.update(PYTHONPATH=str(site), **env)
    return subprocess.Popen([sys.executable, "-m", "sobot.cli", *args], cwd=cwd, env=clean, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def test_the_wheel_alone_migrates_knows_its_procedures_and_serves(installed: Path, tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'sobot.db'}"
    where = subprocess.run([sys.executable, "-c", "import scheduler, storage, bot; print(scheduler.__file__)"],
                           cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(installed)}, capture_output=True,
                           text=True)  # fmt: skip
    assert where.stdout.strip().startswith(str(installed)), where.stdout + where.stderr

    upgrade = sobot(installed, tmp_path, "db", "upgrade", SOBOT_DATABASE_URL=database)
    out, err = upgrade.communicate(timeout=120)
    assert upgrade.returncode == 0, err

    listing = sobot(installed, tmp_path, "procedures")
    out, err = listing.communicate(timeout=60)
    assert listing.returncode == 0, err
    for procedure in ("wirral", "camden", "leicestershire", "sussex", "bradford"):
        assert procedure in out

    port = str(_free_port())
    serve = sobot(installed, tmp_path, "serve", SOBOT_DATABASE_URL=database, SOBOT_PORT=port,
                  SOBOT_MAILBOX_DIR=str(tmp_path / "var" / "mailbox"))  # fmt: skip
    try:
        assert serve.stderr is not None
        for line in serve.stderr:
            if "sobot is listening" in line:
                break
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as answer:
            assert json.load(answer)["status"] == "ready"
        # The dashboard's templates and static files are in the wheel.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/local/choose", timeout=10) as answer:
            assert "Local mode:" in answer.read().decode()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/sobot.css", timeout=10) as answer:
            assert b"prefers-color-scheme" in answer.read()
        # TeamsJS, which the Teams tab loads from sobot itself.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/teams-js/MicrosoftTeams.min.js", timeout=10) as js:
            assert b"microsoftTeams" in js.read()
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.communicate(timeout=60)
    assert serve.returncode == 0


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
