"""Helpers of the admin tests: post the real admin forms as a browser would, read back what
was recorded (audit events as stored, history records, the history page's "Changes" column)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from django import forms
from django.db import connection
from django.db.models import Model
from django.test import Client

from accounts.models import AuditEvent, User


@dataclass
class Staff:
    """A logged-in staff member: the test client of the admin and the user acting in it."""

    client: Client
    user: User


def form_data(form: forms.BaseForm) -> dict[str, Any]:
    """What a browser posts for ``form`` left as it is: every enabled field's current value."""
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"  # an unticked checkbox is not posted at all
        elif isinstance(value, list | tuple):
            data[name] = [str(item) for item in value]
        else:
            data[name] = "" if value is None else str(value)
    return data


def admin_form_data(client: Client, url: str) -> dict[str, Any]:
    """GET the admin add or change page at ``url``; return its form's data as a browser posts it."""
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    data = form_data(response.context["adminform"].form)
    # Inline formsets (an asset's market caps, splits, dividends): their management form and
    # rows, with their prefixes, as the page posts them.
    for inline in response.context.get("inline_admin_formsets") or []:
        formset = inline.formset
        for form in [formset.management_form, *formset.forms]:
            data.update({form.add_prefix(name): value for name, value in form_data(form).items()})
    return data


def audit_mark() -> int:
    """The id of the newest audit event so far (0 if none): see :func:`events_since`."""
    newest = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    return newest or 0


def events_since(mark: int) -> list[AuditEvent]:
    """The audit events recorded after :func:`audit_mark` returned ``mark``, oldest first."""
    return list(AuditEvent.objects.filter(id__gt=mark).order_by("id"))


def stored_details(event: AuditEvent) -> Any:
    """The event's ``details`` exactly as the database holds them (the JSON text, parsed)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT details::text FROM accounts_auditevent WHERE id = %s", [event.pk])
        (text,) = cursor.fetchone()
    return json.loads(text)


def target_of(obj: Model) -> tuple[str, str, str]:
    """What an audit event records as its target for ``obj``."""
    return (obj._meta.label_lower, str(obj.pk), str(obj))


def event_target(event: AuditEvent) -> tuple[str, str, str]:
    return (event.target_type, event.target_id, event.target_repr)


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def changed_fields(record: Any) -> list[str]:
    """The fields a history record changed compared with the record before it."""
    previous = record.prev_record
    assert previous is not None, "the record has no predecessor to be compared with"
    return sorted(record.diff_against(previous).changed_fields)


class _ChangeHistoryTable(HTMLParser):
    """Collects the text of every cell of the admin history page's ``change-history`` table."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._in_table = self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and ("id", "change-history") in attrs:
            self._in_table = True
        elif self._in_table and tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append([])
        elif self._in_body and tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).replace("\xa0", " ").split()))
            self._cell = None
        elif tag == "table" and self._in_table:
            self._in_table = self._in_body = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def history_page_rows(html: str) -> list[dict[str, str]]:
    """The rows of an admin history page, newest first, as ``{column: text}``."""
    table = _ChangeHistoryTable()
    table.feed(html)
    columns = ("object", "date", "comment", "changed_by", "change_reason", "changes")
    return [dict(zip(columns, row, strict=True)) for row in table.rows]
