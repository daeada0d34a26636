"""Generated input at the two doors anyone can knock on: the Teams endpoint and the unit's mailbox. Neither falls
over, neither half-writes, and the parser's answer is always an order request, a list of problems, or nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from handlers import orders, people
from handlers.context import CLI
from mail.parsing import IncomingMail, OrderEmailResult, parse_order_email, read_message
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from sobot.app import Services, create_app
from sobot.settings import load_settings
from storage import Database, models
from tests.connector import RecordingConnector
from tests.security.conftest import STAFF

# Deterministic for CI: the same examples every run, and no example database left on disk.
EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- the Teams endpoint -----------------------------------------------------------------------------------------------

PEOPLE = ["sam", "una", "ian", "tess", "nobody"]
VERBS = ["order.submit", "order.allocate", "step.done", "step.done_on", "step.acknowledge", "step.snooze", "open",
         "", "order.submit ", "ORDER.SUBMIT"]  # fmt: skip
FORM_FIELDS = ["child_local_id", "child_name", "child_date_of_birth", "order_type", "made", "commenced", "months",
               "last_day", "court", "other_orders", "conditions", "procedure", "social_worker", "notes"]  # fmt: skip
WORDS = ["new order", "new ISO", "my orders", "order", "due", "due this week", "due next 30 days", "overdue", "done",
         "event", "extend", "to", "allocate", "use this channel for allocations", "help", "SO-2026-0001",
         "SO-2026-9999", "so-2026-1", "initial review", "first_cin_meeting", "outcome", "B", "12/05/2026",
         "31/02/2026", "03/03/2029", "02/03/2028", "Ian Reviewer", "Ivy", "<at>sobot</at>", "💥", "\u0000",
         "'", ";"]  # fmt: skip

json_leaf = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=40)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
field_value = st.one_of(
    st.sampled_from(["", "2026-03-03", "03/03/2026", "31/02/2026", "2031-01-01", "12", "-1", "1e9", "nan", "36",
                     "supervision", "interim_supervision", "care", "wirral", "camden", "atlantis",
                     "sam.worker@example.gov.uk", "ian.reviewer@example.gov.uk", "nobody@example.gov.uk", "C1"]),
    st.text(max_size=30), st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=2),
)  # fmt: skip


@st.composite
def card_data(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from([*FORM_FIELDS, "reference", "step", "occurrence", "days", "done_on", "iro"]),
                         max_size=12, unique=True))  # fmt: skip
    data: dict[str, Any] = {key: draw(field_value) for key in keys}
    data.update(draw(st.dictionaries(st.text(max_size=12), json_value, max_size=3)))
    return data


@st.composite
def activities(draw: st.DrawFn, service_url: str) -> dict[str, Any]:
    """A Bot Framework activity as anyone on loopback might post it: often nearly right, sometimes plain wrong."""
    kind = draw(st.sampled_from(["message", "invoke", "conversationUpdate", "installationUpdate", "messageReaction",
                                 "event", "typing", "endOfConversation", "", "nonsense"]))  # fmt: skip
    who = draw(st.sampled_from(PEOPLE))
    activity: dict[str, Any] = {"type": kind, "serviceUrl": service_url, "channelId": "msteams"}
    if draw(st.booleans()) or kind in ("message", "invoke"):
        activity["id"] = draw(st.text(min_size=1, max_size=20))
    if draw(st.integers(0, 9)):
        sender: dict[str, Any] = {"id": f"29:{who}", "name": who}
        if draw(st.booleans()):
            sender["aadObjectId"] = f"entra-{who}"
        activity["from"] = sender
    if draw(st.integers(0, 9)):
        conversation_type = draw(st.sampled_from(["personal", "channel", "groupChat", None]))
        conversation: dict[str, Any] = {
            "id": draw(
                st.sampled_from(
                    [f"a:personal-{who}", "19:unit@thread.tacv2", "19:unit@thread.tacv2;messageid=activity-1"]
                )
            )
        }
        if conversation_type:
            conversation["conversationType"] = conversation_type
        activity["conversation"] = conversation
    if draw(st.booleans()):
        activity["recipient"] = {"id": "28:sobot", "name": "sobot"}
    if kind == "message" or draw(st.integers(0, 4)) == 0:
        activity["text"] = draw(st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join) | st.text(max_size=80))
    if kind == "invoke":
        activity["name"] = draw(st.sampled_from(["adaptiveCard/action", "adaptiveCard/action", "task/fetch", "x"]))
        action = {"type": draw(st.sampled_from(["Action.Execute", "Action.Submit", ""])),
                  "verb": draw(st.sampled_from(VERBS) | st.text(max_size=15)), "data": draw(card_data())}  # fmt: skip
        good = st.just({"action": action, "trigger": "manual"})
        activity["value"] = draw(
            st.sampled_from(["good", "junk"]).flatmap(lambda s: good if s == "good" else json_value)
        )
    elif kind == "message" and draw(st.integers(0, 3)) == 0:
        activity["value"] = {"verb": draw(st.sampled_from(VERBS)), **draw(card_data())}
    if kind == "conversationUpdate" and draw(st.booleans()):
        activity["membersAdded"] = [{"id": "28:sobot"}]
    return activity


class Errors(logging.Handler):
    """Records at ERROR or above that mean something went wrong unhandled: a trace, or sobot's own error."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # The SDK says at ERROR what it handled itself: a member lookup's 404 (no trace), and a body that is not an
        # activity (with the validation's trace; the endpoint answers 400). A trace from anywhere else, or an error
        # from sobot's own code or aiohttp's request handling, is what counts.
        if record.name.startswith("microsoft_agents.activity"):
            return
        if record.exc_info or record.name.split(".")[0] in OWN_LOGGERS or record.name.startswith("aiohttp"):
            self.records.append(record)


