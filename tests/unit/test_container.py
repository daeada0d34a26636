"""The container files: what in compose.yaml and the Dockerfile would break a deployment, checked without Docker."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import make_mocked_request
from sqlalchemy.engine import make_url

from bot.app import CLIENT_ID
from sobot.app import build_services, create_app
from sobot.cli import build_parser
from sobot.settings import ENV_PREFIX, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
TEAMS_VARIABLES = [f"CONNECTIONS__SERVICE_CONNECTION__SETTINGS__{name}" for name in ("CLIENTID", "CLIENTSECRET",
                                                                                      "TENANTID")]  # fmt: skip
# What an operator's .env gives; any value will do, as long as each is used where it belongs.
DOT_ENV = {
    "POSTGRES_PASSWORD": "s3cretPassw0rd",
    TEAMS_VARIABLES[0]: "11111111-2222-3333-4444-555555555555",
    TEAMS_VARIABLES[1]: "client-secret-value",
    TEAMS_VARIABLES[2]: "66666666-7777-8888-9999-000000000000",
}
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class Unset(LookupError):
    """A ${NAME:?message} whose variable is not set: compose refuses to start."""


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}, applied through a parsed compose file."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if env.get(name):
            return env[name]
        if op in (":?", "?"):
            raise Unset(f"{name}: {arg}")
        return arg if op in (":-", "-") else ""

    return _VARIABLE.sub(one, value)


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any]) -> dict[str, Any]:
    interpolated: dict[str, Any] = interpolate(raw_compose, DOT_ENV)
    return interpolated


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def sobot_service(compose: dict[str, Any]) -> dict[str, Any]:
    services: dict[str, Any] = compose["services"]
    built = {name: s for name, s in services.items() if "build" in s}
    assert "sobot" in built, "compose.yaml should build the sobot service from the Dockerfile"
    assert {s.get("image") for s in built.values()} == {built["sobot"].get("image")}, "one image for every replica"
    return built["sobot"]


def replicas(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every service that runs sobot (the second replica is in the `replicas` profile)."""
    return {name: s for name, s in compose["services"].items() if "build" in s}


