"""A loopback fake of Exchange Web Services: one mailbox in memory, answering the SOAP that exchangelib sends.

It speaks EWS's wire format (SOAP 1.1 envelopes in the messages/types namespaces, ServerVersionInfo header,
per-item ResponseMessages with ResponseClass and ResponseCode) for the operations the EWS backend uses:
GetFolder, FindFolder, CreateFolder, FindItem, GetItem, UpdateItem, MoveItem and CreateItem. Anything else
gets a SOAP fault, so a new request shows up as a failing test rather than a silent pass.
"""

from __future__ import annotations

import base64
import itertools
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from xml.sax.saxutils import escape, quoteattr

from aiohttp import BasicAuth, web

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
NS = {"s": SOAP, "m": M, "t": T}


@dataclass
class StoredFolder:
    id: str
    name: str
    parent_id: str | None
    distinguished: str | None = None
    changekey: str = "AQAAABYAAAA="


@dataclass
class StoredItem:
    id: str
    folder_id: str
    mime: bytes
    received: datetime
    is_read: bool = False
    version: int = 1

    @property
    def changekey(self) -> str:
        return base64.b64encode(f"CQAAABYAAAD{self.version:04d}".encode()).decode()


class SoapFault(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class FakeEws:
    """The mailbox a test arranges and reads back, and the SOAP operations it was asked for, in order."""

    address: str
    username: str
    password: str
    folders: dict[str, StoredFolder] = field(default_factory=dict)
    items: dict[str, StoredItem] = field(default_factory=dict)
    sent: list[EmailMessage] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)
    """Every SOAP envelope received, as sent."""
    endpoint: str = ""
    on_send: Callable[[EmailMessage], None] | None = None
    """Called with each email CreateItem accepted for sending, before Exchange answers: a test's moment to kill
    the sender."""
    failing: int | None = None
    """An HTTP status every request is answered with (500: a server failing; 401: a login refused)."""
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        root = self._add_folder("Root", None, "root")
        top = self._add_folder("Top of Information Store", root.id, "msgfolderroot")
        for name, distinguished in (("Inbox", "inbox"), ("Sent Items", "sentitems"), ("Drafts", "drafts")):
            self._add_folder(name, top.id, distinguished)

    def folder(self, name: str) -> StoredFolder | None:
        return next((f for f in self.folders.values() if f.name == name or f.distinguished == name), None)

    def sends(self) -> Counter[str]:
        """How many times each Message-ID was accepted for sending: a mail system drops a second copy by it."""
        return Counter(str(message["Message-ID"]) for message in self.sent)

    def in_folder(self, name: str) -> list[StoredItem]:
        folder = self.folder(name)
        return [] if folder is None else [i for i in self.items.values() if i.folder_id == folder.id]

    def deliver(self, mime: bytes, *, minutes_ago: int = 0, is_read: bool = False) -> str:
        inbox = self.folder("inbox")
        assert inbox is not None
        item_id = self._new_id("item")
        received = datetime(2026, 3, 3, 9, 0, tzinfo=UTC) - timedelta(minutes=minutes_ago)
        self.items[item_id] = StoredItem(item_id, inbox.id, mime, received, is_read)
        return item_id

    def _new_id(self, kind: str) -> str:
        # EWS ids are long base64 strings; these keep that alphabet (and so never contain a space).
        return base64.b64encode(f"AAMkADk-{kind}-{next(self._ids):06d}".encode()).decode()

    def _add_folder(self, name: str, parent_id: str | None, distinguished: str | None = None) -> StoredFolder:
        folder = StoredFolder(self._new_id("folder"), name, parent_id, distinguished)
        self.folders[folder.id] = folder
        return folder

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/EWS/Exchange.asmx", self._soap)
        return app

    async def _soap(self, request: web.Request) -> web.Response:
        if self.failing == 401:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="127.0.0.1"'})
        if self.failing is not None:
            return _fault("ErrorInternalServerError", "An internal server error occurred. The operation failed.")
        try:
            auth = BasicAuth.decode(request.headers.get("Authorization", ""))
        except ValueError:
            auth = None
        if auth is None or (auth.login, auth.password) != (self.username, self.password):
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="127.0.0.1"'})
        raw = await request.read()
        self.requests.append(raw)
        envelope = ET.fromstring(raw)
        version = envelope.find("s:Header/t:RequestServerVersion", NS)
        body = envelope.find("s:Body", NS)
        if version is None or body is None or len(body) == 0:
            return _fault("ErrorSchemaValidation", "The request failed schema validation: no RequestServerVersion.")
        operation = body[0]
        name = operation.tag.removeprefix(f"{{{M}}}")
        self.operations.append(name)
        handlers: dict[str, Callable[[ET.Element], str]] = {
            "GetFolder": self._get_folder,
            "FindFolder": self._find_folder,
            "CreateFolder": self._create_folder,
            "FindItem": self._find_item,
            "GetItem": self._get_item,
            "UpdateItem": self._update_item,
            "MoveItem": self._move_item,
            "CreateItem": self._create_item,
        }
        if name not in handlers:
            return _fault("ErrorInvalidRequest", f"The fake EWS server does not answer {name}.")
        try:
            messages = handlers[name](operation)
        except SoapFault as fault:
            return _fault(fault.code, str(fault))
        return _envelope(
            f'<m:{name}Response xmlns:m="{M}" xmlns:t="{T}">'
            f"<m:ResponseMessages>{messages}</m:ResponseMessages></m:{name}Response>"
        )

    def _resolve_folder(self, element: ET.Element) -> StoredFolder | None:
        if element.tag == f"{{{T}}}DistinguishedFolderId":
            return next((f for f in self.folders.values() if f.distinguished == element.get("Id")), None)
        if element.tag == f"{{{T}}}FolderId":
            return self.folders.get(element.get("Id", ""))
        raise SoapFault("ErrorSchemaValidation", f"unexpected folder id element {element.tag}")

    def _folder_xml(self, folder: StoredFolder) -> str:
        children = sum(1 for f in self.folders.values() if f.parent_id == folder.id)
        items = [i for i in self.items.values() if i.folder_id == folder.id]
        parent = f"<t:ParentFolderId Id={quoteattr(folder.parent_id)} />" if folder.parent_id else ""
        return (
            f"<t:Folder><t:FolderId Id={quoteattr(folder.id)} ChangeKey={quoteattr(folder.changekey)} />{parent}"
            f"<t:FolderClass>IPF.Note</t:FolderClass><t:DisplayName>{escape(folder.name)}</t:DisplayName>"
            f"<t:TotalCount>{len(items)}</t:TotalCount><t:ChildFolderCount>{children}</t:ChildFolderCount>"
            f"<t:UnreadCount>{sum(not i.is_read for i in items)}</t:UnreadCount></t:Folder>"
        )

    def _get_folder(self, operation: ET.Element) -> str:
        answers = []
        for element in operation.findall("m:FolderIds/*", NS):
            folder = self._resolve_folder(element)
            if folder is None:
                answers.append(_error("GetFolder", "ErrorFolderNotFound", "The specified folder could not be found."))
            else:
                answers.append(_success("GetFolder", f"<m:Folders>{self._folder_xml(folder)}</m:Folders>"))
        return "".join(answers)

    def _find_folder(self, operation: ET.Element) -> str:
        deep = operation.get("Traversal") == "Deep"
        answers = []
        for element in operation.findall("m:ParentFolderIds/*", NS):
            parent = self._resolve_folder(element)
            if parent is None:
                answers.append(_error("FindFolder", "ErrorFolderNotFound", "The specified folder could not be found."))
                continue
            children = self._children(parent, deep=deep)
            folders = "".join(self._folder_xml(f) for f in children)
            answers.append(
                _success(
                    "FindFolder",
                    f'<m:RootFolder IndexedPagingOffset="{len(children)}" TotalItemsInView="{len(children)}" '
                    f'IncludesLastItemInRange="true"><t:Folders>{folders}</t:Folders></m:RootFolder>',
                )
            )
        return "".join(answers)

    def _children(self, parent: StoredFolder, *, deep: bool) -> list[StoredFolder]:
        found = []
        for folder in self.folders.values():
            if folder.parent_id == parent.id:
                found.append(folder)
                if deep:
                    found.extend(self._children(folder, deep=True))
        return found

    def _create_folder(self, operation: ET.Element) -> str:
        parent_element = operation.find("m:ParentFolderId/*", NS)
        parent = None if parent_element is None else self._resolve_folder(parent_element)
        if parent is None:
            return _error("CreateFolder", "ErrorParentFolderNotFound", "The parent folder could not be found.")
        answers = []
        for element in operation.findall("m:Folders/t:Folder", NS):
            name = element.findtext("t:DisplayName", default="", namespaces=NS)
            if any(f.parent_id == parent.id and f.name == name for f in self.folders.values()):
                answers.append(_error("CreateFolder", "ErrorFolderExists", "A folder with that name already exists."))
                continue
            folder = self._add_folder(name, parent.id)
            answers.append(
                _success(
                    "CreateFolder",
                    f"<m:Folders><t:Folder><t:FolderId Id={quoteattr(folder.id)} "
                    f"ChangeKey={quoteattr(folder.changekey)} /></t:Folder></m:Folders>",
                )
            )
        return "".join(answers)

    def _find_item(self, operation: ET.Element) -> str:
        wanted = _is_read_restriction(operation.find("m:Restriction", NS))
        order = operation.find("m:SortOrder/t:FieldOrder", NS)
        view = operation.find("m:IndexedPageItemView", NS)
        offset = int(view.get("Offset", "0")) if view is not None else 0
        limit = int(view.get("MaxEntriesReturned", "1000")) if view is not None else 1000
        answers = []
        for element in operation.findall("m:ParentFolderIds/*", NS):
            folder = self._resolve_folder(element)
            if folder is None:
                answers.append(_error("FindItem", "ErrorFolderNotFound", "The specified folder could not be found."))
                continue
            found = [i for i in self.items.values() if i.folder_id == folder.id and wanted in (None, i.is_read)]
            found.sort(key=lambda i: i.received, reverse=True)  # Exchange's default: newest first
            if order is not None:
                field_uri = order.find("t:FieldURI", NS)
                if field_uri is None or field_uri.get("FieldURI") != "item:DateTimeReceived":
                    raise SoapFault("ErrorInvalidRequest", "The fake EWS server only sorts by item:DateTimeReceived.")
                found.sort(key=lambda i: i.received, reverse=order.get("Order") == "Descending")
            page = found[offset : offset + limit]
            end = offset + len(page)
            messages = "".join(_item_id_xml(i) for i in page)
            answers.append(
                _success(
                    "FindItem",
                    f'<m:RootFolder IndexedPagingOffset="{end}" TotalItemsInView="{len(found)}" '
                    f'IncludesLastItemInRange="{str(end >= len(found)).lower()}">'
                    f"<t:Items>{messages}</t:Items></m:RootFolder>",
                )
            )
        return "".join(answers)

    def _get_item(self, operation: ET.Element) -> str:
        fields = {e.get("FieldURI") for e in operation.findall("m:ItemShape/t:AdditionalProperties/t:FieldURI", NS)}
        answers = []
        for element in operation.findall("m:ItemIds/t:ItemId", NS):
            item = self.items.get(element.get("Id", ""))
            if item is None:
                answers.append(_not_found("GetItem"))
                continue
            mime = ""
            if "item:MimeContent" in fields:
                encoded = base64.b64encode(item.mime).decode()
                mime = f'<t:MimeContent CharacterSet="UTF-8">{encoded}</t:MimeContent>'
            read = f"<t:IsRead>{str(item.is_read).lower()}</t:IsRead>" if "message:IsRead" in fields else ""
            answers.append(
                _success(
                    "GetItem",
                    f"<m:Items><t:Message>{mime}<t:ItemId Id={quoteattr(item.id)} "
                    f"ChangeKey={quoteattr(item.changekey)} />{read}</t:Message></m:Items>",
                )
            )
        return "".join(answers)

    def _update_item(self, operation: ET.Element) -> str:
        answers = []
        for change in operation.findall("m:ItemChanges/t:ItemChange", NS):
            item_id = change.find("t:ItemId", NS)
            item = None if item_id is None else self.items.get(item_id.get("Id", ""))
            if item is None:
                answers.append(_not_found("UpdateItem"))
                continue
            for update in change.findall("t:Updates/t:SetItemField", NS):
                uri = update.find("t:FieldURI", NS)
                if uri is None or uri.get("FieldURI") != "message:IsRead":
                    raise SoapFault("ErrorInvalidRequest", "The fake EWS server only updates message:IsRead.")
                item.is_read = _boolean(update.findtext("t:Message/t:IsRead", default="", namespaces=NS))
            item.version += 1
            answers.append(
                _success(
                    "UpdateItem",
                    f"<m:Items>{_item_id_xml(item)}</m:Items><m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>",
                )
            )
        return "".join(answers)

    def _move_item(self, operation: ET.Element) -> str:
        target_element = operation.find("m:ToFolderId/*", NS)
        target = None if target_element is None else self._resolve_folder(target_element)
        answers = []
        for element in operation.findall("m:ItemIds/t:ItemId", NS):
            item = self.items.get(element.get("Id", ""))
            if item is None:
                answers.append(_not_found("MoveItem"))
                continue
            if target is None:
                answers.append(_error("MoveItem", "ErrorFolderNotFound", "The specified folder could not be found."))
                continue
            # A move is a copy and a delete in the store: the item comes back with a new id.
            del self.items[item.id]
            item.id, item.folder_id, item.version = self._new_id("item"), target.id, item.version + 1
            self.items[item.id] = item
            answers.append(_success("MoveItem", f"<m:Items>{_item_id_xml(item)}</m:Items>"))
        return "".join(answers)

    def _create_item(self, operation: ET.Element) -> str:
        disposition = operation.get("MessageDisposition")
        answers = []
        for message in operation.findall("m:Items/t:Message", NS):
            encoded = message.findtext("t:MimeContent", default="", namespaces=NS)
            if not encoded:
                raise SoapFault("ErrorInvalidRequest", "The fake EWS server only creates messages from MimeContent.")
            mime = base64.b64decode(encoded)
            if disposition in ("SendOnly", "SendAndSaveCopy"):
                parsed = message_from_bytes(mime, policy=policy.default)
                assert isinstance(parsed, EmailMessage)
                self.sent.append(parsed)
                if self.on_send is not None:
                    self.on_send(parsed)
            if disposition in ("SaveOnly", "SendAndSaveCopy"):
                saved_in = operation.find("m:SavedItemFolderId/*", NS)
                folder = self.folder("sentitems") if saved_in is None else self._resolve_folder(saved_in)
                assert folder is not None
                item_id = self._new_id("item")
                self.items[item_id] = StoredItem(item_id, folder.id, mime, datetime.now(UTC), is_read=True)
            # Exchange returns no item for a message it sends (SendOnly and SendAndSaveCopy alike).
            answers.append(_success("CreateItem", "<m:Items />"))
        return "".join(answers)