OWN_LOGGERS = {"bot", "handlers", "sobot", "storage", "mail", "scheduler"}


@dataclass
class Endpoint:
    loop: asyncio.AbstractEventLoop
    client: TestClient[Any, Any]
    connector: RecordingConnector
    database: Database

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    async def post(self, activity: dict[str, Any]) -> int:
        response = await self.client.post("/api/messages", json=activity)
        await response.read()
        return response.status

    async def half_written(self) -> list[str]:
        """Orders missing what every saved order has: its steps and the audit row of its making."""
        async with self.database.session() as session:
            bare = await session.scalars(
                select(models.Order.reference).where(~models.Order.milestones.any())
            )  # fmt: skip
            audited = select(models.AuditEntry.order_reference).where(models.AuditEntry.action == "order.create")
            unaudited = await session.scalars(
                select(models.Order.reference).where(models.Order.reference.not_in(audited))
            )
            return [f"{r}: no steps" for r in bare] + [f"{r}: no audit row" for r in unaudited]

    async def orders(self) -> int:
        async with self.database.session() as session:
            return int(await session.scalar(select(func.count()).select_from(models.Order)) or 0)


@pytest.fixture
def endpoint(database_url: str) -> Iterator[Endpoint]:
    """The app in local mode on loopback, on a loop of its own (hypothesis drives it example by example)."""
    loop = asyncio.new_event_loop()

    async def start() -> Endpoint:
        database = Database.from_url(database_url)
        clock = FixedClock(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
        services = Services(load_settings({}, database_url=database_url, mail_backend="none"), clock, database,
                            load_builtin(), WorkingCalendar())  # fmt: skip
        ctx = services.context()
        await people.import_people(ctx, STAFF, CLI)
        new = orders.NewOrder(child_local_id="C1", child_name="Jane Smith", order_type="supervision",
                              made=date(2026, 3, 3), social_worker_email="sam.worker@example.gov.uk")  # fmt: skip
        await orders.create_order(ctx, new, CLI)
        connector = RecordingConnector()
        connector.server = TestServer(connector.app(), host="127.0.0.1")
        await connector.server.start_server()
        client = TestClient(TestServer(create_app(services, run_jobs=False, environ={}), host="127.0.0.1"))
        await client.start_server()
        return Endpoint(loop, client, connector, database)

    endpoint = loop.run_until_complete(start())
    try:
        yield endpoint
    finally:

        async def stop() -> None:
            await endpoint.client.close()
            assert endpoint.connector.server is not None
            await endpoint.connector.server.close()
            await endpoint.database.dispose()

        loop.run_until_complete(stop())
        loop.close()


@pytest.fixture
def errors() -> Iterator[Errors]:
    handler = Errors()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def test_generated_activities_get_no_5xx_no_unhandled_error_and_no_half_written_order(
    endpoint: Endpoint, errors: Errors
) -> None:
    service_url = endpoint.connector.url
    seen: dict[int, int] = {}

    @EXAMPLES
    @given(activity=activities(service_url))
    def posting(activity: dict[str, Any]) -> None:
        errors.records.clear()
        status = endpoint.run(endpoint.post(activity))
        seen[status] = seen.get(status, 0) + 1
        assert status < 500, activity
        assert not errors.records, [r.getMessage() for r in errors.records]
        assert endpoint.run(endpoint.half_written()) == []

    posting()
    # The generator reached the bot's own code, not only the SDK's refusal of bad bodies.
    assert seen.get(200, 0) + seen.get(202, 0) > 20, seen
    assert endpoint.run(endpoint.orders()) >= 1


def test_the_half_written_check_sees_an_order_without_steps(endpoint: Endpoint) -> None:
    """The invariant above can fail: an order row with no steps and no audit row is reported."""

    async def bare_order() -> None:
        async with endpoint.database.session() as session:
            first = await session.scalar(select(models.Order))
            assert first is not None
            session.add(models.Order(reference="SO-2026-0999", child_id=first.child_id, order_type="supervision",
                                     made=first.made, commenced=first.commenced, last_day=first.last_day, court="",
                                     other_orders="", conditions="", procedure_id="wirral", status="open", notes="",
                                     created_at=first.created_at, updated_at=first.updated_at))  # fmt: skip

    endpoint.run(bare_order())
    assert endpoint.run(endpoint.half_written()) == ["SO-2026-0999: no steps", "SO-2026-0999: no audit row"]


# --- the mailbox parser -----------------------------------------------------------------------------------------------

LABELS = ["Child ID", "Child's name", "Name of child", "Child name", "DOB", "Date of birth", "Order type",
          "Type of order", "Date made", "Made on", "Commencement date", "Length or Last day", "Last day", "Length",
          "Social worker", "SW", "Court", "Other orders", "Conditions", "Directions", "ID", "Order"]  # fmt: skip
VALUES = ["C1001", "Jane Smith", "3 March 2026", "3rd March 2026", "03/03/2026", "3/3/26", "2026-03-03",
          "31/02/2026", "Supervision Order", "SO", "ISO", "interim", "care order", "12 months", "six months",
          "2 weeks", "none", "n/a", "tom.jones@example.gov.uk", "Tom <tom@", "Liverpool", "", "same", "💥",
          "\x00"]  # fmt: skip
CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "us-ascii", "utf-16", "koi8-r", "x-unknown", "utf-7", "gb2312"]