def database_service(compose: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    found = [(name, s) for name, s in compose["services"].items() if str(s.get("image", "")).startswith("postgres")]
    assert len(found) == 1, "compose.yaml should run exactly one PostgreSQL service"
    return found[0]


# --- the Dockerfile, read as Docker reads it -------------------------------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    found = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


def stages(text: str) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in instructions(text):
        if instruction[0] == "FROM":
            found.append([])
        assert found, "the Dockerfile must start with FROM"
        found[-1].append(instruction)
    return found


def exec_or_shell(arguments: str) -> list[str]:
    """An instruction's command: the JSON exec form, or the shell form run by /bin/sh -c."""
    if arguments.startswith("["):
        command: list[str] = json.loads(arguments)
        return command
    return ["/bin/sh", "-c", arguments]


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def runtime(dockerfile: str) -> list[tuple[str, str]]:
    return stages(dockerfile)[-1]


def last(stage: list[tuple[str, str]], word: str) -> str:
    found = [arguments for instruction, arguments in stage if instruction == word]
    assert found, f"the runtime stage has no {word}"
    return found[-1]


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction, arguments in stage:
        if instruction == "ENV":
            values.update(pair.split("=", 1) for pair in shlex.split(arguments))
    return values


# --- compose.yaml -----------------------------------------------------------------------------------------------------


def test_every_sobot_variable_in_compose_is_a_setting_and_loads(compose: dict[str, Any], tmp_path: Path) -> None:
    env = environment(sobot_service(compose))
    sobot_variables = {name: value for name, value in env.items() if name.startswith(ENV_PREFIX)}
    assert sobot_variables, "compose.yaml sets no SOBOT_ variable"
    unknown = [name for name in sobot_variables if name[len(ENV_PREFIX) :].lower() not in Settings.model_fields]
    assert unknown == [], f"not settings: {unknown}"
    settings = load_settings(sobot_variables, mailbox_dir=tmp_path / "mailbox")  # raises naming any bad value
    assert settings.host == "0.0.0.0"


def test_the_database_url_points_at_the_compose_database(compose: dict[str, Any]) -> None:
    name, db = database_service(compose)
    assert str(db["image"]).split(":")[1].startswith("16"), "the database should be PostgreSQL 16"
    url = make_url(environment(sobot_service(compose))["SOBOT_DATABASE_URL"])
    db_env = environment(db)
    assert url.drivername == "postgresql+asyncpg"
    assert url.host == name
    assert url.port in (None, 5432)
    assert url.username == db_env.get("POSTGRES_USER", "postgres")
    assert url.database == db_env.get("POSTGRES_DB", url.username)
    assert url.password == db_env["POSTGRES_PASSWORD"] == DOT_ENV["POSTGRES_PASSWORD"]


def test_sobot_waits_for_a_healthy_database_that_keeps_its_data(compose: dict[str, Any]) -> None:
    name, db = database_service(compose)
    healthcheck = db["healthcheck"]["test"]
    assert healthcheck[0] in ("CMD", "CMD-SHELL") and "pg_isready" in " ".join(healthcheck[1:])
    assert sobot_service(compose)["depends_on"][name]["condition"] == "service_healthy"
    data = [v for v in db["volumes"] if str(v).endswith(":/var/lib/postgresql/data")]
    assert len(data) == 1 and data[0].split(":")[0] in (compose.get("volumes") or {}), "a named volume for the data"
    assert "ports" not in db, "the database is reached over the compose network only"


def test_the_teams_variables_come_from_dot_env_and_are_required(raw_compose: dict[str, Any]) -> None:
    env = environment(sobot_service(interpolate(raw_compose, DOT_ENV)))
    for name in TEAMS_VARIABLES:
        assert env[name] == DOT_ENV[name], f"{name} should be passed through from .env"
    assert env.get("CONNECTIONS__SERVICE_CONNECTION__SETTINGS__AUTHTYPE", "ClientSecret") == "ClientSecret"
    for missing in (*TEAMS_VARIABLES, "POSTGRES_PASSWORD"):
        with pytest.raises(Unset, match=missing):
            interpolate(raw_compose, {k: v for k, v in DOT_ENV.items() if k != missing})


def test_the_service_starts_on_all_addresses_with_the_teams_app_set(compose: dict[str, Any], tmp_path: Path) -> None:
    env = environment(sobot_service(compose))
    settings = load_settings({k: v for k, v in env.items() if k.startswith(ENV_PREFIX)}, mailbox_dir=tmp_path / "mb")
    app = create_app(build_services(settings), run_jobs=False, environ=env)  # LoopbackRefused without an app id
    assert env[CLIENT_ID] and "agent_configuration" in app, "/api/messages must be behind the JWT check"


def test_each_replica_has_the_same_settings_its_own_port_and_its_own_var(compose: dict[str, Any]) -> None:
    services = replicas(compose)
    assert len(services) >= 2, "compose.yaml should offer a second replica (profile replicas)"
    assert all(s.get("profiles") for name, s in services.items() if name != "sobot"), "more replicas are opt-in"
    assert len({json.dumps(environment(s), sort_keys=True) for s in services.values()}) == 1, "the same settings"
    ports = [str(p).rsplit(":", 1)[0] for s in services.values() for p in s["ports"]]
    assert len(ports) == len(set(ports)), f"each replica publishes its own host port: {ports}"
    volumes = [str(v).split(":")[0] for s in services.values() for v in s["volumes"]]
    assert len(volumes) == len(set(volumes)), f"each replica keeps its own var/ volume: {volumes}"


def test_the_port_published_is_the_one_sobot_and_the_image_use(compose: dict[str, Any], runtime: list) -> None:
    service = sobot_service(compose)
    port = environment(service).get("SOBOT_PORT") or env_of(runtime)["SOBOT_PORT"]
    published = [str(p).rsplit(":", 1) for p in service["ports"]]
    assert [port, port] in published
    assert last(runtime, "EXPOSE").split("/")[0] == port == env_of(runtime)["SOBOT_PORT"]


def test_var_is_a_volume_where_the_relative_default_paths_land(compose: dict[str, Any], runtime: list) -> None:
    workdir = PurePosixPath(last(runtime, "WORKDIR"))
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in sobot_service(compose)["volumes"]}
    assert str(workdir / "var") in mounts, f"var/ under {workdir} should be a volume"
    assert mounts[str(workdir / "var")] in (compose.get("volumes") or {})
    defaults = Settings()
    assert str(defaults.mailbox_dir).startswith("var/") and defaults.database_url.endswith("///var/sobot.db")


