"""A bare Agents SDK echo agent on aiohttp: the baseline the Teams benchmark measures sobot beside."""

from __future__ import annotations

import sys

from aiohttp import web
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import ActivityHandler, RestChannelServiceClientFactory, TurnContext

from bot.app import LocalConnections
from sobot.serve import event_loop


class Echo(ActivityHandler):
    async def on_message_activity(self, turn_context: TurnContext) -> None:  # type: ignore[override]
        await turn_context.send_activity(f"You said: {turn_context.activity.text}")


def main() -> None:
    adapter = CloudAdapter(channel_service_client_factory=RestChannelServiceClientFactory(LocalConnections()))
    agent = Echo()

    async def messages(request: web.Request) -> web.StreamResponse:
        return await adapter.process(request, agent) or web.Response(status=202)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    # On the event loop `sobot serve` runs on, so the two are measured alike.
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=lambda *_: print("listening", flush=True),
                loop=event_loop())  # fmt: skip


if __name__ == "__main__":
    main()
