"""Reads the Safeguarding Unit's mail: raw MIME into an IncomingMail; a new-order email into orders or problems."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parseaddr
from html.parser import HTMLParser
from typing import Any, Literal, NamedTuple

from mailparser_reply import EmailMessage as ReplyThread

from handlers.order_form import NewOrder, read_order


class Attachment(NamedTuple):
    """An attachment as listed in the message: never decoded, never opened."""

    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class MailHeaders:
    """What a message's headers alone say: enough to decide whether to read its body at all."""

    message_id: str
    sender_email: str
    sender_name: str
    # More than one sender, or a display name that is an address other than the sender's: never trusted.
    sender_is_ambiguous: bool
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]
    is_auto_reply: bool
    # Every Authentication-Results header and Exchange AuthAs marker, topmost (added last) first.
    authentication_results: tuple[str, ...] = ()
    exchange_auth_as: tuple[str, ...] = ()


@dataclass(frozen=True)
class IncomingMail:
    """One message from the mailbox, in the project's words: who sent it, what it says, what came with it."""

    message_id: str
    sender_email: str
    sender_name: str
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]
    is_auto_reply: bool
    text: str
    new_text: str
    attachments: tuple[Attachment, ...]
    # The latest reply with its signature kept (what a new order is read from); None: work it out from `text`.
    written_text: str | None = None


@dataclass(frozen=True)
class OrderEmailResult:
    """What a new-order email came to: its orders, or the problems to send back, or nothing to answer."""

    kind: Literal["orders", "problems", "auto_reply", "not_an_order"]
    orders: tuple[NewOrder, ...] = ()
    problems: tuple[str, ...] = ()


# --- reading a message ---------------------------------------------------------------------------------------------

_AUTO_SUBJECT = re.compile(
    r"\s*(?:automatic reply|auto[- ]?reply|out of (?:the )?office|undeliverable|delivery status notification)\b",
    re.IGNORECASE,
)
_BULK_PRECEDENCE = {"bulk", "auto_reply", "list", "junk"}
_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
# Mislabelled Western text is the norm: a body declared Latin-1 is really Windows-1252 (as browsers assume).
_READ_AS_CP1252 = {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "iso_8859-1", "windows-1252", "cp1252"}
_FORWARD_MARKER = "---------- Forwarded message ---------"
# Control characters (bar tab and newlines) mean nothing in mail text, and PostgreSQL refuses NUL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


_ABSENT = object()


class _ReadOnce(EmailMessage):
    """A message whose headers are each parsed once, however often they are asked for.

    The stdlib parses a header again on every get: reading one part (its type, charset, format, disposition,
    filename, transfer encoding) parsed its Content-Type six times, most of the time a message took to read. A
    header changed (which sobot never does to mail it reads) is parsed afresh.
    """

    def get(self, name: str, failobj: Any = None) -> Any:
        parsed: dict[str, Any] = self.__dict__.setdefault("_parsed", {})
        key = name.lower()
        if key not in parsed:
            parsed[key] = super().get(name, _ABSENT)  # a header that cannot be parsed raises, every time
        value = parsed[key]
        return failobj if value is _ABSENT else value

    def __setitem__(self, name: str, value: Any) -> None:
        self.__dict__.pop("_parsed", None)
        super().__setitem__(name, value)

    def __delitem__(self, name: str) -> None:
        self.__dict__.pop("_parsed", None)
        super().__delitem__(name)

    def set_raw(self, name: str, value: Any) -> None:
        self.__dict__.pop("_parsed", None)
        super().set_raw(name, value)

    def replace_header(self, _name: str, _value: Any) -> None:
        self.__dict__.pop("_parsed", None)
        super().replace_header(_name, _value)


# The default policy (headers decoded, as people wrote them), its messages each header parsed once.
_READING = policy.default.clone(message_factory=_ReadOnce)


def header_block(raw: bytes) -> bytes:
    """The message's header block alone: what is read of it before (or without) decoding a body of any size."""
    ends = [found for found in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if found >= 0]
    return raw[: min(ends) + 2] if ends else raw


def read_headers(raw: bytes) -> MailHeaders:
    """The message's senders, subject, thread ids and authentication, its body left unread; never raises."""
    return read_headers_and_message_id(raw)[0]