# --- the Dockerfile ---------------------------------------------------------------------------------------------------


def test_the_image_is_built_in_stages_on_slim_python(dockerfile: str, runtime: list) -> None:
    built = stages(dockerfile)
    assert len(built) >= 2, "the image should be multi-stage"
    assert re.fullmatch(r"python:3\.\d+-slim(?:-\w+)?", last(runtime, "FROM").split()[0])
    assert any(i == "COPY" and a.startswith("--from=") for i, a in runtime), "the runtime copies the build's output"
    build_stage_copies = " ".join(a for stage in built[:-1] for i, a in stage if i == "COPY")
    for package in ("sobot", "bot", "handlers", "scheduler", "storage", "mail"):
        assert re.search(rf"(?:^|\s){package}(?:\s|/|$)", build_stage_copies), (
            f"{package}/ is not copied into the build"
        )


def test_the_service_runs_as_an_unprivileged_user(runtime: list) -> None:
    user = last(runtime, "USER").split(":")[0]
    assert user not in ("root", "0", ""), "the runtime must not run as root"
    words = [i for i, _ in runtime]
    assert words.index("USER") < words.index("CMD")


def test_the_healthcheck_asks_a_path_the_app_serves(runtime: list, tmp_path: Path) -> None:
    check = last(runtime, "HEALTHCHECK")
    assert check.split()[0] != "NONE"
    path = re.search(r"127\.0\.0\.1:[^/]*(/[a-z]+)", check)
    assert path is not None, check
    settings = load_settings({}, mail_backend="none", database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    app = create_app(build_services(settings), run_jobs=False, environ={})
    routes = {(r.method, r.resource.canonical): r.handler for r in app.router.routes() if r.resource is not None}
    assert ("GET", path[1]) in routes, f"the app serves no GET {path[1]}"


async def test_the_health_path_answers_without_the_database(tmp_path: Path) -> None:
    settings = load_settings({}, mail_backend="none", database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    app = create_app(build_services(settings), run_jobs=False, environ={})
    handler = next(r.handler for r in app.router.routes() if r.method == "GET" and r.resource.canonical == "/healthz")
    response = await handler(make_mocked_request("GET", "/healthz", app=app))
    assert response.status == 200


def test_the_command_is_sobot_serve_which_migrates_before_it_listens(runtime: list) -> None:
    import inspect

    from sobot import serve

    command = exec_or_shell(last(runtime, "CMD"))
    assert command[0] == "sobot", "sobot itself should be the container's first process, so it gets the stop signal"
    assert build_parser().parse_args(command[1:]).handler.__name__ == "serve"
    source = inspect.getsource(serve.serve)
    assert source.index("await upgrade(") < source.index("site.start()"), "serve migrates before it listens"


def test_dockerignore_keeps_secrets_out_and_the_sources_in(dockerfile: str) -> None:
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()]
    assert ".env" in ignored
    copied = [src for stage in stages(dockerfile) for i, a in stage if i == "COPY" and "--from" not in a
              for src in a.split()[:-1]]  # fmt: skip
    assert not set(copied) & set(ignored), "the Dockerfile copies something .dockerignore leaves out"
