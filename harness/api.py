"""The six gallery endpoints as calls; every answer is validated against its schema on arrival."""

from __future__ import annotations

import json
from collections.abc import Sequence

from harness.client import ApiClient, Reply
from harness.contract import Contract
from harness.errors import SchemaViolation
from harness.ledger import Ledger
from harness.payload import FileToSend
from harness.schemas import SchemaBook

SUCCESS_SCHEMA = {
    "upload": "file_base",
    "upload_many": "file_base_list",
    "list": "file_base_list",
    "reorder": "order_in",
    "delete": "stretch_response",
}
UPDATE_BODY_SCHEMA = {"file_base": "file_base", "stretch_response": "stretch_response"}


class GalleryApi:
    def __init__(self, client: ApiClient, book: SchemaBook, contract: Contract, ledger: Ledger):
        self.client = client
        self.book = book
        self.contract = contract
        self.ledger = ledger
        self.replies: list[Reply] = []  # every API answer of the current scenario
        # Requests sent that may change a gallery: every call but the listing, counted before it
        # leaves, so one that got no answer counts too.
        self.changes_sent = 0

    # The six endpoints. `user` is "A", "B" or None; `token` overrides the user's token.

    def upload(
        self,
        user: str | None,
        file: FileToSend | None,
        title: str | None = None,
        token: str | None = None,
    ) -> Reply:
        files, fields = _form(file, title)
        self.changes_sent += 1
        reply = self.client.send(
            "POST", self.client.url("storage/image"), user=user, token=token,
            files=files, fields=fields,
        )  # fmt: skip
        return self._received("upload", reply, user)

    def upload_many(
        self, user: str | None, files: Sequence[FileToSend], token: str | None = None
    ) -> Reply:
        parts = [("files", f) for f in files]
        # With no file, send the field empty so the request is still a well-formed form.
        fields = {} if parts else {"files": ""}
        self.changes_sent += 1
        reply = self.client.send(
            "POST", self.client.url("storage/images"), user=user, token=token,
            files=parts, fields=fields,
        )  # fmt: skip
        return self._received("upload_many", reply, user)

    def list_images(self, user: str | None, token: str | None = None) -> Reply:
        reply = self.client.send("GET", self.client.url("storage/images"), user=user, token=token)
        return self._received("list", reply, user)

    def reorder(self, user: str | None, order: list[str], token: str | None = None) -> Reply:
        self.changes_sent += 1
        reply = self.client.send(
            "PUT", self.client.url("storage/images/order"), user=user, token=token,
            json_body={"order": order},
        )  # fmt: skip
        return self._received("reorder", reply, user)

    def update(
        self,
        user: str | None,
        image_id: str,
        file: FileToSend | None = None,
        title: str | None = None,
        token: str | None = None,
    ) -> Reply:
        files, fields = _form(file, title)
        self.changes_sent += 1
        reply = self.client.send(
            "PUT", self.client.url(f"storage/image/{image_id}"), user=user, token=token,
            files=files, fields=fields,
        )  # fmt: skip
        return self._received("update", reply, user)

    def delete(self, user: str | None, image_id: str, token: str | None = None) -> Reply:
        self.changes_sent += 1
        reply = self.client.send(
            "DELETE", self.client.url(f"storage/image/{image_id}"), user=user, token=token
        )
        reply = self._received("delete", reply, user)
        if 200 <= reply.status < 300:
            self.ledger.gone(image_id)
        return reply

    def fetch_media(self, url: str, user: str) -> Reply:
        return self.client.fetch_media(url, user, self.contract.media_public)

    # Checking what came back.

    def _received(self, endpoint: str, reply: Reply, user: str | None) -> Reply:
        self.replies.append(reply)
        name = self._schema_for(endpoint, reply)
        if name is not None:
            reply.schema_checked = name
            reply.schema_error = self._validate(name, reply)
        if endpoint in ("upload", "upload_many") and 200 <= reply.status < 300 and user:
            self._record_created(reply, user)
        return reply

    def _schema_for(self, endpoint: str, reply: Reply) -> str | None:
        status = reply.status
        if status == 422:
            return "http_validation_error"
        if status >= 400:
            return "error"
        if not 200 <= status < 300:
            return None
        if endpoint != "update":
            return SUCCESS_SCHEMA[endpoint]
        if not reply.body.strip() and "empty" in self.contract.update_body:
            return None
        # Update's body is undocumented: it passes if it matches any body the contract allows.
        allowed = [UPDATE_BODY_SCHEMA[b] for b in sorted(self.contract.update_body) if b != "empty"]
        for name in allowed:
            if self._validate(name, reply) is None:
                return name
        return allowed[0] if allowed else "file_base"

    def _validate(self, name: str, reply: Reply) -> SchemaViolation | None:
        try:
            instance = json.loads(reply.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return SchemaViolation(name, "/", "/", f"body is not JSON ({exc}): {reply.excerpt()}",
                                   reply.request)  # fmt: skip
        try:
            self.book.validate(name, instance, reply.request)
        except SchemaViolation as violation:
            return violation
        return None

    def _record_created(self, reply: Reply, user: str) -> None:
        try:
            body = reply.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return
        records = body if isinstance(body, list) else [body]
        for record in records:
            if isinstance(record, dict) and isinstance(record.get("id"), str):
                self.ledger.created(user, record["id"])


def _form(file: FileToSend | None, title: str | None) -> tuple[list, dict[str, str]]:
    """The multipart parts of an upload or an update: the file and the title, each optional."""
    files = [("file", file)] if file is not None else []
    fields = {"title": title} if title is not None else {}
    return files, fields