def read_headers_and_message_id(raw: bytes) -> tuple[MailHeaders, str | None]:
    """As read_headers, with the message's first Message-ID line as it was written (None: it has none), from the
    same parse of the header block: the poller's claim is keyed on that line before anything else is read."""
    # Only the header block is parsed: the parser would otherwise still split a body of any size into lines.
    message = BytesParser(policy=_READING).parsebytes(header_block(raw), headersonly=True)
    written = next((value for name, value in message.raw_items() if name.lower() == "message-id"), None)
    return _headers_of(message, raw), written


def _headers_of(message: Message, raw: bytes) -> MailHeaders:
    # The From line parsed once: the stdlib parses a header again on every get.
    try:
        from_line: object = message.get("From")
    except Exception as error:  # as in _header: a malformed From must not lose the message
        from_line = error
    sender_email, sender_name = _sender(message, from_line)
    subject = _header(message, "Subject")
    message_ids = _message_ids(_header(message, "Message-ID"))
    in_reply_to = _message_ids(_header(message, "In-Reply-To"))
    return MailHeaders(
        message_id=message_ids[0] if message_ids else _content_id(message, raw),
        sender_email=sender_email,
        sender_name=sender_name,
        sender_is_ambiguous=_sender_is_ambiguous(message, from_line, sender_email),
        subject=subject,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=_message_ids(_header(message, "References")),
        is_auto_reply=_is_auto_reply(message, subject),
        authentication_results=_all_headers(message, "Authentication-Results"),
        exchange_auth_as=_all_headers(message, "X-MS-Exchange-Organization-AuthAs"),
    )


def read_message(raw: bytes, headers: MailHeaders | None = None) -> IncomingMail:
    """The message's senders, subject, thread ids, best plain text and attachment list; never raises on bad mail.

    `headers`, when the caller has already read them (read_headers), are not read again.
    """
    message = BytesParser(policy=_READING).parsebytes(raw)
    texts: list[str] = []
    attachments: list[Attachment] = []
    _walk(message, texts, attachments)
    text = _tidy(_BLANKS.sub(_blank, "\n\n".join(texts)))
    headers = headers or _headers_of(message, raw)
    # The reply parser is the costliest step: run once, both of its readings kept.
    latest = _latest_reply(text)
    return IncomingMail(
        message_id=headers.message_id,
        sender_email=headers.sender_email,
        sender_name=headers.sender_name,
        subject=headers.subject,
        in_reply_to=headers.in_reply_to,
        references=headers.references,
        is_auto_reply=headers.is_auto_reply,
        text=text,
        new_text=_unquoted(str(latest.body)) if latest is not None else "",
        attachments=tuple(attachments),
        written_text=_unquoted(str(latest.full_body)) if latest is not None else "",
    )


def _content_id(message: Message, raw: bytes) -> str:
    """The id of a message that has no Message-ID: a hash of what its writer wrote (sender, recipients, date, subject,
    body), not of the trace headers each delivery adds, so the same mail delivered twice is known as one."""
    digest = hashlib.sha256()
    for name in ("From", "To", "Cc", "Date", "Subject"):
        digest.update(f"{name}:{_header(message, name)}\n".encode())
    body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")[2]
    digest.update(body)
    return "sha256:" + digest.hexdigest()


def strip_quoted(text: str) -> str:
    """Only what the writer of a reply added: quoted history, signature and disclaimers taken off."""
    latest = _latest_reply(text)
    return _unquoted(str(latest.body)) if latest is not None else ""


def _latest_reply(text: str) -> Any:
    # keep_hyphen_lists: a "- Child ID: …" bullet is not the start of a signature.
    thread = ReplyThread(text=text, languages=["en"], keep_hyphen_lists=True).read()
    latest = thread.replies[0] if thread.replies else None
    # The library skips an empty first part, so a reply that added nothing would come back as the quoted mail
    # (an allocation request, with every IRO's name in it): a first part that has headers was quoted.
    return None if latest is None or latest.headers else latest


def _unquoted(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not line.startswith(">")).strip()


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # the stdlib's header classes raise on some malformed headers: the raw text still serves
        value = next((raw for key, raw in message.raw_items() if key.lower() == name.lower()), None)
    return _readable(" ".join(str(value).split())) if value is not None else ""


