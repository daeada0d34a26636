"""Signing in to the dashboard with Microsoft, against the loopback fake of Entra ID: the browser's OpenID Connect
flow with PKCE, the Teams tab's token, every bad token refused with its sentence, and signing out."""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import aiohttp
import jwt
import pytest
from sqlalchemy import select

from rules.clock import FixedClock
from sobot.app import build_sobot
from sobot.settings import load_settings
from storage import Database, models
from tests.fakes.entra import FakeEntra, Tls, make_tls, serve_entra
from tests.signin import SAM, STRANGER, TEAMS_APP, UNA, SignedInBrowser, sign_in_settings, signed_in_dashboard
from web.entra import KEYS_REREAD_AFTER, SENTENCES
from web.local import LocalIdentity, NoSignIn
from web.page import DASHBOARD
from web.signin import EntraIdentity


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("entra-tls"))


@pytest.fixture
async def entra(tls: Tls) -> AsyncIterator[FakeEntra]:
    async with serve_entra(tls) as fake:
        yield fake


@pytest.fixture
def clock() -> FixedClock:
    # The fake issues its codes' tokens on the real clock; sobot's clock starts there and tests move it.
    return FixedClock(datetime.now(UTC))


@pytest.fixture
async def browser(database: Database, database_url: str, entra: FakeEntra, tls: Tls,
                  clock: FixedClock) -> AsyncIterator[SignedInBrowser]:  # fmt: skip
    async with signed_in_dashboard(database, database_url, entra, tls, clock) as signed_in:
        yield signed_in


def tab_audience(entra: FakeEntra) -> str:
    return f"api://sobot.example.gov.uk/{entra.client_id}"


async def refused_sign_ins(browser: SignedInBrowser) -> list[tuple[str, dict[str, str]]]:
    """The audit log's refused sign-ins: who (as the log names them) and what it kept of the attempt."""
    async with browser.sobot.context.database.read() as session:
        rows = await session.execute(select(models.AuditEntry.actor, models.AuditEntry.details).where(
            models.AuditEntry.action == "dashboard.sign_in", models.AuditEntry.outcome == "refused"
        ).order_by(models.AuditEntry.id))  # fmt: skip
        return [(actor, dict(details)) for actor, details in rows]


async def test_a_page_sends_whoever_is_not_signed_in_to_sign_in_and_back(browser: SignedInBrowser) -> None:
    response, _ = await browser.page("/caseload?team=North", allow_redirects=False)
    sent_to = urlsplit(response.headers["Location"])
    assert response.status == 303 and sent_to.path == "/signin"
    assert parse_qs(sent_to.query) == {"next": ["/caseload?team=North"]}
    response, text = await browser.page("/signin?next=/caseload")
    assert response.status == 200 and "Sign in with Microsoft" in text
    assert 'href="/signin/microsoft?next=/caseload"' in text


async def test_signing_in_with_microsoft_runs_the_code_flow_with_pkce_and_opens_the_caseload(
    browser: SignedInBrowser, entra: FakeEntra
) -> None:
    entra.signed_in = UNA
    start = await browser.client.get("/signin/microsoft?next=/caseload", allow_redirects=False)
    asked = parse_qs(urlsplit(start.headers["Location"]).query)
    assert start.headers["Location"].startswith(f"{entra.authority}/oauth2/v2.0/authorize?")
    assert asked["client_id"] == [entra.client_id] and asked["response_type"] == ["code"]
    assert asked["code_challenge_method"] == ["S256"] and len(asked["code_challenge"][0]) == 43
    assert asked["redirect_uri"] == ["https://sobot.example.gov.uk/signin/callback"]
    assert {"openid", "profile"} <= set(asked["scope"][0].split()) and asked["state"] and asked["nonce"]

    back = await browser.sign_in_with_microsoft()
    assert back.status == 303 and back.headers["Location"] == "/caseload", await back.text()
    cookie = back.headers["Set-Cookie"]
    assert {"HttpOnly", "Secure", "SameSite=None", "Partitioned"} <= {part.strip() for part in cookie.split(";")}
    assert ("POST", f"/{entra.tenant}/oauth2/v2.0/token") in entra.requests
    response, text = await browser.page("/caseload")
    assert response.status == 200 and "Signed in as <strong>Una Unit</strong>" in text