@st.composite
def bodies(draw: st.DrawFn) -> str:
    lines = draw(st.lists(
        st.one_of(
            st.tuples(st.sampled_from(LABELS), st.sampled_from([":", " -", "\t", ":*", " =", ""]),
                      st.sampled_from(VALUES) | st.text(max_size=30)).map(lambda t: f"{t[0]}{t[1]} {t[2]}"),
            st.sampled_from(["", "> quoted", "On Mon, 2 Mar 2026, Tom wrote:", "---------- Forwarded message ---------",
                             "Thanks,", "-- ", "From: someone", "* bullet", "1. numbered"]),
            st.text(max_size=60),
        ),
        max_size=25,
    ))  # fmt: skip
    return "\n".join(lines)


@st.composite
def raw_messages(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=400))
    message = EmailMessage()
    headers = {
        "From": st.sampled_from(
            ["Tom Jones <tom.jones@example.gov.uk>", "tom@", "<>", "=?utf-8?b?invalid?= <a@b.c>", "a@b.c, d@e.f", ""]
        )
        | st.text(max_size=30),
        "Subject": st.sampled_from(
            [
                "New supervision order",
                "Re: [SO-2026-0001] Allocate an IRO",
                "Fwd: order",
                "Automatic reply: away",
                "ISO",
                "=?koi8-r?q?=F0=F2?=",
            ]
        )
        | st.text(max_size=40),
        "Message-ID": st.sampled_from(["<a@b>", "", "<>", "no angle"]) | st.text(max_size=20),
        "In-Reply-To": st.sampled_from(["<x@y>", ""]) | st.text(max_size=20),
        "References": st.sampled_from(["<x@y> <z@w>", ""]),
        "Auto-Submitted": st.sampled_from(["auto-replied", "no"]),
        "Precedence": st.sampled_from(["bulk", "list", "first-class"]),
    }
    for name, values in headers.items():
        if draw(st.booleans()):
            value = draw(values).replace("\r", " ").replace("\n", " ")
            try:
                message[name] = value
            except Exception:  # the stdlib's builder refuses (or trips on) some; the raw fallback below has the rest
                continue
    shape = draw(st.sampled_from(["plain", "html", "alternative", "mixed", "nested", "forward"]))
    text = draw(bodies())
    charset = draw(st.sampled_from(CHARSETS))
    encoding = draw(st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-bogus"]))
    payload = text.encode(charset if charset in ("utf-8", "utf-16") else "utf-8", "surrogatepass")
    body = EmailMessage()
    body.set_payload(payload)
    body["Content-Type"] = f'text/{"html" if shape == "html" else "plain"}; charset="{charset}"'
    body["Content-Transfer-Encoding"] = encoding
    if shape in ("plain", "html"):
        for name, value in body.items():
            message[name] = value
        message.set_payload(payload)
    else:
        message["Content-Type"] = f"multipart/{'alternative' if shape == 'alternative' else 'mixed'}; boundary=b1"
        parts = [body]
        if shape in ("alternative", "mixed"):
            html = EmailMessage()
            html.set_content(f"<table><tr><td>{text}</td></tr></table>", subtype="html")
            parts.append(html)
        if shape == "mixed":
            attachment = EmailMessage()
            attachment.set_content(b"%PDF-1.4", maintype="application", subtype="pdf", filename="order.pdf")
            parts.append(attachment)
        if shape == "nested":
            inner = EmailMessage()
            inner.set_content(text)
            inner.make_mixed()
            inner.set_boundary("b2")  # a fixed boundary: the stdlib's own is random, and examples must repeat
            parts.append(inner)
        if shape == "forward":
            forwarded = EmailMessage()
            forwarded["Content-Type"] = "message/rfc822"
            forwarded.set_payload(draw(bodies()).encode("utf-8", "surrogatepass"))
            parts.append(forwarded)
        message.set_payload(parts)
    try:
        raw = message.as_bytes() if draw(st.integers(0, 4)) else bytes(message)
    except (UnicodeError, ValueError, TypeError, LookupError):
        # What the builder will not write, a careless mailer still sends: raw 8-bit headers above the body.
        head = "\r\n".join(f"{name}: {value}" for name, value in message.items())
        raw = head.encode("utf-8", "surrogatepass") + b"\r\n\r\n" + payload
    if draw(st.integers(0, 5)) == 0:
        raw = raw[: draw(st.integers(0, len(raw)))]  # cut off mid-message
    return raw


def is_complete(result: OrderEmailResult) -> bool:
    if result.kind == "orders":
        return bool(result.orders) and not result.problems and all(
            o.child_local_id.strip() and o.child_name.strip() and isinstance(o.made, date)
            and o.order_type in ("supervision", "interim_supervision")
            and (o.child_date_of_birth is None or isinstance(o.child_date_of_birth, date))
            for o in result.orders
        )  # fmt: skip
    if result.kind == "problems":
        return bool(result.problems) and not result.orders and all(p.strip() for p in result.problems)
    return result.kind in ("auto_reply", "not_an_order") and not result.orders and not result.problems


@EXAMPLES
@given(raw=raw_messages())
def test_any_message_reads_and_parses_to_an_order_request_or_problems(raw: bytes) -> None:
    # Neither function documents an error type: read_message "never raises on bad mail", and a message that is not
    # an order is an answer (problems, or not an order), not an exception. So any exception fails here.
    mail = read_message(raw)
    assert isinstance(mail, IncomingMail) and mail.message_id
    for text in (mail.text, mail.new_text, mail.subject, mail.sender_email, mail.sender_name, mail.message_id):
        assert "\x00" not in text, "PostgreSQL refuses NUL in text"
    result = parse_order_email(mail, date(2026, 6, 1))
    assert is_complete(result), result


def test_the_order_check_rejects_an_answer_that_is_neither() -> None:
    assert not is_complete(OrderEmailResult("orders"))
    assert not is_complete(OrderEmailResult("problems"))
    assert not is_complete(OrderEmailResult("not_an_order", problems=("x",)))