def _readable(text: str) -> str:
    """Text that any database stores: raw 8-bit header bytes decoded as a body's would be, control characters gone."""
    # The parser keeps raw 8-bit bytes in headers as lone surrogates, which UTF-8 cannot encode.
    if any("\udc80" <= character <= "\udcff" for character in text):
        text = _text_of(text.encode("utf-8", "surrogateescape"), None)
    return _CONTROL.sub("", text)


def _message_ids(value: str) -> tuple[str, ...]:
    found = _ANGLE_ID.findall(value)
    return tuple(found) if found else tuple(value.split())


def _all_headers(message: Message, name: str) -> tuple[str, ...]:
    try:
        values = message.get_all(name) or []
    except Exception:  # as in _header
        values = [raw for key, raw in message.raw_items() if key.lower() == name.lower()]
    return tuple(_readable(" ".join(str(value).split())) for value in values)


# Anything shaped like an address, wherever it stands in a From line: display name, comment or angle brackets.
_ANY_ADDRESS = re.compile(r"[^\s<>\"(),;:@]+@[^\s<>\"(),;:@]+")


def _sender_is_ambiguous(message: Message, from_line: object, sender_email: str) -> bool:
    """A From line that could be read as someone other than its one address: two addresses, two From lines, or
    a display name (`sue.unit@council.gov.uk <attacker@evil.example>`) that is itself another address.

    `from_line` is the parsed From header, or the error parsing it raised."""
    froms = [value for key, value in message.raw_items() if key.lower() == "from"]
    if len(froms) != 1 or not sender_email or from_line is None or isinstance(from_line, Exception):
        return True  # a From the stdlib cannot read is not one to trust
    try:
        addresses = tuple(getattr(from_line, "addresses", ()))
        decoded = str(from_line)
    except Exception:  # as in _header
        return True
    if len(addresses) != 1:
        return True
    written = {found.lower().strip(".") for found in _ANY_ADDRESS.findall(f"{froms[0]} {decoded}")}
    return written != {sender_email.lower()}


def _sender(message: Message, from_line: object) -> tuple[str, str]:
    # From, not Reply-To: From is what the allow-list and the unit's membership are checked against.
    try:
        addresses = () if isinstance(from_line, Exception) else getattr(from_line, "addresses", ())
    except Exception:  # as in _header: a malformed From must not lose the message
        addresses = ()
    for address in addresses:
        if "@" in address.addr_spec:
            return _readable(address.addr_spec.lower()), _readable(address.display_name)
    name, email_address = parseaddr(_header(message, "From"))
    return email_address.lower(), name


def _is_auto_reply(message: Message, subject: str) -> bool:
    auto_submitted = _header(message, "Auto-Submitted").split(";")[0].strip().lower()
    return (
        auto_submitted not in ("", "no")
        or bool(_header(message, "X-Auto-Response-Suppress"))
        or _header(message, "Precedence").lower() in _BULK_PRECEDENCE
        or bool(_header(message, "X-Autoreply") or _header(message, "X-Autorespond"))
        or bool(_AUTO_SUBJECT.match(subject))
        # A bounce (delivery report) is answered by no one either: answering it could loop.
        or message.get_content_type() == "multipart/report"
    )


def _walk(part: Message, texts: list[str], attachments: list[Attachment]) -> None:
    content_type = part.get_content_type()
    if content_type == "message/rfc822":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, Message):
            attachments.append(Attachment(_filename(part, inner), content_type, _forwarded_size(inner)))
            texts.append(_forwarded(inner, attachments))
        return
    if part.is_multipart():
        children = [child for child in part.get_payload() if isinstance(child, Message)]
        chosen = _preferred_alternative(children) if part.get_content_subtype() == "alternative" else None
        for child in children:
            # The alternatives not chosen still carry attachments (an HTML body's inline images) to list.
            _walk(child, texts if chosen is None or child is chosen else [], attachments)
        return
    if _is_attachment(part):
        attachments.append(Attachment(_filename(part, None), content_type, _encoded_size(part)))
    elif content_type == "text/html":
        texts.append(html_to_text(_decoded(part)))
    elif str(part.get_param("format", "")).lower() == "flowed":
        texts.append(_unflowed(_decoded(part), delete_space=str(part.get_param("delsp", "")).lower() == "yes"))
    else:
        texts.append(_decoded(part))


