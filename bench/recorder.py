"""A loopback Bot Framework connector in its own process for benchmarks: it answers posts and counts them.

python -m bench.recorder PORT — POST /v3/conversations/{id}/activities answers {"id": …}; GET /count tells.
"""

from __future__ import annotations

import itertools
import sys

from aiohttp import web


def build() -> web.Application:
    ids = itertools.count(1)
    counts = {"posts": 0}

    async def post(request: web.Request) -> web.Response:
        await request.read()
        counts["posts"] += 1
        return web.json_response({"id": f"activity-{next(ids)}"})

    async def count(request: web.Request) -> web.Response:
        return web.json_response(counts)

    app = web.Application()
    app.router.add_post("/v3/conversations/{conversation}/activities", post)
    app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", post)
    app.router.add_get("/count", count)
    return app


if __name__ == "__main__":
    web.run_app(build(), host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
