"""The container suite's engine, image and compose projects: skipped without a Docker engine, required in CI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI
from tests.container.keys import SigningKeys

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
IMAGE = "sobot:container-test"
# Everything else comes from .env in a deployment; these stand for it.
DOT_ENV = {
    "POSTGRES_PASSWORD": "s3cretPassw0rd",
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID": "11111111-2222-3333-4444-555555555555",
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET": "client-secret-value",
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID": "66666666-7777-8888-9999-000000000000",
}
BUILD_SECONDS = 900
START_SECONDS = 120


def run(
    args: Sequence[str], *, check: bool = True, timeout: float = 120, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """A docker command; its output in the failure, which says what the engine said."""
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def wait_for(what: str, ready: Callable[[], Any], seconds: float = START_SECONDS) -> Any:
    """Poll `ready` until it gives something true, up to `seconds`; the failure names what never happened."""
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        last = ready()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {seconds:g} s (last: {last!r})")


def get(url: str, *, timeout: float = 5) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
    except (OSError, ValueError) as error:
        return 0, str(error)


@pytest.fixture(scope="session")
def engine() -> str:
    """The Docker engine's version; the suite is skipped (failed in CI) when none answers."""
    reason = ""
    if shutil.which("docker") is None:
        reason = "no docker command"
    else:
        try:
            done = run(["docker", "version", "--format", "{{.Server.Version}}"], check=False, timeout=20)
            if done.returncode == 0:
                return done.stdout.strip()
            reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "docker version failed"
        except subprocess.TimeoutExpired:
            reason = "docker version did not answer in 20 s"
    message = f"no Docker engine answers ({reason}); start one with ../shared/tools/docker-here start"
    if IN_CI:
        pytest.fail(f"The container suite is required in CI (CI=true): {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def image(engine: str) -> str:
    """The image, built once from the project's own Dockerfile."""
    run(["docker", "build", "--tag", IMAGE, str(ROOT)], timeout=BUILD_SECONDS)
    return IMAGE


class Stack:
    """One compose project of compose.yaml and the suite's overrides, with its own name, volumes and ports."""

    def __init__(self, tmp: Path, *overrides: str, profiles: Sequence[str] = (), env: dict[str, str] | None = None):
        self.name = f"sobot-test-{uuid.uuid4().hex[:8]}"
        self.files = [ROOT / "compose.yaml", HERE / "compose.test.yaml", *(HERE / o for o in overrides)]
        self.profiles = list(profiles)
        self.env_file = tmp / f"{self.name}.env"
        self.write_env(DOT_ENV if env is None else env)
        self.keys = tmp / "keys"
        self.signing = SigningKeys(self.keys)
        self.clock = tmp / "clock"
        self.clock.mkdir(mode=0o755)
        self.move_clock(0)

    def move_clock(self, seconds: float) -> None:
        """Where the dispatch tests' replicas put their clock: this far from the system's."""
        (self.clock / "offset").write_text(f"{seconds}\n", encoding="utf-8")
        (self.clock / "offset").chmod(0o644)

    def hold_sends(self, after: dict[str, int]) -> None:
        """The dispatch tests' replica on each host sends so many messages, then waits unanswered in each send."""
        (self.clock / "hold").write_text("".join(f"{host} {n}\n" for host, n in after.items()), encoding="utf-8")
        (self.clock / "hold").chmod(0o644)

    def release_sends(self) -> None:
        (self.clock / "hold").unlink(missing_ok=True)

    def write_env(self, values: dict[str, str]) -> None:
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")

    def command(self, *args: str) -> list[str]:
        files = [part for f in self.files for part in ("--file", str(f))]
        profiles = [part for p in self.profiles for part in ("--profile", p)]
        return ["docker", "compose", "--project-name", self.name, "--project-directory", str(ROOT),
                "--env-file", str(self.env_file), *files, *profiles, *args]  # fmt: skip

    def compose(self, *args: str, check: bool = True, timeout: float = START_SECONDS, **kwargs: Any
                ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        # Only the variables compose itself needs: nothing of this shell's environment reaches a container.
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG")}
        env["TEST_HARNESS"] = str(HERE / "harness")
        env["TEST_KEYS"] = str(self.keys)
        env["TEST_CLOCK"] = str(self.clock)
        return run(self.command(*args), check=check, timeout=timeout, env=env, **kwargs)

    def up(self, *services: str) -> None:
        self.compose("up", "--detach", "--no-build", *services)

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)
        # What compose could not take down (it refuses to read a project whose .env lacks a variable).
        label = f"label=com.docker.compose.project={self.name}"
        for kind in ("container", "volume", "network"):
            every = ["--all"] if kind == "container" else []
            left = run(["docker", kind, "ls", "--quiet", "--filter", label, *every], check=False).stdout.split()
            if left:
                run(["docker", kind, "rm", *(["--force"] if kind != "network" else []), *left], check=False)

    def containers(self) -> list[str]:
        """The project's containers, running or not, as the engine knows them."""
        label = f"label=com.docker.compose.project={self.name}"
        return run(["docker", "ps", "--all", "--quiet", "--filter", label]).stdout.split()

    def container(self, service: str) -> str:
        found = self.compose("ps", "--all", "--quiet", service).stdout.split()
        assert len(found) == 1, f"{service}: {found}"
        return found[0]

    def state(self, service: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(run(["docker", "inspect", "--format", "{{json .State}}",
                                                 self.container(service)]).stdout)  # fmt: skip
        return found

    def health(self, service: str) -> str:
        return str((self.state(service).get("Health") or {}).get("Status", "none"))

    def url(self, service: str, path: str = "") -> str:
        published = self.compose("port", service, "3978").stdout.strip()
        host, _, port = published.rpartition(":")
        assert host == "127.0.0.1", f"{service} is published on {published}, not on loopback only"
        return f"http://127.0.0.1:{port}{path}"

    def ready(self, service: str) -> None:
        wait_for(f"{service} /readyz ready", lambda: get(self.url(service, "/readyz"))[0] == 200)

    def healthy(self, *services: str) -> None:
        for service in services:
            wait_for(f"{service} healthy", lambda s=service: self.health(s) == "healthy")

    def logs(self, service: str) -> str:
        done = self.compose("logs", "--no-color", "--no-log-prefix", service)
        return done.stdout + done.stderr

    def sql(self, statement: str) -> list[list[str]]:
        """Rows of one statement, run by psql in the database's container."""
        done = self.compose("exec", "-T", "db", "psql", "--username=sobot", "--dbname=sobot", "--no-align",
                            "--tuples-only", "--field-separator=|", "--command", statement)  # fmt: skip
        return [line.split("|") for line in done.stdout.splitlines() if line]


@pytest.fixture
def make_stack(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Stack]]:
    """Compose projects for one test, each taken down with its volumes afterwards, whatever happened."""
    made: list[Stack] = []

    def make(*overrides: str, **kwargs: Any) -> Stack:
        stack = Stack(tmp_path_factory.mktemp("stack"), *overrides, **kwargs)
        made.append(stack)
        return stack

    try:
        yield make
    finally:
        for stack in made:
            stack.down()