def _is_attachment(part: Message) -> bool:
    return (
        part.get_content_disposition() == "attachment"
        or part.get_filename() is not None
        # A multipart that lost its boundary arrives as one part: its text is still the body.
        or (part.get_content_type() not in ("text/plain", "text/html") and part.get_content_maintype() != "multipart")
    )


def _preferred_alternative(children: list[Message]) -> Message | None:
    for child in children:
        if child.get_content_type() == "text/plain" and not _is_attachment(child) and _decoded(child).strip():
            return child
    return children[-1] if children else None


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return _text_of(payload, part.get_content_charset())


def _text_of(payload: bytes, charset: str | None) -> str:
    declared = (charset or "us-ascii").lower()
    if declared in ("us-ascii", "ascii"):
        # Undeclared 8-bit text is mostly UTF-8 from scripts and phones, else Windows-1252 from older clients.
        candidates = ["utf-8", "cp1252"]
    elif declared in _READ_AS_CP1252:
        candidates = ["cp1252"]
    else:
        candidates = [declared, "utf-8", "cp1252"]
    for candidate in candidates:
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1", errors="replace")


def _unflowed(text: str, *, delete_space: bool) -> str:
    """format=flowed text (RFC 3676, Thunderbird's way) with its soft line breaks joined up again."""
    lines: list[str] = []
    paragraph = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line[1:] if line.startswith(" ") else line
        if line.endswith(" ") and line != "-- ":
            paragraph += line[:-1] if delete_space else line
        else:
            lines.append(paragraph + line)
            paragraph = ""
    return "\n".join([*lines, paragraph] if paragraph else lines)


def _filename(part: Message, forwarded: Message | None) -> str:
    name = part.get_filename()
    if name:
        return _readable(name)
    if forwarded is not None:
        return (_header(forwarded, "Subject") or "forwarded message") + ".eml"
    return ""


def _encoded_size(part: Message) -> int:
    """The attachment's size in bytes, worked out from its encoded form so that it is never decoded."""
    encoded = part.get_payload()
    if not isinstance(encoded, str):
        return 0
    encoding = _header(part, "Content-Transfer-Encoding").lower()
    if encoding == "base64":
        return len(re.sub(r"[^A-Za-z0-9+/]", "", encoded)) * 3 // 4
    if encoding == "quoted-printable":
        unfolded = re.sub(r"=\r?\n", "", encoded)
        return len(unfolded) - 2 * len(re.findall(r"=[0-9A-Fa-f]{2}", unfolded))
    return len(encoded.encode("utf-8", "surrogateescape"))


def _forwarded_size(inner: Message) -> int:
    try:
        return len(inner.as_bytes())
    except Exception:  # the generator refuses some malformed messages; the size is then unknown, not fatal
        return 0


def _forwarded(inner: Message, attachments: list[Attachment]) -> str:
    # Written as Gmail writes an inline forward, so that strip_quoted and readers see where it begins.
    texts: list[str] = []
    _walk(inner, texts, attachments)
    headers = [f"{name}: {value}" for name in ("From", "Date", "Subject", "To") if (value := _header(inner, name))]
    return "\n".join([_FORWARD_MARKER, *headers, "", *texts])


# A run of spaces and other blanks within a line. The reply parser's patterns (`\s*^…`) and the label line's
# backtrack over every such run at every position: 32,000 spaces took 12 s. One blank each (a tab where the run
# held a tab, as a table's cells are split by one) reads the same and keeps every later pass linear.
_BLANKS = re.compile(r"[^\S\n\r]+")


def _blank(run: re.Match[str]) -> str:
    return "\t" if "\t" in run[0] else " "


# Compiled once: _tidy runs on every table cell of an HTML mail, tens of thousands of times in a hostile one.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_BLANK_LINES = re.compile(r"\n{3,}")
_HTML_SPACE = re.compile(r"[ \t\r\n\f]+")


