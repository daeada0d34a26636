"""A fake of Microsoft's sign-in endpoints over TLS: the Bot Framework's signing keys, and Entra ID's tenant
discovery and client-credentials token, which the SDK asks for on every turn.

Runs in a container of the compose network under the names login.botframework.com and login.microsoftonline.com
(standard library only); it answers nothing else.
"""

import http.server
import json
import ssl
import sys
from pathlib import Path

keys = Path(sys.argv[1])
JWKS = (keys / "jwks.json").read_bytes()
ENTRA = "https://login.microsoftonline.com"


def discovery(tenant: str) -> dict[str, str]:
    return {"issuer": f"{ENTRA}/{tenant}/v2.0", "token_endpoint": f"{ENTRA}/{tenant}/oauth2/v2.0/token",
            "authorization_endpoint": f"{ENTRA}/{tenant}/oauth2/v2.0/authorize",
            "jwks_uri": f"{ENTRA}/{tenant}/discovery/v2.0/keys"}  # fmt: skip


class Endpoints(http.server.BaseHTTPRequestHandler):
    def answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.endswith("/keys"):
            self.answer(JWKS)
        elif path.endswith("/openid-configuration"):
            self.answer(json.dumps(discovery(path.strip("/").split("/")[0])).encode())
        elif path.endswith("/discovery/instance"):
            common = f"{ENTRA}/common/v2.0/.well-known/openid-configuration"
            self.answer(json.dumps({"tenant_discovery_endpoint": common, "metadata": []}).encode())
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path.split("?")[0].endswith("/oauth2/v2.0/token"):
            self.answer(b'{"access_token": "container-test", "token_type": "Bearer", "expires_in": 3600}')
        else:
            self.send_error(404)


server = http.server.ThreadingHTTPServer(("0.0.0.0", 443), Endpoints)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(keys / "server.pem", keys / "server.key")
server.socket = context.wrap_socket(server.socket, server_side=True)
print("keys: serving on 443", flush=True)
server.serve_forever()