def _is_read_restriction(restriction: ET.Element | None) -> bool | None:
    """The IsRead value a FindItem's restriction asks for: the one restriction the backend sends."""
    if restriction is None:
        return None
    test = restriction.find("t:IsEqualTo", NS)
    uri = None if test is None else test.find("t:FieldURI", NS)
    constant = None if test is None else test.find("t:FieldURIOrConstant/t:Constant", NS)
    if uri is None or uri.get("FieldURI") != "message:IsRead" or constant is None:
        raise SoapFault("ErrorInvalidRequest", "The fake EWS server only restricts on message:IsRead.")
    return _boolean(constant.get("Value", ""))


def _boolean(value: str) -> bool:
    """xs:boolean: exchangelib writes 1 and 0, other clients true and false."""
    if value not in ("true", "1", "false", "0"):
        raise SoapFault("ErrorSchemaValidation", f"{value!r} is not a valid xs:boolean.")
    return value in ("true", "1")


def _item_id_xml(item: StoredItem) -> str:
    return f"<t:Message><t:ItemId Id={quoteattr(item.id)} ChangeKey={quoteattr(item.changekey)} /></t:Message>"


def _success(operation: str, content: str) -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
        f"{content}</m:{operation}ResponseMessage>"
    )


def _error(operation: str, code: str, text: str) -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Error"><m:MessageText>{escape(text)}</m:MessageText>'
        f"<m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
        f"</m:{operation}ResponseMessage>"
    )