def _tidy(text: str) -> str:
    if not text.strip():
        return ""  # an empty table cell (or paragraph) is most of what a long table holds
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", _INVISIBLE.sub("", text)).replace("\xa0", " ")
    lines = [line.rstrip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


# --- HTML to text --------------------------------------------------------------------------------------------------

_BLOCKS = {
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre", "hr",
    "section", "article", "header", "footer", "address", "center", "caption",
}  # fmt: skip
_HIDDEN = {"head", "style", "script", "title", "xml", "template"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_NOT_NESTED = {"p", "li", "dt", "dd", "option"}
# What keeps an element's text from the reader's eyes: it is not read either (a hidden block once made an order).
_HIDING_STYLE = re.compile(
    r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse)|mso-hide\s*:\s*all"
    r"|(?:font-size|opacity)\s*:\s*0(?:\.0*)?(?:[a-z]+|%)?\s*(?:!important\s*)?(?:;|$))",
    re.IGNORECASE,
)
_NO_HEIGHT = re.compile(r"(?:^|;)\s*(?:max-)?height\s*:\s*0(?:\.0*)?(?:[a-z]+|%)?\s*(?:!important\s*)?(?:;|$)", re.I)
_CLIPPED = re.compile(r"(?:^|;)\s*overflow\s*:\s*hidden", re.IGNORECASE)


def _conceals(attrs: list[tuple[str, str | None]]) -> bool:
    found = dict(attrs)
    style = (found.get("style") or "")[:2000]
    return (
        "hidden" in found
        or bool(_HIDING_STYLE.search(style))
        # A preheader's way: no height, and what overflows it clipped.
        or bool(_NO_HEIGHT.search(style) and _CLIPPED.search(style))
    )


@dataclass
class _Table:
    cells: list[str] = field(default_factory=list)
    cell_open: bool = False


class _HtmlText(HTMLParser):
    """Outlook's and webmail's HTML as the reader sees it: a line per paragraph, a row's cells split by tabs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._buffers: list[list[str]] = [[]]
        # Per buffer: whether its last chunk with text left a line open (kept so no pass looks back over chunks).
        self._line_open: list[bool] = [False]
        self._tables: list[_Table] = []
        self._hidden = 0
        # The element hiding what is inside it (display:none and the like), and how deep its own tag nests.
        self._concealed: tuple[str, int] | None = None
        self._pre = 0
        self._mailto: tuple[str, list[str], int] | None = None

    def text(self) -> str:
        while self._tables:
            self._close_table()
        lines = "".join(self._buffers[0]).split("\n")
        return "\n".join(line.strip(" ") for line in lines)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._concealed is not None:
            name, depth = self._concealed
            if tag == name and tag not in _NOT_NESTED:
                self._concealed = (name, depth + 1)
            elif tag == name or (name == "p" and tag in _BLOCKS):
                self._concealed = None  # a paragraph ends where the next block begins, closed or not
            else:
                return
        if attrs and tag not in _VOID and _conceals(attrs):
            self._concealed = (tag, 1)
            return
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag == "table":
            self._new_line()
            self._tables.append(_Table())
        elif tag in ("td", "th") and self._tables:
            self._close_cell()
            self._buffers.append([])
            self._line_open.append(False)
            self._tables[-1].cell_open = True
        elif tag == "tr" and self._tables:
            self._close_row()
        elif tag == "br":
            self._append("\n")
        elif tag == "li":
            self._new_line()
            self._append("• ")
        elif tag in _BLOCKS:
            self._new_line()
            if tag == "pre":
                self._pre += 1
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            if href.lower().startswith("mailto:"):
                address = href[len("mailto:") :].split("?")[0]
                self._mailto = (address, self._buffers[-1], len(self._buffers[-1]))

    def handle_endtag(self, tag: str) -> None:
        if self._concealed is not None:
            name, depth = self._concealed
            if tag == name:
                self._concealed = (name, depth - 1) if depth > 1 else None
            return
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "table" and self._tables:
            self._close_table()
        elif tag in ("td", "th") and self._tables:
            self._close_cell()
        elif tag == "tr" and self._tables:
            self._close_row()
        elif tag in _BLOCKS or tag == "li":
            self._new_line()
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
        elif tag == "a" and self._mailto is not None:
            address, buffer, start = self._mailto
            self._mailto = None
            # A linked name ("Tom Jones") would lose the address it links to: write it after the name.
            if buffer is self._buffers[-1] and address.lower() not in "".join(buffer[start:]).lower():
                self._append(f" <{address}>")

    def handle_data(self, data: str) -> None:
        if self._hidden or self._concealed is not None:
            return
        self._append(data if self._pre else _HTML_SPACE.sub(" ", data))

    def _append(self, chunk: str) -> None:
        self._buffers[-1].append(chunk)
        if chunk.strip(" "):
            self._line_open[-1] = not chunk.endswith("\n")

    def _new_line(self) -> None:
        if self._line_open[-1]:
            self._append("\n")

    def _close_cell(self) -> None:
        table = self._tables[-1]
        if table.cell_open:
            table.cells.append("".join(self._buffers.pop()))
            self._line_open.pop()
            table.cell_open = False

    def _close_row(self) -> None:
        self._close_cell()
        table = self._tables[-1]
        if table.cells:
            self._new_line()
            self._append(_row_text(table.cells))
            self._new_line()
            table.cells = []

    def _close_table(self) -> None:
        self._close_row()
        self._tables.pop()
        # A table ends its last value: the paragraph after it is not more of the Conditions.
        self._new_line()
        self._append("\n")


def _row_text(cells: list[str]) -> str:
    """A label cell and its value cell become "label<TAB>value"; a layout table's lone cell keeps its lines."""
    cell_lines = [[line.strip() for line in _tidy(cell).split("\n") if line.strip()] for cell in cells]
    filled = [lines for lines in cell_lines if lines]
    if len(filled) <= 1:
        return "\n".join(filled[0]) if filled else ""
    # The last cell keeps its lines (Conditions, one to a paragraph) to be read as the value's continuation.
    *first, last = filled
    return "\t".join([*(" ".join(lines) for lines in first), last[0]]) + "".join("\n" + line for line in last[1:])


# Runs of bare paragraph starts and line breaks read as one or two: the stdlib parser's cost is per tag.
_PARAGRAPHS = re.compile(r"(?:<p>\s*){2,}", re.IGNORECASE)
_BREAKS = re.compile(r"(?:<br\s*/?>\s*){3,}", re.IGNORECASE)


def html_to_text(html: str) -> str:
    """The text a reader sees in an HTML email: paragraphs and line breaks as lines, table cells split by tabs."""
    parser = _HtmlText()
    parser.feed(_BREAKS.sub("<br><br>", _PARAGRAPHS.sub("<p>", html)))
    parser.close()
    return _tidy(parser.text())


# --- new-order emails ----------------------------------------------------------------------------------------------

_APOSTROPHE_S = r"(?:['’]?s)?"
_LABELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "child_id": ("Child ID", (
        rf"child{_APOSTROPHE_S}\s+(?:id|identifier|ref(?:erence)?|number|no\.?)(?:\s+(?:number|no\.?))?",
        r"(?:lcs|mosaic|case)\s+(?:id|number|no\.?|ref(?:erence)?)(?:\s+number)?", r"lcs", r"id(?:\s+number)?",
    )),
    "child_name": ("Child name", (
        rf"child{_APOSTROPHE_S}(?:\s+full)?\s+name", r"(?:full\s+)?name\s+of\s+(?:the\s+)?child", r"child",
    )),
    "date_of_birth": ("Date of birth", (
        rf"(?:child{_APOSTROPHE_S}\s+)?(?:date\s+of\s+birth|d\.?\s?o\.?\s?b\.?|birth\s*date)",
    )),
    "order_type": ("Order type", (r"order\s+type", r"type\s+of\s+(?:the\s+)?order", r"order")),
    "made": ("Date made", (
        r"date\s+(?:order\s+)?made", r"(?:order\s+)?made(?:\s+on)?", r"date\s+of\s+(?:the\s+)?order", r"order\s+date",
    )),
    "commenced": ("Commencement date", (
        r"(?:date\s+of\s+)?commencement(?:\s+date)?", r"(?:date\s+)?commenced(?:\s+on)?", r"start(?:ing)?\s+date",
        r"start(?:s|ed)?(?:\s+on)?",
    )),
    "length": ("Length or Last day", (
        r"length\s*(?:or|/)\s*last\s+day", r"length(?:\s+of\s+(?:the\s+)?order)?", r"order\s+length",
        r"duration(?:\s+of\s+(?:the\s+)?order)?",
    )),
    "last_day": ("Last day", (
        r"last\s+day(?:\s+of\s+(?:the\s+)?order)?", r"(?:order\s+)?(?:expiry|end)(?:\s+date)?",
        r"(?:order\s+)?(?:expires|ends)(?:\s+on)?",
    )),
    "social_worker": ("Social worker", (
        rf"(?:allocated\s+)?social\s+worker{_APOSTROPHE_S}(?:\s+(?:name|e-?mail(?:\s+address)?))?",
        r"(?:allocated\s+)?sw",
    )),
    "court": ("Court", (r"(?:name\s+of\s+(?:the\s+)?)?(?:family\s+)?court(?:\s+(?:name|centre|center))?",)),
    "other_orders": ("Other orders", (
        r"(?:any\s+)?other\s+(?:court\s+)?orders?(?:\s+(?:made|in\s+force|in\s+place))?",
    )),
    "conditions": ("Conditions", (
        r"(?:any\s+)?conditions(?:\s*(?:and|&|/)\s*directions)?(?:\s+(?:of|on)\s+(?:the\s+)?order)?",
        r"directions", r"requirements",
    )),
}  # fmt: skip
_MULTILINE = {"other_orders", "conditions"}
# Each label's key as the order reader names the field.
_FIELDS = {"child_id": "child_local_id", "date_of_birth": "child_date_of_birth"}

