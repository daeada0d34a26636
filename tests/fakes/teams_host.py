"""A stand-in for Teams' web client hosting a tab: a page that frames the tab and answers TeamsJS's messages.

TeamsJS in the tab talks to its host by postMessage: it sends {id, uuidAsString, func, args} and takes back
{id, uuidAsString, args}. This host answers `initialize` as Teams' web client does (the frame's context, the
client type, a runtime configuration, the SDK version it supports), `getContext` with the tab's context as Teams
gives it (legacy field names: a deep link's subEntityId, which TeamsJS hands the tab as page.subPageId), and
`authentication.getAuthToken` with the token the test chooses; for a configuration page it keeps what
`setValidityState` and `setSettings` said and has a Save button (`pressSave()`). It records every call, for the
test to read back. The browser is told to resolve teams.microsoft.com to this server, so the tab is framed from
the origin its Content-Security-Policy allows.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from tests.fakes.entra import Tls

# What Teams' web client says it supports, in the runtime configuration's shape (apiVersion 4).
RUNTIME = {"apiVersion": 4, "isLegacyTeams": False,
           "supports": {"app": {}, "appEntity": {}, "authentication": {}, "pages": {"config": {}, "tabs": {}},
                        "teamsCore": {}}}  # fmt: skip

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Microsoft Teams</title></head>
<body>
<iframe id="tab" name="tab" title="sobot" src="{tab}" width="1200" height="1400"></iframe>
<script>
window.teamsCalls = [];
window.addEventListener("message", function (event) {{
  var message = event.data;
  if (!message || typeof message.func !== "string") {{ return; }}
  window.teamsCalls.push(message.func);
  function reply(args) {{
    event.source.postMessage({{ id: message.id, uuidAsString: message.uuidAsString, args: args }}, event.origin);
  }}
  if (message.func === "initialize") {{ reply([{context}, "web", {runtime}, "2.58.0"]); }}
  if (message.func === "getContext") {{ reply([{tab_context}]); }}
  if (message.func === "authentication.getAuthToken") {{ reply([true, {token}]); }}
  if (message.func === "settings.setValidityState") {{ window.tabValid = message.args[0]; }}
  if (message.func === "settings.setSettings") {{ window.tabSettings = message.args[0]; reply([true]); }}
  if (message.func === "settings.save.success") {{ window.tabSaved = true; }}
}});
// The configuration dialog's Save button.
window.pressSave = function () {{
  document.getElementById("tab").contentWindow.postMessage({{ func: "settings.save", args: [{{}}] }}, "*");
}};
</script>
</body></html>
"""


@dataclass
class TeamsHost:
    tab_url: str
    token: Callable[[], str]
    """The token getAuthToken hands the tab, made afresh for each page."""
    context: str = "content"
    """The frame's context: "content" for a tab, "settings" for a channel tab's configuration page."""
    sub_entity_id: str = ""
    """What a deep link into the tab carried in its context's subEntityId (an order's reference), if any."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._page)
        return app

    async def _page(self, request: web.Request) -> web.Response:
        page = PAGE.format(
            tab=self.tab_url,
            runtime=json.dumps(json.dumps(RUNTIME)),
            token=json.dumps(self.token()),
            context=json.dumps(self.context),
            tab_context=json.dumps(
                {
                    "frameContext": self.context,
                    "entityId": "sobot-caseload",
                    "subEntityId": self.sub_entity_id,
                    "locale": "en-gb",
                }
            ),
        )
        return web.Response(text=page, content_type="text/html")


@asynccontextmanager
async def serve_teams_host(tls: Tls, host: TeamsHost) -> AsyncIterator[int]:
    """The host page over TLS on a free loopback port; yields the port."""
    runner = web.AppRunner(host.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.server_context())
    await site.start()
    try:
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()
