"""The Teams endpoint: POST /api/messages on the Agents SDK, with JWT checks whenever an app id is set."""

from __future__ import annotations

import functools
import ipaddress
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from microsoft_agents.activity import load_configuration_from_env
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_decorator
from microsoft_agents.hosting.core import (
    AgentAuthConfiguration,
    AnonymousTokenProvider,
    ChannelServiceClientFactoryBase,
    ClaimsIdentity,
    RestChannelServiceClientFactory,
    TurnContext,
)
from pydantic import ValidationError

from bot import activities
from bot.agent import SORRY, SobotAgent
from bot.clients import KeptClients
from bot.messenger import Messenger
from handlers.context import Context
from handlers.links import Links

log = logging.getLogger(__name__)

CLIENT_ID = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID"


class LoopbackRefused(ValueError):
    """Local mode (no app id) only listens on a loopback address."""


class LocalConnections:
    """Local mode's connections: no credentials, so every outbound call is anonymous."""

    def __init__(self) -> None:
        self._provider = AnonymousTokenProvider()
        self._configuration = AgentAuthConfiguration(anonymous_allowed=True)

    def get_connection(self, connection_name: str) -> AnonymousTokenProvider:
        return self._provider

    def get_default_connection(self) -> AnonymousTokenProvider:
        return self._provider

    def get_token_provider(self, claims_identity: ClaimsIdentity, service_url: str) -> AnonymousTokenProvider:
        return self._provider

    def get_token_provider_from_activity(self, *args: Any, **kwargs: Any) -> AnonymousTokenProvider:
        return self._provider

    def get_default_connection_configuration(self) -> AgentAuthConfiguration:
        return self._configuration


@dataclass
class TeamsBot:
    """The parts of the Teams channel, built once per app."""

    adapter: CloudAdapter
    agent: SobotAgent
    messenger: Messenger
    app_id: str | None
    auth: AgentAuthConfiguration | None
    links: Links


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def build_bot(
    ctx: Context,
    environ: Mapping[str, str],
    *,
    client_factory: ChannelServiceClientFactoryBase | None = None,
    unit_mailbox: str | None = None,
    dashboard: str,
) -> TeamsBot:
    """The adapter, agent and messenger; production credentials come from the SDK's own variables. `dashboard` is
    the dashboard's address (Settings.dashboard_url): the cards' "Open in sobot" opens its pages, in the Teams tab
    when there is an app id (the app package's id is the bot's)."""
    app_id = environ.get(CLIENT_ID) or None
    links = Links(dashboard, app_id)
    auth: AgentAuthConfiguration | None = None
    if app_id:
        connections = MsalConnectionManager(**load_configuration_from_env(dict(environ)))
        auth = connections.get_default_connection_configuration()
        auth.VALIDATE_ISSUER = True
        auth.ANONYMOUS_ALLOWED = False
        factory = KeptClients(client_factory or RestChannelServiceClientFactory(connections))
        adapter = CloudAdapter(connection_manager=connections, channel_service_client_factory=factory)
    else:
        factory = KeptClients(client_factory or RestChannelServiceClientFactory(LocalConnections()))
        adapter = CloudAdapter(channel_service_client_factory=factory)
        # Local mode has no app id by design; the SDK would warn of it on every turn.
        logging.getLogger("microsoft_agents.hosting.core.connector.client.user_token_client").setLevel(logging.ERROR)
    messenger = Messenger(adapter, app_id, factory)
    agent = SobotAgent(ctx, messenger, links, unit_mailbox)

    async def on_turn_error(context: TurnContext, error: Exception) -> None:
        log.error("turn failed: %s", type(error).__name__, exc_info=error)
        await context.send_activity(SORRY)

    adapter.on_turn_error = on_turn_error
    return TeamsBot(adapter, agent, messenger, app_id, auth, links)


BOT = web.AppKey("teams_bot", TeamsBot)
# Set on a request once it has passed the JWT check and reached sobot's own handler.
ENTERED = web.RequestKey("sobot_entered", bool)


def add_teams_endpoint(app: web.Application, bot: TeamsBot, host: str) -> None:
    """Mount POST /api/messages; with an app id every request passes the SDK's JWT check."""
    if bot.app_id is None and not is_loopback(host):
        raise LoopbackRefused(
            f"No Teams app id is set ({CLIENT_ID}), so sobot runs in local mode, which only listens on a loopback "
            f"address, not {host!r}. Set the app's credentials, or SOBOT_HOST=127.0.0.1."
        )

    async def messages(request: web.Request) -> web.StreamResponse:
        if bot.app_id is None and not is_loopback(request.remote or ""):
            return web.json_response({"error": "local mode accepts loopback callers only"}, status=403)
        request[ENTERED] = True
        try:
            body = await request.json()  # kept by aiohttp: the adapter reads the same body again
        except ValueError:
            return web.json_response({"error": "the body is not JSON"}, status=400)
        if (problem := activities.problem_with(body)) is not None:
            return web.json_response({"error": problem}, status=400)
        try:
            response = await bot.adapter.process(request, bot.agent)
        except ValidationError:
            return web.json_response({"error": "the body is not a Bot Framework activity"}, status=400)
        return response or web.Response(status=202)

    if bot.app_id is not None:
        if bot.auth is None:
            raise RuntimeError("an app id is configured but no JWT configuration was built: refusing to serve")
        with warnings.catch_warnings():
            # The SDK's JWT middleware reads its configuration under this plain string key.
            warnings.simplefilter("ignore", web.NotAppKeyWarning)
            app["agent_configuration"] = bot.auth
        checked = jwt_authorization_decorator(messages)  # type: ignore[no-untyped-call]

        @functools.wraps(checked)
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                response: web.StreamResponse = await checked(request)
            except KeyError:
                if request.get(ENTERED):
                    raise
                # The SDK's check looks the token's signing key up by its "kid" header without asking if it has one.
                return web.json_response({"error": "the token names no signing key"}, status=401)
            return response

        app.router.add_post("/api/messages", handler)
    else:
        log.warning(
            "Local mode: no Teams app id is set, so /api/messages accepts unauthenticated loopback callers only. "
            "Set %s (and its secret and tenant) for production.",
            CLIENT_ID,
        )
        app.router.add_post("/api/messages", messages)
    app[BOT] = bot
    _refuse_unprotected(app, bot)


def _refuse_unprotected(app: web.Application, bot: TeamsBot) -> None:
    """An app with an app id must guard its endpoint with the SDK's JWT check, or it does not start."""
    if bot.app_id is None:
        return
    for route in app.router.routes():
        endpoint = route.resource is not None and route.resource.canonical == "/api/messages" and route.method == "POST"
        guarded = getattr(route.handler, "__wrapped__", None) is not None and "agent_configuration" in app
        if endpoint and not guarded:
            raise RuntimeError("an app id is configured but /api/messages is not behind the JWT check")