_LABEL = "|".join(f"(?P<{key}>{'|'.join(patterns)})" for key, (_, patterns) in _LABELS.items())
# A label line: optional quote marks and a bullet, the label (perhaps in *bold*), then ":" "-" or a tab (a table
# cell) and the value; or the label alone on its line (Outlook's plain text of a table), its value below it.
_LABEL_LINE = re.compile(
    r"[ \t]*(?:>[ \t]*)*(?:[-*•·▪◦‣–+][ \t]*|\(?\d{1,2}[.)][ \t]+)?[*_]*[ \t]*"
    rf"(?:{_LABEL})[*_]*"
    r"(?:(?P<sep>[ \t]*[:=][*_]*|[ \t]*\t|[ \t]+[-–—]|[-–—][ \t]+)[ \t]*(?P<value>.*)|[ \t]*)",
    re.IGNORECASE,
)
# Where a value's continuation ends even without an empty line: quoted history or a forward begins.
_HISTORY = re.compile(
    r"[ \t]*(?:[-_=~*]{5,}|(?:from|sent|to|subject|date|cc):\s|on\s.*\swrote:$|begin forwarded message)",
    re.IGNORECASE,
)
_FORWARD_SUBJECT = re.compile(r"\s*(?:fwd?|forward)\s*:", re.IGNORECASE)
_FORWARDED_TEXT = re.compile(r"^-{2,}\s*forwarded message\s*-{2,}|^begin forwarded message:", re.I | re.M)
_REPLY_SUBJECT = re.compile(r"\s*re\s*(?:\[\d+\])?\s*:", re.IGNORECASE)
_ORDER_SUBJECT = re.compile(r"supervision order|new order", re.IGNORECASE)
_ORDER_ABBREVIATION = re.compile(r"\bI?SO\b(?![-\d])")


