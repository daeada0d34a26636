"""`sobot mail poll --once`, a process of its own, against the Microsoft Graph and EWS fakes when they are down, answer
with errors, or refuse sobot: one sentence saying what to check, exit status 2, no traceback, and nothing read lost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.entra import FakeEntra, Tls, entra_in_thread, in_thread, make_tls
from tests.fakes.ews import FakeEws, serve_ews
from tests.fakes.graph import FakeGraph, serve_graph
from tests.faults.proxy import free_port
from tests.integration.test_cli import refused, sobot
from tests.integration.test_cli_mail import one_sentence, order_mail, with_staff
from tests.vouching import TRUST_ENVIRONMENT

UNIT = "safeguarding.unit@example.gov.uk"
EWS_USER = "unit-service"
EWS_PASSWORD = "correct horse battery staple"


def base_env(tmp_path: Path) -> dict[str, str]:
    return {"SOBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sobot.db'}", "SOBOT_UNIT_ADDRESS": UNIT,
            "SOBOT_ALLOWED_SENDER_DOMAINS": '["example.gov.uk"]', **TRUST_ENVIRONMENT}  # fmt: skip


@pytest.fixture
def entra(tmp_path: Path) -> Iterator[tuple[FakeEntra, Tls]]:
    tls = make_tls(tmp_path / "tls")
    with entra_in_thread(tls) as fake:
        yield fake, tls


@pytest.fixture
def graph(entra: tuple[FakeEntra, Tls]) -> Iterator[FakeGraph]:
    tokens, _ = entra
    fake = FakeGraph(user=UNIT, token="", accepts=tokens.app_tokens.__contains__)
    with in_thread(lambda: serve_graph(UNIT, "", fake)) as served:
        yield served


def graph_env(
    tmp_path: Path, entra: tuple[FakeEntra, Tls], graph_url: str, secret: str | None = None
) -> dict[str, str]:
    tokens, tls = entra
    return with_staff(base_env(tmp_path) | {
        "SOBOT_MAIL_BACKEND": "graph", "SOBOT_GRAPH_MAILBOX": UNIT, "SOBOT_GRAPH_TENANT_ID": tokens.tenant,
        "SOBOT_GRAPH_CLIENT_ID": tokens.client_id, "SOBOT_GRAPH_CLIENT_SECRET": secret or tokens.client_secret,
        "SOBOT_GRAPH_URL": graph_url, "SOBOT_ENTRA_AUTHORITY_HOST": tokens.base_url,
        "REQUESTS_CA_BUNDLE": str(tls.ca_file),
    }, tmp_path)  # fmt: skip


def graph_root(graph: FakeGraph) -> str:
    return graph.base_url.removesuffix("/v1.0")


def test_the_graph_fake_answering_is_read_once_so_the_failures_below_are_the_servers(
    tmp_path: Path, entra: tuple[FakeEntra, Tls], graph: FakeGraph
) -> None:
    graph.deliver(order_mail("LCS-600001"))
    result = sobot("mail", "poll", "--once", env=graph_env(tmp_path, entra, graph_root(graph)))
    assert result.returncode == 0, result.stderr
    assert "1 new order " in result.stdout and len(graph.in_folder("Processed")) == 1


def test_graph_not_listening_is_one_sentence_and_status_2(tmp_path: Path, entra: tuple[FakeEntra, Tls]) -> None:
    result = sobot("mail", "poll", "--once", env=graph_env(tmp_path, entra, f"http://127.0.0.1:{free_port()}"))
    refused(result, "I can't use the unit's mail server", "could not be reached", "SOBOT_GRAPH_*")
    assert one_sentence(result.stderr), result.stderr


@pytest.mark.parametrize("status", [500, 502])
def test_graph_answering_server_errors_is_one_sentence_and_status_2_and_nothing_is_lost(
    tmp_path: Path, entra: tuple[FakeEntra, Tls], graph: FakeGraph, status: int
) -> None:
    graph.deliver(order_mail("LCS-600002"))
    graph.failing = (status, "ServiceUnavailable")
    env = graph_env(tmp_path, entra, graph_root(graph))
    result = sobot("mail", "poll", "--once", env=env)
    refused(result, "I can't use the unit's mail server", str(status), "SOBOT_GRAPH_*")
    assert one_sentence(result.stderr), result.stderr

    graph.failing = None
    result = sobot("mail", "poll", "--once", env=env)
    assert result.returncode == 0 and "1 new order " in result.stdout, result


def test_graph_refusing_the_app_is_one_sentence_and_status_2(
    tmp_path: Path, entra: tuple[FakeEntra, Tls], graph: FakeGraph
) -> None:
    graph.failing = (403, "ErrorAccessDenied")
    result = sobot("mail", "poll", "--once", env=graph_env(tmp_path, entra, graph_root(graph)))
    refused(result, "refused sobot", "403", "SOBOT_GRAPH_*")
    assert one_sentence(result.stderr), result.stderr


def test_entra_refusing_the_apps_secret_is_one_sentence_and_status_2(
    tmp_path: Path, entra: tuple[FakeEntra, Tls], graph: FakeGraph
) -> None:
    env = graph_env(tmp_path, entra, graph_root(graph), secret="not the secret")
    result = sobot("mail", "poll", "--once", env=env)
    refused(result, "refused sobot", "invalid_client", "SOBOT_GRAPH_*")
    assert "not the secret" not in result.stderr and one_sentence(result.stderr), result.stderr
    assert graph.requests == []


@pytest.fixture
def ews() -> Iterator[FakeEws]:
    with in_thread(lambda: serve_ews(UNIT, EWS_USER, EWS_PASSWORD)) as served:
        yield served


def ews_env(tmp_path: Path, endpoint: str, password: str = EWS_PASSWORD) -> dict[str, str]:
    return with_staff(base_env(tmp_path) | {
        "SOBOT_MAIL_BACKEND": "ews", "SOBOT_EWS_ENDPOINT": endpoint, "SOBOT_EWS_USERNAME": EWS_USER,
        "SOBOT_EWS_PASSWORD": password, "SOBOT_EWS_AUTH_TYPE": "basic", "SOBOT_EWS_MAX_WAIT": "1",
    }, tmp_path)  # fmt: skip


def test_the_ews_fake_answering_is_read_once_so_the_failures_below_are_the_servers(
    tmp_path: Path, ews: FakeEws
) -> None:
    ews.deliver(order_mail("LCS-700001"))
    result = sobot("mail", "poll", "--once", env=ews_env(tmp_path, ews.endpoint))
    assert result.returncode == 0, result.stderr
    assert "1 new order " in result.stdout and len(ews.in_folder("Processed")) == 1


def test_ews_not_listening_is_one_sentence_and_status_2(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}/EWS/Exchange.asmx"
    result = sobot("mail", "poll", "--once", env=ews_env(tmp_path, endpoint))
    refused(result, "I can't use the unit's mail server", "could not be reached", "SOBOT_EWS_*")
    assert one_sentence(result.stderr), result.stderr


def test_ews_answering_server_errors_is_one_sentence_and_status_2_and_nothing_is_lost(
    tmp_path: Path, ews: FakeEws
) -> None:
    ews.deliver(order_mail("LCS-700002"))
    ews.failing = 500
    env = ews_env(tmp_path, ews.endpoint)
    result = sobot("mail", "poll", "--once", env=env)
    refused(result, "I can't use the unit's mail server", "SOBOT_EWS_*")
    assert one_sentence(result.stderr), result.stderr

    ews.failing = None
    result = sobot("mail", "poll", "--once", env=env)
    assert result.returncode == 0 and "1 new order " in result.stdout, result


def test_ews_refusing_the_login_is_one_sentence_and_status_2(tmp_path: Path, ews: FakeEws) -> None:
    result = sobot("mail", "poll", "--once", env=ews_env(tmp_path, ews.endpoint, password="not the password"))
    refused(result, "SOBOT_EWS_*", "wrong user name or password")
    assert "not the password" not in result.stderr and one_sentence(result.stderr), result.stderr
    assert ews.operations == []
