"""The service's settings: one typed object from SOBOT_* variables and an optional settings file."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from storage.database import CONNECT_TIMEOUT_SECONDS, SQLITE_BUSY_SECONDS, STATEMENT_TIMEOUT_SECONDS, Timeouts

ENV_PREFIX = "SOBOT_"
SETTINGS_FILE_VARIABLE = "SOBOT_SETTINGS_FILE"
# The Agents SDK reads the Teams app's credentials itself, from these variables.
TEAMS_APP_PREFIX = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "[::1]", "localhost")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class SettingsError(ValueError):
    """Settings that cannot be used; the message names every bad or missing variable."""


class Settings(BaseSettings):
    """Everything a deployment can set. Each field is the variable SOBOT_<FIELD NAME IN CAPITALS>."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    database_url: str = Field(
        "sqlite+aiosqlite:///var/sobot.db",
        description="Where the records live: sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB.",
    )
    database_connect_timeout_seconds: float = Field(
        CONNECT_TIMEOUT_SECONDS,
        gt=0,
        description="PostgreSQL: how long connecting may take before the database counts as unreachable (a turn "
        "then says it cannot reach the records, and /readyz answers 503).",
    )
    database_statement_timeout_seconds: float = Field(
        STATEMENT_TIMEOUT_SECONDS,
        gt=0,
        description="PostgreSQL: how long one statement may wait for its answer before the database counts as "
        "unreachable, as when it refuses. (A SQLite file cannot go silent; a writer there waits up to "
        f"{SQLITE_BUSY_SECONDS} s for another.)",
    )
    host: str = Field("127.0.0.1", description="The address `sobot serve` listens on.")
    port: int = Field(3978, ge=1, le=65535, description="The port `sobot serve` listens on.")
    procedure: str = Field("wirral", description="The procedure a new order follows unless it names another.")
    procedures_dir: Path | None = Field(
        None,
        description="A folder of the authority's own procedure files (*.toml), added to the built-in ones.",
    )
    closure_days: list[date] = Field(
        default_factory=list,
        description="The authority's own closure days (not working days), as a JSON list of YYYY-MM-DD.",
    )
    deadline_overrides: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description='Replacement deadlines where a procedure chose a default, e.g. {"wirral": {"initial_review": '
        '"first_cin_meeting + 15 working days"}}.',
    )
    timezone: str = Field("Europe/London", description="The time zone of working hours and of times shown.")
    working_hours_start: time = Field(time(8, 30), description="When notifications may start each working day.")
    working_hours_end: time = Field(time(17, 30), description="When notifications stop each working day.")
    dispatch_interval_seconds: int = Field(60, ge=5, description="How often the reminder dispatch job runs.")
    acknowledge_days: int = Field(
        5,
        ge=1,
        le=60,
        description="How many working days an Acknowledge holds a person's reminders and escalations "
        "for a step before they resume (a procedure file's acknowledge_days beats it).",
    )
    digest_time: time = Field(time(8, 30), description="When each working morning's digest goes to managers and IROs.")
    notify_attempts: int = Field(6, ge=1, le=20, description="Tries of one notification before it is failed.")
    notify_backoff_seconds: float = Field(
        30.0, gt=0, description="Wait before a notification's first retry; doubled each try, with jitter."
    )
    notify_timeout_seconds: float = Field(20.0, gt=0, description="How long one Teams or email send may take.")
    notify_concurrency: int = Field(
        32, ge=1, le=256, description="Notifications sent at once; Teams answers a bot that sends too fast with 429."
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_format: Literal["text", "json"] = Field(
        "text", description="text, or json: one JSON object a line (time, level, logger, message, reference)."
    )
    legal_address: str = Field(
        "", description="Legal (case progression): the address told when a step is Legal's, e.g. Camden's decisions."
    )
    mail_backend: str = Field("maildir", description="The unit's mailbox: maildir, imap, graph, ews, or none.")
    mailbox_dir: Path = Field(Path("var/mailbox"), description="The Maildir of the maildir backend.")
    unit_address: str = Field(
        "safeguarding.unit@localhost",
        description="The Safeguarding Unit's shared mailbox address: the one sobot reads and sends from.",
    )
    allocation_request_to: list[str] = Field(
        default_factory=list,
        description="Who gets the emails asking for an IRO, and the notes to the unit that Teams cannot carry, as a "
        'JSON list, e.g. ["su-team@council.gov.uk"] (the unit\'s members or their distribution list); empty: each '
        "person with the safeguarding_unit role in the directory. Never the shared mailbox itself, which sobot reads.",
    )
    allowed_sender_domains: list[str] = Field(
        default_factory=lambda: ["localhost"],
        description='Mail is read only from these domains, as a JSON list, e.g. ["council.gov.uk"]; others go, '
        "unanswered, to Needs attention.",
    )
    mail_poll_seconds: int = Field(60, ge=5, description="How often the mailbox is read.")
    mail_attempts: int = Field(
        5, ge=1, le=20, description="Tries of one message that fails before it is left in Needs attention."
    )
    mail_retry_seconds: float = Field(
        60.0, gt=0, description="Wait before a failed message's second try; doubled each try after, up to an hour."
    )
    mail_sender_trust: Literal["auto", "authentication-results", "exchange"] = Field(
        "auto",
        description="How the council's mail system vouches for a sender, without which a From line proves nothing: "
        "authentication-results (a header from one of SOBOT_MAIL_AUTHSERV_IDS saying dmarc=pass, or spf=pass and "
        "dkim=pass, for the From's domain), exchange (Exchange's X-MS-Exchange-Organization-AuthAs: Internal), or "
        "auto: exchange for the graph and ews backends, authentication-results otherwise. Mail from an allowed "
        "domain that is not vouched for goes, unanswered, to Needs attention.",
    )
    mail_authserv_ids: list[str] = Field(
        default_factory=list,
        description='The authserv-ids of the council\'s own mail servers, as a JSON list, e.g. ["mx.council.gov.uk"]: '
        "only their Authentication-Results are believed. None named: no sender is vouched for by that method.",
    )
    mail_claims_kept_days: int = Field(
        7,
        ge=1,
        description="How long a poller's claim on a message is kept after it was last taken: a claim "
        "long past belongs to a message filed long ago, and is forgotten (its receipt still keeps it from being "
        "acted on twice).",
    )
    mail_max_bytes: int = Field(
        10_000_000, ge=10_000, description="A larger message is not read: it goes to Needs attention, answered."
    )
    mail_read_seconds: float = Field(
        10.0, gt=0, description="How long reading one message may take before it goes to Needs attention."
    )
    imap_host: str = Field("", description="imap backend: the IMAP server.")
    imap_port: int | None = Field(None, description="imap backend: its port (default 993 for tls, 143 otherwise).")
    imap_security: Literal["tls", "starttls", "none"] = Field(
        "tls", description="imap backend: tls, starttls, or none (loopback only)."
    )
    imap_username: str = Field("", description="imap backend: the account that opens the unit's mailbox.")
    imap_password: SecretStr = Field(SecretStr(""), description="imap backend: its password (for password login).")
    imap_auth: Literal["password", "xoauth2"] = Field(
        "password",
        description="imap backend: password, or xoauth2 for Exchange Online (an app-only token from the "
        "SOBOT_GRAPH_TENANT_ID, SOBOT_GRAPH_CLIENT_ID and SOBOT_GRAPH_CLIENT_SECRET app, for IMAP and SMTP).",
    )
    smtp_host: str = Field("", description="imap backend: the SMTP server mail is sent through.")
    smtp_port: int | None = Field(None, description="imap backend: its port (default 465 for tls, 587 starttls).")
    smtp_security: Literal["tls", "starttls", "none"] = Field(
        "starttls", description="imap backend: tls, starttls, or none (loopback only)."
    )
    smtp_username: str = Field("", description="imap backend: the SMTP login, if the server wants one.")
    smtp_password: SecretStr = Field(SecretStr(""), description="imap backend: its password.")
    graph_mailbox: str = Field("", description="graph backend: the unit mailbox's user principal name or object id.")
    graph_tenant_id: str = Field("", description="graph backend: the Entra tenant id.")
    graph_client_id: str = Field(
        "", description="graph backend: the app registration with Mail.ReadWrite and Mail.Send."
    )
    graph_client_secret: SecretStr = Field(SecretStr(""), description="graph backend: that app's client secret.")
    teams_app_catalog_id: str = Field(
        "",
        description="The sobot app's id in the organisation's Teams app catalogue (Graph's teamsApp id, not the "
        "manifest's). Set, with the bot's app granted TeamsAppInstallation.ReadWriteSelfForUser.All, sobot installs "
        "itself for someone it must tell who never opened it, so they get the card in Teams instead of an email.",
    )
    automatic_replies: bool = Field(
        False,
        description="Read each person's Outlook automatic replies (Microsoft Graph mailboxSettings, with the bot's "
        "own app credentials and its application permission MailboxSettings.Read) each working morning, an hour "
        "before notifications start, as their absence where nobody recorded one.",
    )
    teams_service_url: str = Field(
        "https://smba.trafficmanager.net/teams/",
        description="Teams' connector address for a chat sobot made by installing itself, until Teams sends that "
        "chat's own.",
    )
    graph_url: str = Field(
        "https://graph.microsoft.com",
        description="Microsoft Graph (a national cloud's own): where the graph mail backend reads and sends mail "
        "(its /v1.0 API) and the bot installs itself. Its app-only token comes from SOBOT_ENTRA_AUTHORITY_HOST.",
    )
    ews_endpoint: str = Field("", description="ews backend: https://HOST/EWS/Exchange.asmx of on-premises Exchange.")
    ews_username: str = Field("", description="ews backend: the account that opens the unit's mailbox.")
    ews_password: SecretStr = Field(SecretStr(""), description="ews backend: its password.")
    ews_auth_type: str = Field("NTLM", description="ews backend: NTLM or basic.")
    ews_build: str = Field(
        "15.1", description="ews backend: the server's version, 15.1 (Exchange 2016) or 15.2 (2019)."
    )
    ews_max_wait: int = Field(
        120,
        ge=1,
        description="ews backend: how many seconds a busy or unreachable server is retried before sobot gives up "
        "on that call and tries again at the next poll.",
    )
    web_session_secret: SecretStr = Field(
        SecretStr(""),
        description="The secret the dashboard's session cookies are signed with (32 characters or more); the same "
        "for every replica. Unset, each process makes its own, and its sessions end when it stops.",
    )
    entra_tenant_id: str = Field(
        "",
        description="Sign-in to the dashboard: the council's Entra tenant id (a GUID). With SOBOT_ENTRA_CLIENT_ID and "
        "SOBOT_ENTRA_CLIENT_SECRET, people sign in with Microsoft (the Teams tab's token, or OpenID Connect in a "
        "browser); it may be the bot's own app registration.",
    )
    entra_client_id: str = Field(
        "", description="Sign-in: the app (client) id of the app registration the dashboard signs people in with."
    )
    entra_client_secret: SecretStr = Field(SecretStr(""), description="Sign-in: that app registration's client secret.")
    entra_authority_host: str = Field(
        "https://login.microsoftonline.com",
        description="Entra ID's sign-in host (https://login.microsoftonline.us for US Government clouds): for "
        "signing in to the dashboard, and for the app-only tokens of the graph mail backend and xoauth2 IMAP.",
    )
    entra_app_id_uri: str = Field(
        "",
        description="Sign-in: the Application ID URI the Teams tab asks tokens for; empty: api://<SOBOT_BOT_DOMAIN>/"
        "<SOBOT_ENTRA_CLIENT_ID>, as the app package's webApplicationInfo names it.",
    )
    entra_redirect_uri: str = Field(
        "",
        description="Sign-in: where Entra sends the browser back to, registered on the app as a Web redirect URI; "
        "empty: https://<SOBOT_BOT_DOMAIN>/signin/callback.",
    )
    bot_domain: str = Field("", description="The host name of the Teams messaging endpoint (for the app package).")
    developer_name: str = Field("The council", description="The publisher named in the Teams app package.")
    public_url: str = Field(
        "",
        description="The dashboard's public address, which the Open in sobot links of cards and emails open, "
        "e.g. https://sobot.example.gov.uk/; empty: https://<SOBOT_BOT_DOMAIN>/, or without that (local mode) "
        "http://127.0.0.1:<SOBOT_PORT>/.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings reads the environment it is given, so tests never depend on the process's own.
        return (init_settings,)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("web_session_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() and len(value.get_secret_value()) < 32:
            raise ValueError("must be 32 characters or more (for example `openssl rand -base64 48`)")
        return value

    @field_validator("entra_tenant_id", "entra_client_id")
    @classmethod
    def _guid(cls, value: str) -> str:
        if value and not GUID.match(value.strip()):
            raise ValueError(
                "must be a GUID such as 9188040d-6c67-4c5b-b112-36a304b66dad (Entra's Overview page shows it)"
            )
        return value.strip()

    @field_validator("entra_authority_host")
    @classmethod
    def _https_host(cls, value: str) -> str:
        if not value.startswith("https://") or value.rstrip("/").count("/") != 2:
            raise ValueError("must be https://HOST, e.g. https://login.microsoftonline.com")
        return value.rstrip("/")

    @field_validator("public_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("must be the dashboard's address, http(s)://HOST/ (e.g. https://sobot.example.gov.uk/)")
        return value if value.endswith("/") else value + "/"

    @property
    def dashboard_url(self) -> str:
        """Where the dashboard is, ending in "/": the links in cards and emails start with it."""
        if self.public_url:
            return self.public_url
        if self.bot_domain:
            return f"https://{self.bot_domain}/"
        return f"http://127.0.0.1:{self.port}/"

    @model_validator(mode="after")
    def _whole_sign_in(self) -> Settings:
        given = {"SOBOT_ENTRA_TENANT_ID": self.entra_tenant_id, "SOBOT_ENTRA_CLIENT_ID": self.entra_client_id,
                 "SOBOT_ENTRA_CLIENT_SECRET": self.entra_client_secret.get_secret_value()}  # fmt: skip
        missing = [name for name, value in given.items() if not value]
        if any(given.values()) and missing:
            raise ValueError(f"signing in with Microsoft needs {', '.join(missing)} as well")
        if self.entra_client_id and not (self.entra_redirect_uri or self.bot_domain):
            raise ValueError("signing in with Microsoft needs SOBOT_BOT_DOMAIN (or SOBOT_ENTRA_REDIRECT_URI)")
        return self

    @property
    def sign_in_configured(self) -> bool:
        return bool(self.entra_client_id)

    @property
    def sign_in_app_id_uri(self) -> str:
        return self.entra_app_id_uri or (f"api://{self.bot_domain}/{self.entra_client_id}" if self.bot_domain else "")

    @property
    def sign_in_redirect_uri(self) -> str:
        return self.entra_redirect_uri or f"https://{self.bot_domain}/signin/callback"

    @field_validator("mail_backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in {"maildir", "imap", "graph", "ews", "none"}:
            raise ValueError("must be maildir, imap, graph, ews or none")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone such as Europe/London") from None
        return value

    @property
    def database_timeouts(self) -> Timeouts:
        return Timeouts(self.database_connect_timeout_seconds, self.database_statement_timeout_seconds)


class _Environment(EnvSettingsSource):
    """The SOBOT_* variables of a given environment, parsed as pydantic-settings parses os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: dict[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls, env_prefix=ENV_PREFIX)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, False, False, None)


def _variable(location: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + str(location[0]).upper() if location else ENV_PREFIX + "*"


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from the environment (and SOBOT_SETTINGS_FILE, a TOML file whose keys are field names).

    Variables beat the file; keyword overrides beat both. Every problem is reported at once.
    """
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    problems: list[str] = []
    file_name = environ.get(SETTINGS_FILE_VARIABLE)
    if file_name:
        try:
            values.update(tomllib.loads(Path(file_name).read_text(encoding="utf-8")))
        except OSError as error:
            problems.append(f"{SETTINGS_FILE_VARIABLE}: cannot read {file_name!r} ({error.strerror})")
        except tomllib.TOMLDecodeError as error:
            problems.append(f"{SETTINGS_FILE_VARIABLE}: {file_name!r} is not valid TOML ({error})")
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | {SETTINGS_FILE_VARIABLE}
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name not in known:
            problems.append(f"{name}: there is no such setting")
    try:
        values.update(_Environment(Settings, environ)())
        values.update(overrides)
        settings = Settings(**values)
    except ValidationError as error:
        for detail in error.errors():
            if not detail["loc"]:  # a rule across settings: its input is all of them, secrets included
                problems.append(str(detail["msg"]).removeprefix("Value error, "))
                continue
            shown = detail.get("input")
            problems.append(f"{_variable(detail['loc'])}: {detail['msg']} (got {shown!r})")
        settings = None
    if problems or settings is None:
        raise SettingsError("The settings cannot be used:\n  " + "\n  ".join(problems))
    return settings


def missing_teams_app(environ: Mapping[str, str], host: str) -> list[str]:
    """The Teams app variables `sobot serve` lacks on `host`, so it can refuse to start naming all of them.

    Local mode (none of them, on a loopback address) needs none. Otherwise the app id and tenant are needed, and the
    client secret when the app signs in with one (the SDK's default).
    """
    given = {name: value for name, value in environ.items() if name.startswith(TEAMS_APP_PREFIX) and value.strip()}
    if not given and host in LOOPBACK_HOSTS:
        return []
    needed = ["CLIENTID", "TENANTID"]
    if given.get(TEAMS_APP_PREFIX + "AUTHTYPE", "ClientSecret").lower() == "clientsecret":
        needed.insert(1, "CLIENTSECRET")
    return [TEAMS_APP_PREFIX + name for name in needed if TEAMS_APP_PREFIX + name not in given]