MOST_ORDERS = 20


def parse_order_email(mail: IncomingMail, today: date) -> OrderEmailResult:
    """The orders a new-order email gives, or the problems that stop it, each a sentence for its sender.

    Each order's labelled values are read by the order reader every channel uses, with `today` for its dates.
    """
    if mail.is_auto_reply:
        return OrderEmailResult("auto_reply")
    # Quoted history is never read as an order (a reply quoting an old order would make it again); a forward's is.
    # The signature stays: a "Thanks," line above the details would otherwise be taken for one and cut them off.
    written = mail.written_text
    if written is None:
        latest = _latest_reply(mail.text)
        written = _unquoted(str(latest.full_body)) if latest is not None else ""
    blocks = _order_blocks(written)
    if _is_forward(mail) and not any("child_id" in block for block in blocks):
        # A forward is read for what it forwards; what the forwarder wrote above it ("Social worker: Dev Sharma")
        # is their word on that order, and stands over the forwarded lines.
        forwarder: dict[str, str] = {}
        for block in blocks:
            forwarder |= block
        marker = _FORWARDED_TEXT.search(mail.text)
        forwarded = _order_blocks(mail.text[marker.start() :] if marker else mail.text)
        blocks = [block | forwarder for block in forwarded] or blocks
    if not blocks:
        if _names_an_order(mail):
            missing = read_order({}, today)
            assert isinstance(missing, list)
            return OrderEmailResult(
                "problems", problems=tuple([p.sentence for p in missing] + _unread_attachments(mail))
            )
        return OrderEmailResult("not_an_order")
    if len(blocks) > MOST_ORDERS:
        # Each order is read in full; a mail of thousands of "Child ID:" lines is not a family's orders.
        return OrderEmailResult("problems", problems=(
            f"This email gives {len(blocks)} orders, and one email may give at most {MOST_ORDERS}: send them in "
            "several emails.",
        ))  # fmt: skip
    orders: list[NewOrder] = []
    problems: list[str] = []
    for number, block in enumerate(blocks, start=1):
        read = read_order(_labelled(block), today)
        found = [problem.sentence for problem in read] if isinstance(read, list) else []
        if isinstance(read, NewOrder):
            orders.append(read)
        name = " ".join(block.get("child_name", "").split())
        prefix = (f"Order {number} ({name}): " if name else f"Order {number}: ") if len(blocks) > 1 else ""
        problems += [prefix + problem for problem in found]
    if problems:
        return OrderEmailResult("problems", problems=tuple(problems + _unread_attachments(mail)))
    return OrderEmailResult("orders", orders=tuple(orders))


