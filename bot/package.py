"""Builds the Teams app package (manifest and icons, zipped) that a Teams administrator uploads."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import struct
import sys
import zipfile
import zlib
from pathlib import Path

from bot.app import CLIENT_ID

MANIFEST = Path(__file__).resolve().parent.parent / "appPackage" / "manifest.json"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-zA-Z0-9-]{1,63}\.)+[a-zA-Z]{2,63}$")
NAVY = (0x1F, 0x4E, 0x79, 0xFF)
WHITE = (0xFF, 0xFF, 0xFF, 0xFF)
CLEAR = (0, 0, 0, 0)


class PackageError(ValueError):
    """The package cannot be built; the message says which value to set."""


def png(size: int, pixel: object) -> bytes:
    """An RGBA PNG of `size` pixels square, coloured by `pixel(x, y)`."""
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(size)) for y in range(size))  # type: ignore[operator]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def _clock_face(size: int, on: tuple[int, ...], off: tuple[int, ...]) -> object:
    """A ring with two hands: the reminder clock of the icons."""
    centre = (size - 1) / 2
    outer, inner = size * 0.42, size * 0.32

    def pixel(x: int, y: int) -> tuple[int, ...]:
        dx, dy = x - centre, y - centre
        distance = (dx * dx + dy * dy) ** 0.5
        ring = inner <= distance <= outer
        hour = abs(dx) <= size * 0.04 and -inner * 0.8 <= dy <= 0
        minute = abs(dy) <= size * 0.04 and 0 <= dx <= inner * 0.6
        return on if ring or hour or minute else off

    return pixel


def build(app_id: str, domain: str, developer: str, out: Path, sign_in_app_id: str = "") -> Path:
    """The package at `out`: the bot `app_id`, its tabs on `domain`, their single sign-on through `sign_in_app_id`
    (the dashboard's app registration, SOBOT_ENTRA_CLIENT_ID; the bot's own when empty)."""
    if not GUID.match(app_id):
        raise PackageError(f"{CLIENT_ID} must be the bot's Entra app (client) id, a GUID; got {app_id!r}.")
    sign_in_app_id = sign_in_app_id or app_id
    if not GUID.match(sign_in_app_id):
        raise PackageError(
            f"SOBOT_ENTRA_CLIENT_ID must be the dashboard's Entra app (client) id, a GUID; got {sign_in_app_id!r}."
        )
    if not DOMAIN.match(domain):
        raise PackageError(
            "SOBOT_BOT_DOMAIN must be the host name of the messaging endpoint, e.g. sobot.example.gov.uk; "
            f"got {domain!r}."
        )
    text = MANIFEST.read_text(encoding="utf-8")
    text = text.replace("${APP_ID}", app_id).replace("${BOT_DOMAIN}", domain)
    text = text.replace("${SIGN_IN_APP_ID}", sign_in_app_id)
    text = text.replace("${DEVELOPER_NAME}", json.dumps(developer)[1:-1])
    manifest = json.loads(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest, indent=2))
        package.writestr("color.png", png(192, _clock_face(192, WHITE, NAVY)))
        package.writestr("outline.png", png(32, _clock_face(32, WHITE, CLEAR)))
    out.write_bytes(buffer.getvalue())
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.package", description=__doc__)
    parser.add_argument("--app-id", default=os.environ.get(CLIENT_ID, ""), help=f"default: ${CLIENT_ID}")
    parser.add_argument("--domain", default=os.environ.get("SOBOT_BOT_DOMAIN", ""), help="default: $SOBOT_BOT_DOMAIN")
    parser.add_argument("--developer", default=os.environ.get("SOBOT_DEVELOPER_NAME", "The council"))
    parser.add_argument(
        "--sign-in-app-id",
        default=os.environ.get("SOBOT_ENTRA_CLIENT_ID", ""),
        help="the tabs' single sign-on app (default: $SOBOT_ENTRA_CLIENT_ID, else the bot's app id)",
    )
    parser.add_argument("--out", default="dist/sobot-teams-app.zip")
    args = parser.parse_args(argv)
    try:
        path = build(args.app_id, args.domain, args.developer, Path(args.out), args.sign_in_app_id)
    except PackageError as error:
        print(f"sobot: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"Wrote {path}: upload it in the Teams admin centre (Manage apps, Upload new app).")


if __name__ == "__main__":
    main()
