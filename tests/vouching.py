"""Mail as the council's own mail system delivers it from an internal sender: vouched for, as sobot requires."""

from __future__ import annotations

from mail.parsing import read_headers
from mail.trust import SenderTrust

AUTHSERV_ID = "mx.example.gov.uk"
# The trust a test's Poller is built with: the test council's mail server, by its authserv-id.
TRUST = SenderTrust("authentication-results", (AUTHSERV_ID,))
EXCHANGE = SenderTrust("exchange")
# The settings that give the service built by the composition root the same trust.
TRUST_SETTINGS = {"mail_authserv_ids": [AUTHSERV_ID]}
TRUST_ENVIRONMENT = {"SOBOT_MAIL_AUTHSERV_IDS": f'["{AUTHSERV_ID}"]'}


def vouched(raw: bytes, *, authserv_id: str = AUTHSERV_ID) -> bytes:
    """`raw` with what the council's border server and Exchange stamp on mail from one of their own:
    dmarc=pass for the From's domain, and Exchange's internal-sender marker."""
    domain = read_headers(raw).sender_email.rpartition("@")[2] or "example.gov.uk"
    newline = b"\r\n" if b"\r\n" in raw[:2000] else b"\n"
    stamp = (
        f"Authentication-Results: {authserv_id}; spf=pass smtp.mailfrom={domain}; dkim=pass header.d={domain}; "
        f"dmarc=pass action=none header.from={domain}"
    )
    return stamp.encode() + newline + b"X-MS-Exchange-Organization-AuthAs: Internal" + newline + raw