async def test_a_callback_sobot_did_not_start_is_refused(browser: SignedInBrowser, entra: FakeEntra) -> None:
    response, text = await browser.page("/signin/callback?code=1.AQstolen&state=made-up")
    assert response.status == 400 and "sobot had no record of starting it" in text
    assert await refused_sign_ins(browser) == [("unknown", {"through": "browser", "reason": "flow_lost"})]
    entra.signed_in = UNA
    start = await browser.client.get("/signin/microsoft", allow_redirects=False)
    at_entra = await browser.entra.get(
        start.headers["Location"], allow_redirects=False, ssl=browser.tls.client_context()
    )
    code = parse_qs(urlsplit(at_entra.headers["Location"]).query)["code"][0]
    # The right code with another state: a response to someone else's sign-in.
    response, text = await browser.page(f"/signin/callback?code={code}&state=someone-elses")
    assert response.status == 400 and "Sign in again" in text
    assert (await refused_sign_ins(browser))[1:] == [("unknown", {"through": "browser", "reason": "flow_mismatch"})]
    response, _ = await browser.page("/caseload", allow_redirects=False)
    assert response.status == 303


async def test_an_account_not_in_the_directory_is_told_whom_to_ask(browser: SignedInBrowser, entra: FakeEntra) -> None:
    entra.signed_in = STRANGER
    back = await browser.sign_in_with_microsoft()
    text = html.unescape(await back.text())
    assert (
        back.status == 401
        and f"{SENTENCES['not_in_directory']} Your account's Entra object id is {STRANGER.oid}." in text
    )
    # Who tried is the account Entra vouched for, by its object id: not its name or sign-in name.
    assert await refused_sign_ins(browser) == [
        (f"entra:{STRANGER.oid}", {"through": "browser", "reason": "not_in_directory"})
    ]
    response, _ = await browser.page("/caseload", allow_redirects=False)
    assert response.status == 303


async def test_an_error_from_entra_is_shown_as_a_sentence(browser: SignedInBrowser, entra: FakeEntra) -> None:
    start = await browser.client.get("/signin/microsoft", allow_redirects=False)
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    response, text = await browser.page(f"/signin/callback?error=access_denied&error_description=AADSTS65004:+User+"
                                        f"declined+to+consent&state={state}")  # fmt: skip
    assert response.status == 401 and "Microsoft did not sign you in (access_denied, AADSTS65004)." in text
    assert "declined" not in text  # the free text of a query anyone can write is not repeated
    assert await refused_sign_ins(browser) == [
        ("unknown", {"through": "browser", "reason": "entra_said: access_denied, AADSTS65004"})
    ]