def _not_found(operation: str) -> str:
    return _error(operation, "ErrorItemNotFound", "The specified object was not found in the store.")


def _envelope(body: str) -> web.Response:
    text = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}"><s:Header>'
        f'<h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" '
        f'Version="V2017_07_11" xmlns:h="{T}" xmlns="{T}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" />'
        '</s:Header><s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:xsd="http://www.w3.org/2001/XMLSchema">{body}</s:Body>'
        "</s:Envelope>"
    )
    return web.Response(text=text, content_type="text/xml", charset="utf-8")


def _fault(code: str, message: str) -> web.Response:
    text = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}"><s:Body><s:Fault>'
        f'<faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:{code}</faultcode>'
        f'<faultstring xml:lang="en-US">{escape(message)}</faultstring>'
        f'<detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{code}'
        f'</e:ResponseCode><e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">'
        f"{escape(message)}</e:Message></detail></s:Fault></s:Body></s:Envelope>"
    )
    return web.Response(status=500, text=text, content_type="text/xml", charset="utf-8")


@asynccontextmanager
async def serve_ews(address: str, username: str, password: str, fake: FakeEws | None = None) -> AsyncIterator[FakeEws]:
    """Runs the fake on 127.0.0.1 on a free port; `fake.endpoint` is the EWS URL to configure."""
    fake = fake or FakeEws(address=address, username=username, password=password)
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        fake.endpoint = f"http://127.0.0.1:{runner.addresses[0][1]}/EWS/Exchange.asmx"
        yield fake
    finally:
        await runner.cleanup()
