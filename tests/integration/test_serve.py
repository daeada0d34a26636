"""`sobot serve` as `make run` starts it: migrations, /healthz, /readyz, a clean stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_until_listening(process: subprocess.Popen[str]) -> None:
    """Read the service's log until it says it is listening; it exiting first fails the test."""
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "sobot is listening" in line:
            return
    raise AssertionError("sobot serve exited before listening:\n" + "".join(seen))


def stop(process: subprocess.Popen[str]) -> None:
    """Stop it as a service manager would; one that will not stop is killed, so no test leaves it running."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


@pytest.fixture
def service(tmp_path: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOBOT_")}
    env.update({"SOBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'var' / 'sobot.db'}", "SOBOT_PORT": str(port),
                "SOBOT_MAILBOX_DIR": str(tmp_path / "var" / "mailbox")})  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "sobot.cli", "serve"], env=env, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        wait_until_listening(process)
        yield f"http://127.0.0.1:{port}", process, tmp_path
    finally:
        stop(process)


def test_serve_answers_health_and_readiness_and_stops_cleanly(service) -> None:  # type: ignore[no-untyped-def]
    base, process, tmp_path = service
    assert get(f"{base}/healthz") == (200, {"status": "ok"})
    status, body = get(f"{base}/readyz")
    assert status == 200 and body["status"] == "ready"
    assert (tmp_path / "var" / "sobot.db").exists()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def test_serve_refuses_bad_settings_with_a_sentence() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOBOT_")}
    env["SOBOT_PORT"] = "0x"
    result = subprocess.run([sys.executable, "-m", "sobot.cli", "serve"], env=env, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 2 and "SOBOT_PORT" in result.stderr and "Traceback" not in result.stderr


def test_local_mode_will_not_listen_beyond_loopback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOBOT_", "CONNECTIONS__"))}
    env.update({"SOBOT_HOST": "0.0.0.0", "SOBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sobot.db'}"})
    result = subprocess.run([sys.executable, "-m", "sobot.cli", "serve"], env=env, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 2 and "local mode" in result.stderr and "Traceback" not in result.stderr


def test_serve_can_log_json_lines(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOBOT_", "CONNECTIONS__"))}
    env.update({"SOBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sobot.db'}", "SOBOT_PORT": str(port),
                "SOBOT_MAILBOX_DIR": str(tmp_path / "mailbox"), "SOBOT_LOG_FORMAT": "json"})  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "sobot.cli", "serve"], env=env, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        assert process.stderr is not None
        lines = []
        for raw in process.stderr:
            lines.append(json.loads(raw))  # every line is one JSON object
            if "sobot is listening" in lines[-1]["message"]:
                break
        assert lines[-1]["level"] == "INFO" and lines[-1]["logger"] == "sobot"
    finally:
        stop(process)
