"""compose.yaml and the image, running: PostgreSQL and migrations, health, the Teams endpoint, volumes, the user."""

from __future__ import annotations

import json
import re
import tarfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.container.conftest import DOT_ENV, Stack, get, run
from tests.container.keys import SigningKeys

CLIENT_ID = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID"
REVISION = re.compile(r"Running upgrade (\S*) -> (\S+),")
REQUIRED = ["POSTGRES_PASSWORD", CLIENT_ID, "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET",
            "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID"]  # fmt: skip


@pytest.fixture(scope="module")
def stack(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One project for the module, up with PostgreSQL; down with its volumes at the end, whatever happened."""
    stack = Stack(tmp_path_factory.mktemp("stack"))
    try:
        stack.up()
        stack.ready("sobot")
        yield stack
    finally:
        stack.down()


def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def help_message() -> dict[str, Any]:
    # expectReplies: the answer comes back in the response, not through the Teams connector (the SDK still asks
    # Entra ID for its token on each turn: the fake answers that too).
    return {"type": "message", "id": "m1", "channelId": "msteams", "serviceUrl": "https://smba.trafficmanager.net/uk/",
            "deliveryMode": "expectReplies", "text": "help", "from": {"id": "29:x", "aadObjectId": "nobody"},
            "recipient": {"id": "28:sobot"}, "conversation": {"id": "a:x", "conversationType": "personal"}}  # fmt: skip


def head() -> str:
    """The newest migration of this checkout, which the image carries too."""
    from alembic.script import ScriptDirectory

    from storage.migrate import alembic_config

    found = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://")).get_current_head()
    assert found
    return found


def schema_marks(stack: Stack) -> list[list[str]]:
    """The version row's transaction and every table's identity: a migration run again would change them."""
    tables = "SELECT relname, oid::text FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
    return stack.sql(f"SELECT version_num, xmin::text FROM alembic_version UNION ALL {tables} ORDER BY 1")


def test_up_migrates_once_and_both_healthchecks_pass(stack: Stack) -> None:
    stack.healthy("db", "sobot")
    assert get(stack.url("sobot", "/healthz")) == (200, {"status": "ok"})
    status, body = get(stack.url("sobot", "/readyz"))
    assert status == 200 and body["status"] == "ready", body
    assert stack.sql("SELECT version_num FROM alembic_version") == [[head()]]
    assert stack.state("sobot")["Running"] and stack.state("sobot")["ExitCode"] == 0
    assert run(["docker", "inspect", "--format", "{{.RestartCount}}", stack.container("sobot")]).stdout.strip() == "0"
    logs = stack.logs("sobot")
    applied = REVISION.findall(logs)
    assert applied and applied[0][0] == "" and applied[-1][1] == head(), f"not migrated from empty to head: {logs}"
    assert len({to for _, to in applied}) == len(applied), f"a migration ran twice: {applied}"
    assert "sobot is listening on http://0.0.0.0:3978 (database postgresql+asyncpg)" in logs


def test_the_service_runs_as_the_unprivileged_user(stack: Stack) -> None:
    container = stack.container("sobot")
    status = run(["docker", "exec", container, "cat", "/proc/1/status"]).stdout
    uid = re.search(r"^Uid:\s+(\d+)\s+(\d+)", status, re.MULTILINE)
    assert uid is not None and uid.groups() == ("10001", "10001"), status
    command = run(["docker", "exec", container, "cat", "/proc/1/cmdline"]).stdout.split("\0")
    assert command[1:3] == ["/opt/sobot/bin/sobot", "serve"], f"sobot is not the container's first process: {command}"


def test_the_image_holds_no_tests_no_dot_env_and_no_secrets(image: str, tmp_path: Path) -> None:
    config = json.loads(run(["docker", "image", "inspect", "--format", "{{json .Config}}", image]).stdout)
    assert not [e for e in config["Env"] if re.search(r"SECRET|PASSWORD|CLIENTID|TENANTID", e.split("=")[0])]
    archive = tmp_path / "image.tar"
    run(["docker", "save", "--output", str(archive), image], timeout=300)
    names: list[str] = []
    holding: list[str] = []
    secrets = [value.encode() for value in DOT_ENV.values()]
    with tarfile.open(archive) as outer:
        for layer in (m for m in outer.getmembers() if m.name.endswith("layer.tar")):
            with tarfile.open(fileobj=outer.extractfile(layer)) as inner:
                for member in inner:
                    names.append(member.name)
                    if member.isfile() and member.name.startswith(("home/", "opt/sobot/bin/", "etc/", "root/")):
                        content = inner.extractfile(member).read()  # type: ignore[union-attr]
                        holding += [member.name for secret in secrets if secret in content]
    assert any(n.endswith("site-packages/sobot/app.py") for n in names), "not the layers of the sobot image"
    sobot = [n for n in names if n.startswith("opt/sobot/")]
    assert not [n for n in sobot if re.search(r"(^|/)(tests?|conftest\.py)(/|$)", n)], "test files in the image"
    assert not [n for n in names if re.search(r"(^|/)(\.env|[^/]*\.env)$", n)], "a .env file in the image"
    assert not [n for n in sobot if "/pip/" in n or n.endswith((".whl", ".pyx", ".c"))], "build leftovers"
    assert holding == [], "a secret of the suite's .env is in a layer"


def test_a_turn_with_a_signed_token_is_answered_and_one_without_gets_401(stack: Stack) -> None:
    url = stack.url("sobot", "/api/messages")
    status, _ = post(url, help_message(), {})
    assert status == 401
    forged = SigningKeys(stack.keys.parent / "forged")  # a key the keys endpoint does not publish
    status, _ = post(url, help_message(), {"Authorization": f"Bearer {forged.token(DOT_ENV[CLIENT_ID])}"})
    assert status == 401, "a token signed by a key Microsoft does not publish"
    token = stack.signing.token(DOT_ENV[CLIENT_ID], serviceurl=help_message()["serviceUrl"])
    status, body = post(url, help_message(), {"Authorization": f"Bearer {token}"})
    assert status == 200, body
    texts = [a.get("text", "") for a in body["activities"]]
    assert any("ask the Safeguarding Unit" in t for t in texts), texts  # a stranger is told whom to ask
    assert "GET /v1/.well-known/keys" in stack.logs("keys"), "the keys came from the fake"


def test_data_survives_down_and_up_and_a_second_upgrade_does_nothing(stack: Stack) -> None:
    stack.sql(
        "INSERT INTO people (name, email, roles, active, created_at, updated_at) "
        "VALUES ('Kept Person', 'kept@localhost', '[]', true, now(), now())"
    )
    marks = schema_marks(stack)
    assert [head(), marks[0][1]] in marks and len(marks) > 10, marks
    stack.compose("down")  # the containers go; the named volumes stay
    assert stack.containers() == []
    stack.up()
    stack.ready("sobot")
    assert stack.sql("SELECT name FROM people WHERE email = 'kept@localhost'") == [["Kept Person"]]
    for _ in range(2):
        upgrade = stack.compose("run", "--rm", "--no-deps", "sobot", "sobot", "db", "upgrade")
        assert "The database schema is up to date." in upgrade.stdout
    assert schema_marks(stack) == marks, "a migration ran again"


@pytest.mark.parametrize("missing", REQUIRED)
def test_compose_refuses_to_start_without_each_secret(make_stack: Any, missing: str) -> None:
    stack = make_stack(env={k: v for k, v in DOT_ENV.items() if k != missing})
    refused = stack.compose("up", "--detach", "--no-build", check=False)
    assert refused.returncode != 0
    assert f"required variable {missing} is missing a value" in refused.stderr, refused.stderr
    assert stack.containers() == [], "compose started something"


def test_the_image_refuses_to_serve_without_the_teams_app_naming_what_is_missing(image: str) -> None:
    only_id = run(["docker", "run", "--rm", "--env", f"{CLIENT_ID}=x", image], check=False)
    assert only_id.returncode == 2
    assert "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET" in only_id.stderr, only_id.stderr
    assert "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID" in only_id.stderr
    assert "listening" not in only_id.stderr + only_id.stdout
    none = run(["docker", "run", "--rm", image], check=False)
    assert none.returncode == 2
    assert all(name in none.stderr for name in REQUIRED[1:]), none.stderr