async def test_signing_out_ends_the_session(browser: SignedInBrowser, entra: FakeEntra) -> None:
    entra.signed_in = SAM
    await browser.sign_in_with_microsoft()
    _, text = await browser.page("/caseload")
    assert "Sam Worker" in text
    response = await browser.client.post("/sign-out", data={"csrf_token": browser.token}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/signin?signed_out=1"
    response, _ = await browser.page("/caseload", allow_redirects=False)
    assert response.status == 303


@pytest.mark.parametrize("version", ["1.0", "2.0"])
async def test_the_tabs_token_signs_in_and_the_caseload_opens(browser: SignedInBrowser, entra: FakeEntra,
                                                              version: str) -> None:  # fmt: skip
    # Teams asks for the app's Application ID URI; a v2 token carries the app id as its audience.
    audience = tab_audience(entra) if version == "1.0" else entra.client_id
    response, answer = await browser.post_tab_token(entra.token(UNA, audience=audience, version=version))
    assert response.status == 200 and answer == {"next": "/caseload", "name": "Una Unit"}
    response, text = await browser.page("/caseload")
    assert response.status == 200 and "Signed in as <strong>Una Unit</strong>" in text


def _forged(entra: FakeEntra, audience: str) -> str:
    """A token signed with a key Entra does not publish, under the kid of one it does."""
    good = entra.token(UNA, audience=audience)
    claims = jwt.decode(good, options={"verify_signature": False})
    return jwt.encode(claims, entra.unpublished.private, algorithm="RS256", headers={"kid": entra.keys[0].kid})


def _altered(entra: FakeEntra, audience: str) -> str:
    """Entra's own token with its payload changed to another person's object id."""
    header, _, signature = entra.token(UNA, audience=audience).split(".")
    claims = jwt.decode(entra.token(UNA, audience=audience), options={"verify_signature": False})
    payload = base64.urlsafe_b64encode(json.dumps({**claims, "oid": SAM.oid}).encode()).decode().rstrip("=")
    return f"{header}.{payload}.{signature}"


OTHER_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_ISSUER = f"https://sts.windows.net/{OTHER_TENANT}/"


def _hs256(entra: FakeEntra, audience: str) -> str:
    """Signed with a shared secret, under a published kid: the confusion of algorithms a validator must refuse."""
    return jwt.encode(
        {"aud": audience, "oid": UNA.oid}, "x" * 32, algorithm="HS256", headers={"kid": entra.keys[0].kid}
    )


def _app_only(entra: FakeEntra, audience: str) -> str:
    """A token for the app with roles and no scope: what another app gets for itself, with no person behind it."""
    return entra.token(UNA, audience=audience, drop=("scp",), roles=["Orders.Read.All"])


def _in_an_hour() -> int:
    return int(datetime.now(UTC).timestamp()) + 3600


BAD_TOKENS = {
    "none": ("none", lambda e, a: None),
    "empty": ("none", lambda e, a: ""),
    "malformed": ("malformed", lambda e, a: "not.a-token"),
    "unsigned (alg none)": ("malformed", lambda e, a: jwt.encode({"aud": a, "oid": UNA.oid}, None, algorithm="none")),
    "shared secret (HS256)": ("malformed", lambda e, a: _hs256(e, a)),
    "wrong audience": ("wrong_audience", lambda e, a: e.token(UNA, audience="api://elsewhere.example.com/other")),
    "Graph's audience": ("wrong_audience", lambda e, a: e.token(UNA, audience="00000003-0000-0000-c000-000000000000")),
    "wrong issuer": ("wrong_issuer", lambda e, a: e.token(UNA, audience=a, iss="https://login.example.com/x/v2.0")),
    "wrong tenant": ("wrong_tenant", lambda e, a: e.token(UNA, audience=a, tid=OTHER_TENANT, iss=OTHER_ISSUER)),
    "expired": ("expired", lambda e, a: e.token(UNA, audience=a, issued=datetime.now(UTC) - timedelta(hours=2))),
    "not yet valid": ("not_yet_valid", lambda e, a: e.token(UNA, audience=a, nbf=_in_an_hour())),
    "no expiry": ("expired", lambda e, a: e.token(UNA, audience=a, drop=("exp",))),
    "bad signature (forged)": ("bad_signature", _forged),
    "bad signature (altered)": ("bad_signature", _altered),
    "unknown kid": ("unknown_kid", lambda e, a: e.token(UNA, audience=a, key=e.unpublished)),
    "another of the app's scopes": ("wrong_scope", lambda e, a: e.token(UNA, audience=a, scp="Orders.Read")),
    "no scope (an app's own token)": ("wrong_scope", lambda e, a: _app_only(e, a)),
    "no oid": ("no_oid", lambda e, a: e.token(UNA, audience=a, drop=("oid",))),
    "oid not in the directory": ("not_in_directory", lambda e, a: e.token(STRANGER, audience=a)),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_every_bad_token_is_refused_with_401_and_its_sentence(browser: SignedInBrowser, entra: FakeEntra,
                                                                    case: str) -> None:  # fmt: skip
    reason, make = BAD_TOKENS[case]
    response, answer = await browser.post_tab_token(make(entra, tab_audience(entra)))
    assert response.status == 401, answer
    assert answer["reason"] == reason and answer["error"].startswith(SENTENCES[reason])  # type: ignore[index]
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    response, _ = await browser.page("/caseload", allow_redirects=False)
    assert response.status == 303, "a refused token made a session"
    who = f"entra:{STRANGER.oid}" if reason == "not_in_directory" else "unknown"
    assert await refused_sign_ins(browser) == [(who, {"through": "teams tab", "reason": reason})]


async def test_a_tab_token_post_without_the_pages_csrf_token_is_refused(browser: SignedInBrowser,
                                                                        entra: FakeEntra) -> None:  # fmt: skip
    token = entra.token(UNA, audience=tab_audience(entra))
    response = await browser.client.post("/signin/teams", data={"token": token})
    assert response.status == 403
    response, _ = await browser.page("/caseload", allow_redirects=False)
    assert response.status == 303


async def test_new_signing_keys_are_read_when_a_token_names_one(browser: SignedInBrowser, entra: FakeEntra,
                                                                clock: FixedClock) -> None:  # fmt: skip
    keys_path = ("GET", f"/{entra.tenant}/discovery/v2.0/keys")
    response, _ = await browser.post_tab_token(entra.token(SAM, audience=tab_audience(entra)))
    assert response.status == 200 and entra.requests.count(keys_path) == 1
    rolled = entra.rotate()
    # Straight after a read, a kid sobot does not hold is not worth reading the keys again for.
    response, answer = await browser.post_tab_token(entra.token(SAM, audience=tab_audience(entra), key=rolled))
    assert response.status == 401 and answer["reason"] == "unknown_kid"
    assert entra.requests.count(keys_path) == 1
    clock.advance(KEYS_REREAD_AFTER + timedelta(seconds=1))
    response, _ = await browser.post_tab_token(entra.token(SAM, audience=tab_audience(entra), key=rolled))
    assert response.status == 200 and entra.requests.count(keys_path) == 2
    # The old key is still published, and still trusted, without another read.
    response, _ = await browser.post_tab_token(entra.token(SAM, audience=tab_audience(entra), key=entra.keys[1]))
    assert response.status == 200 and entra.requests.count(keys_path) == 2


async def test_entra_out_of_reach_is_a_sentence_not_a_crash(browser: SignedInBrowser, entra: FakeEntra) -> None:
    entra.tenant = "00000000-0000-0000-0000-000000000000"  # the fake no longer answers for the council's tenant
    response, answer = await browser.post_tab_token(entra.token(UNA, audience=tab_audience(entra)))
    assert response.status == 401 and answer["reason"] == "keys_unavailable"


async def test_the_tab_pages_load_teamsjs_from_sobot_itself_with_no_inline_script(browser: SignedInBrowser) -> None:
    for path in ("/tab", "/tab/configure", "/signin"):
        response, text = await browser.page(path)
        assert response.status == 200
        scripts = [line.strip() for line in text.splitlines() if "<script" in line]
        assert scripts and all(' src="/static/' in line and line.endswith("></script>") for line in scripts), scripts
        assert '<script src="/static/teams-js/MicrosoftTeams.min.js"></script>' in scripts
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "frame-ancestors 'self' https://teams.microsoft.com " in policy
        hosts = policy.split("frame-ancestors", 1)[1].split()
        assert set(hosts) >= {
            "https://*.teams.microsoft.com",
            "https://*.cloud.microsoft",
            "https://*.office.com",
            "https://outlook.office.com",
            "https://outlook.office365.com",
            "https://*.microsoft365.com",
        }
    response = await browser.client.get("/static/teams-js/MicrosoftTeams.min.js")
    body = await response.read()
    assert response.status == 200 and b"microsoftTeams" in body and b'"2.58.0"' in body


async def test_the_fake_token_endpoint_checks_pkce_secret_and_code_once(entra: FakeEntra, tls: Tls) -> None:
    entra.signed_in, entra.redirect_uris = UNA, ["https://app.example/cb"]
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    context = tls.client_context()
    token_url = f"{entra.authority}/oauth2/v2.0/token"
    async with aiohttp.ClientSession() as http:

        async def code() -> str:
            authorize = (f"{entra.authority}/oauth2/v2.0/authorize?client_id={entra.client_id}&response_type=code"
                         f"&redirect_uri=https://app.example/cb&scope=openid+offline_access&state=s1&nonce=n1"
                         f"&code_challenge={challenge}&code_challenge_method=S256")  # fmt: skip
            answer = await http.get(authorize, allow_redirects=False, ssl=context)
            back = parse_qs(urlsplit(answer.headers["Location"]).query)
            assert back["state"] == ["s1"]
            return back["code"][0]

        form = {"grant_type": "authorization_code", "client_id": entra.client_id, "code": await code(),
                "redirect_uri": "https://app.example/cb", "client_secret": entra.client_secret,
                "code_verifier": verifier}  # fmt: skip
        wrong = await http.post(token_url, data={**form, "code_verifier": "w" * 50}, ssl=context)
        assert wrong.status == 400 and (await wrong.json())["error_codes"] == [501481]
        # The code is spent by the failed try, as Entra spends it.
        again = await http.post(token_url, data=form, ssl=context)
        assert again.status == 400 and (await again.json())["error"] == "invalid_grant"
        form["code"] = await code()
        bad_secret = await http.post(token_url, data={**form, "client_secret": "guess"}, ssl=context)
        assert bad_secret.status == 401 and (await bad_secret.json())["error"] == "invalid_client"
        form["code"] = await code()
        good = await http.post(token_url, data=form, ssl=context)
        answer = await good.json()
    assert good.status == 200 and answer["token_type"] == "Bearer" and answer["refresh_token"]
    public = jwt.PyJWK(entra.keys[0].jwk())
    claims = jwt.decode(answer["id_token"], public, algorithms=["RS256"], audience=entra.client_id,
                        issuer=entra.issuer)  # fmt: skip
    assert claims["oid"] == UNA.oid and claims["nonce"] == "n1" and claims["tid"] == entra.tenant


async def test_the_composition_root_signs_in_with_entra_where_there_is_an_app_and_sign_in(
    database: Database, database_url: str, entra: FakeEntra
) -> None:
    with_sign_in, without = sign_in_settings(entra, database_url), load_settings({}, database_url=database_url)
    chosen = {
        "app and sign-in": build_sobot(with_sign_in, database=database, environ=TEAMS_APP, run_jobs=False),
        "sign-in, no app": build_sobot(with_sign_in, database=database, environ={}, run_jobs=False),
        "app, no sign-in": build_sobot(without, database=database, environ=TEAMS_APP, run_jobs=False),
    }
    kinds = {name: type(sobot.app[DASHBOARD].identity) for name, sobot in chosen.items()}
    assert kinds == {"app and sign-in": EntraIdentity, "sign-in, no app": LocalIdentity, "app, no sign-in": NoSignIn}
    identity = chosen["app and sign-in"].app[DASHBOARD].identity
    assert isinstance(identity, EntraIdentity)
    assert identity.app.tab_audiences == (f"api://sobot.example.gov.uk/{entra.client_id}", entra.client_id)
    assert identity.redirect_uri == "https://sobot.example.gov.uk/signin/callback"
    assert chosen["app and sign-in"].app[DASHBOARD].sessions.same_site == "None"