def _is_forward(mail: IncomingMail) -> bool:
    # Gmail puts In-Reply-To on a forward too, so only the subject tells a reply to a forward from a forward.
    if _REPLY_SUBJECT.match(mail.subject):
        return False
    return bool(_FORWARD_SUBJECT.match(mail.subject) or _FORWARDED_TEXT.search(mail.text))


def _names_an_order(mail: IncomingMail) -> bool:
    # A subject that names an order on a mail without its details is an attempt worth answering; a reply is not.
    is_reply = mail.in_reply_to is not None or _REPLY_SUBJECT.match(mail.subject)
    named = _ORDER_SUBJECT.search(mail.subject) or _ORDER_ABBREVIATION.search(mail.subject)
    return bool(named) and not is_reply


def _unread_attachments(mail: IncomingMail) -> list[str]:
    # Images are left out: Outlook signs its mail with inline logos that nobody sent as an order.
    names = [f"'{a.filename}'" for a in mail.attachments if a.filename and not a.content_type.startswith("image/")]
    if not names:
        return []
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    were = "was" if len(names) == 1 else "were"
    return [f"{listed} {were} not read (attachments never are): type the order's details into the email itself."]


def _order_blocks(text: str) -> list[dict[str, str]]:
    """Each order's labelled values, as written; a label seen again starts the next child's order."""
    lines = text.split("\n")
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    index = 0
    while index < len(lines):
        match = _LABEL_LINE.fullmatch(lines[index])
        index += 1
        if match is None:
            continue
        key = next(name for name in _LABELS if match[name] is not None)
        values = [match["value"].strip()] if match["sep"] else []
        if not any(values):
            # The value is on the next line: straight after "Label:", or after blank lines under a bare label.
            while match["sep"] is None and index < len(lines) and not lines[index].strip():
                index += 1
            if index < len(lines) and _continues(lines[index]):
                values = [lines[index].strip()]
                index += 1
        while key in _MULTILINE and index < len(lines) and _continues(lines[index]):
            values.append(lines[index].strip())
            index += 1
        if key in current:
            blocks.append(current)
            current = {}
        current[key] = "\n".join(value for value in values if value)
    if current:
        blocks.append(current)
    # The same order twice (quoted inside a forwarded chain, say) is one order.
    return list({tuple(block.items()): block for block in blocks}.values())


def _continues(line: str) -> bool:
    return bool(line.strip()) and not _LABEL_LINE.fullmatch(line) and not _HISTORY.match(line)


def _labelled(block: dict[str, str]) -> dict[str, str]:
    """An order's values by the reader's field names, with the emphasis people put on email values taken off."""
    labelled = {}
    for key, text in block.items():
        value = text if key in _MULTILINE else " ".join(text.split()).strip("*_ ").rstrip(".,;")
        labelled[_FIELDS.get(key, key)] = value
    return labelled
