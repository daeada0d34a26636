"""The unit's mailbox the settings name: Maildir (the embedded default), IMAP/SMTP, Microsoft Graph or EWS."""

from __future__ import annotations

from mail.backends import Mailbox
from mail.backends.maildir import MaildirMailbox
from sobot.settings import Settings, SettingsError

# The settings each backend reads, for a sentence telling a person which to check.
SETTINGS_OF = {"maildir": "SOBOT_MAILBOX_DIR", "imap": "SOBOT_IMAP_* and SOBOT_SMTP_*", "graph": "SOBOT_GRAPH_*",
               "ews": "SOBOT_EWS_*"}  # fmt: skip


def server_errors(settings: Settings) -> tuple[type[Exception], ...]:
    """What the settings' backend raises when its server is down, refuses sobot's login, or answers with an error:
    OSError for every backend (a connection, a refused login), and the backend's own error for an answer."""
    if settings.mail_backend == "imap":
        from mail.backends.imap import ImapError

        return OSError, ImapError
    if settings.mail_backend == "graph":
        from mail.backends.graph import GraphError

        return OSError, GraphError
    if settings.mail_backend == "ews":
        from exchangelib.errors import EWSError

        return OSError, EWSError
    return (OSError,)


def build_mailbox(settings: Settings) -> Mailbox | None:
    """The mailbox the settings name; the maildir backend is the embedded default."""
    if settings.mail_backend == "maildir":
        return MaildirMailbox(settings.mailbox_dir, settings.unit_address)
    if settings.mail_backend == "none":
        return None
    if settings.mail_backend == "imap":
        from mail.backends.imap import ImapMailbox

        missing = [f"SOBOT_{name.upper()}" for name in ("imap_host", "imap_username", "smtp_host")
                   if not getattr(settings, name)]  # fmt: skip
        oauth = ("graph_tenant_id", "graph_client_id")
        if settings.imap_auth == "xoauth2":
            missing += [f"SOBOT_{name.upper()}" for name in oauth if not getattr(settings, name)]
            missing += [] if settings.graph_client_secret.get_secret_value() else ["SOBOT_GRAPH_CLIENT_SECRET"]
        elif not settings.imap_password.get_secret_value():
            missing.append("SOBOT_IMAP_PASSWORD (or SOBOT_IMAP_AUTH=xoauth2)")
        if missing:
            raise SettingsError(f"The imap mail backend needs {', '.join(missing)}.")
        token = None
        if settings.imap_auth == "xoauth2":
            from mail.backends.graph import client_credentials

            # Exchange Online's IMAP and SMTP take the app-only token of an app granted access to the mailbox.
            token = client_credentials(settings.graph_tenant_id, settings.graph_client_id,
                                       settings.graph_client_secret.get_secret_value(),
                                       authority_host=settings.entra_authority_host,
                                       scope="https://outlook.office365.com/.default")  # fmt: skip
        try:
            return ImapMailbox(
                host=settings.imap_host, port=settings.imap_port, security=settings.imap_security,
                username=settings.imap_username, password=settings.imap_password.get_secret_value() or None,
                token=token, address=settings.unit_address, smtp_host=settings.smtp_host,
                smtp_port=settings.smtp_port, smtp_security=settings.smtp_security,
                smtp_username=settings.smtp_username or (settings.imap_username if token else None),
                smtp_password=settings.smtp_password.get_secret_value() or None,
                smtp_token=token if not settings.smtp_password.get_secret_value() else None,
            )  # fmt: skip
        except ValueError as error:
            raise SettingsError(f"The imap mail backend's settings cannot be used: {error}") from None
    if settings.mail_backend == "graph":
        from mail.backends.graph import GraphMailbox, client_credentials

        missing = [n for n in ("graph_mailbox", "graph_tenant_id", "graph_client_id") if not getattr(settings, n)]
        if missing or not settings.graph_client_secret.get_secret_value():
            raise SettingsError("The graph mail backend needs SOBOT_GRAPH_MAILBOX, SOBOT_GRAPH_TENANT_ID, "
                             "SOBOT_GRAPH_CLIENT_ID and SOBOT_GRAPH_CLIENT_SECRET.")  # fmt: skip
        # Graph and its token's issuer are the settings' own (a national cloud's, or a test's loopback fake).
        graph = settings.graph_url.rstrip("/")
        token = client_credentials(settings.graph_tenant_id, settings.graph_client_id,
                                   settings.graph_client_secret.get_secret_value(),
                                   authority_host=settings.entra_authority_host, scope=f"{graph}/.default")  # fmt: skip
        return GraphMailbox(settings.graph_mailbox, token, base_url=f"{graph}/v1.0", address=settings.unit_address)
    if settings.mail_backend == "ews":
        from mail.backends.ews import EwsMailbox

        if not (settings.ews_endpoint and settings.ews_username and settings.ews_password.get_secret_value()):
            raise SettingsError(
                "The ews mail backend needs SOBOT_EWS_ENDPOINT, SOBOT_EWS_USERNAME and SOBOT_EWS_PASSWORD."
            )
        return EwsMailbox(settings.unit_address, service_endpoint=settings.ews_endpoint,
                          username=settings.ews_username, password=settings.ews_password.get_secret_value(),
                          auth_type=settings.ews_auth_type, build=settings.ews_build,
                          max_wait=settings.ews_max_wait)  # fmt: skip
    raise SettingsError(f"SOBOT_MAIL_BACKEND: the {settings.mail_backend} backend is not available in this build.")
