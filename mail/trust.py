"""Whether the council's own mail system vouches for a message's sender: a From line alone proves nothing.

Two ways to vouch, chosen by settings (SOBOT_MAIL_SENDER_TRUST):

- `authentication-results`: the council's mail server, named by its authserv-id (SOBOT_MAIL_AUTHSERV_IDS), wrote
  an Authentication-Results header (RFC 8601) saying dmarc=pass for the From's domain, or both spf=pass and
  dkim=pass for it. Only the topmost header with one of those ids is read: the server adds its own above any
  a sender wrote, and RFC 8601 section 5 has it delete forged ones bearing its id on the way in.
- `exchange`: Exchange stamped `X-MS-Exchange-Organization-AuthAs: Internal`, its mark of a sender who signed in
  to the organisation (external mail is stamped `Anonymous`, a partner's `Partner`). Exchange Online and
  Exchange Server both strip every X-MS-Exchange-Organization-* header a message brings from outside the
  organisation (the "header firewall"), so a sender cannot forge it. Both are described in "Demystifying and
  troubleshooting hybrid mail flow: when is a message internal?" on the Exchange Team Blog
  (https://techcommunity.microsoft.com/t5/exchange-team-blog/demystifying-and-troubleshooting-hybrid-mail-flow-when-is-a/ba-p/1420838),
  and the header firewall in the Exchange Server documentation's page of that name.

`auto` (the default) is `exchange` for the graph and ews backends and `authentication-results` otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

TrustMethod = Literal["authentication-results", "exchange"]


@dataclass(frozen=True)
class SenderTrust:
    """How this council's mail system vouches for a sender. With no authserv-id named, no
    Authentication-Results header is believed, so every sender goes to Needs attention."""

    method: TrustMethod = "authentication-results"
    authserv_ids: tuple[str, ...] = ()


def trust_method(setting: str, backend: str) -> TrustMethod:
    """The method SOBOT_MAIL_SENDER_TRUST names, with `auto` made the backend's own."""
    if setting == "auto":
        return "exchange" if backend in ("graph", "ews") else "authentication-results"
    if setting == "exchange":
        return "exchange"
    return "authentication-results"


def vouched(
    trust: SenderTrust,
    sender_email: str,
    authentication_results: Sequence[str],
    exchange_auth_as: Sequence[str],
) -> bool:
    """Whether the mail system vouches that `sender_email` sent the message (headers topmost first)."""
    domain = sender_email.rpartition("@")[2].lower()
    if not domain:
        return False
    if trust.method == "exchange":
        return bool(exchange_auth_as) and exchange_auth_as[0].strip().lower() == "internal"
    ours = {authserv_id.lower() for authserv_id in trust.authserv_ids}
    for header in authentication_results:
        results = read_authentication_results(header)
        if results is None or results.authserv_id not in ours:
            continue
        return results.passes_for(domain)
    return False


@dataclass(frozen=True)
class MethodResult:
    """One `method=result` of an Authentication-Results header, with its properties (`header.from`, …)."""

    method: str
    result: str
    properties: dict[str, str]


@dataclass(frozen=True)
class AuthenticationResults:
    authserv_id: str
    results: tuple[MethodResult, ...]

    def passes_for(self, domain: str) -> bool:
        """dmarc=pass for the domain, or spf=pass and dkim=pass both for it (RFC 8601 section 2.7)."""

        def passed(method: str, *properties: str) -> bool:
            return any(
                found.method == method and found.result == "pass"
                and any(_domain_of(found.properties.get(name, "")) == domain for name in properties)
                for found in self.results
            )  # fmt: skip

        return passed("dmarc", "header.from") or (
            passed("spf", "smtp.mailfrom") and passed("dkim", "header.d", "header.i")
        )


def _domain_of(value: str) -> str:
    return value.rpartition("@")[2].strip().lower()


_COMMENT_OR_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\(|\)')
_RESULT = re.compile(r"\s*([a-z0-9_-]+)(?:\s*/\s*\d+)?\s*=\s*([a-z0-9_-]+)(.*)", re.IGNORECASE | re.DOTALL)
_PROPERTY = re.compile(r"([a-z0-9_-]+\.[a-z0-9_.-]+)\s*=\s*(\S+)", re.IGNORECASE)
_REASON = re.compile(r"reason\s*=\s*\S+", re.IGNORECASE)


def read_authentication_results(header: str) -> AuthenticationResults | None:
    """The header's authserv-id and results, comments dropped; None when it cannot be read."""
    text = _without_comments(header[:8000])
    if text is None:
        return None
    first, *rest = _split_outside_quotes(text)
    words = first.split()
    if not words:
        return None
    results: list[MethodResult] = []
    for clause in rest:
        found = _RESULT.match(clause)
        if found is None:
            continue
        properties = {name.lower(): value.strip('"') for name, value in _PROPERTY.findall(_REASON.sub("", found[3]))}
        results.append(MethodResult(found[1].lower(), found[2].lower(), properties))
    return AuthenticationResults(words[0].lower(), tuple(results))


def _without_comments(text: str) -> str | None:
    """The header with its (nested) comments taken out, quoted strings kept; None when a comment never closes."""
    kept: list[str] = []
    depth = 0
    position = 0
    for mark in _COMMENT_OR_QUOTED.finditer(text):
        if depth == 0:
            kept.append(text[position : mark.start()])
        token = mark[0]
        if token == "(":
            depth += 1
        elif token == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            kept.append(token)
        position = mark.end()
    if depth:
        return None
    kept.append(text[position:])
    return " ".join("".join(kept).split())


def _split_outside_quotes(text: str) -> list[str]:
    clauses: list[str] = []
    current: list[str] = []
    quoted = False
    for character in text:
        if character == '"':
            quoted = not quoted
        if character == ";" and not quoted:
            clauses.append("".join(current))
            current = []
        else:
            current.append(character)
    clauses.append("".join(current))
    return clauses
