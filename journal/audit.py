"""The append-only audit trail: staff access to patient data, and every action on an account.

Account actions name the account acted on: a patient's in ``patient_id``, anyone else's in ``detail`` as
``user <id>``, or none when it is the actor's own. Admins see account actions in full, and of a patient-data
action only who, when and whether it read or changed a record: never which patient, nor what (an alert's
acknowledgement tied to a patient would tell them a health event). See ``for_admins``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from flask import has_request_context, request

from .db import db, utcnow
from .models import AuditEvent, User


def record(actor: User | None, action: str, patient_id: int | None = None, detail: str = "") -> AuditEvent:
    """Add an audit event to the current transaction; the caller commits it with the change it describes.

    ``detail`` names what was touched (ids, field names), never health data itself.
    """
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        action=action,
        patient_id=patient_id,
        detail=detail,
        remote_addr=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    return event


def record_account(actor: User | None, action: str, account: User | None, detail: str = "") -> AuditEvent:
    """An action on an account (a link issued, a password reset or changed), naming the account as account
    actions do: a patient's in ``patient_id``, anyone else's in ``detail`` as ``user <id>``."""
    if account is None:
        return record(actor, action, detail=detail)
    if account.role == "patient":
        return record(actor, action, account.id, detail)
    return record(actor, action, detail=f"user {account.id}" + (f"; {detail}" if detail else ""))


# Actions on accounts (what an admin manages): shown to admins in full, with the account they name.
ACCOUNT_ACTIONS = ("staff.", "invitation.", "password_reset.", "password.", "mfa.", "account.", "patient.create")
# Actions shown to admins in full because they name no patient (lists, the overview, clinic settings).
# Any other action that names a patient is a patient-data action: admins see only one of these two words.
PATIENT_READ, PATIENT_CHANGE = "patient-record.read", "patient-record.change"
READ_SUFFIXES = (".read", ".list")
_USER_DETAIL = re.compile(r"^user (\d+)\b")


def is_account_action(action: str) -> bool:
    return action.startswith(ACCOUNT_ACTIONS)


@dataclass(frozen=True)
class AdminView:
    """One audit event as an admin sees it."""

    occurred_at: datetime
    actor_id: int | None
    action: str
    account_id: int | None  # the account an account action names
    detail: str
    remote_addr: str | None


def for_admins(event: AuditEvent) -> AdminView:
    """An account action, or one that names no patient, in full; a patient-data action as ``PATIENT_READ`` or
    ``PATIENT_CHANGE`` with neither the patient, nor the action, nor its detail."""
    if event.patient_id is None or is_account_action(event.action):
        match = _USER_DETAIL.match(event.detail or "")
        account = event.patient_id or (int(match.group(1)) if match else None)
        if account is None and is_account_action(event.action):
            account = event.actor_id  # one's own (a password changed, a reset asked for, MFA set up)
        return AdminView(event.occurred_at, event.actor_id, event.action, account, event.detail, event.remote_addr)
    neutral = PATIENT_READ if event.action.endswith(READ_SUFFIXES) else PATIENT_CHANGE
    return AdminView(event.occurred_at, event.actor_id, neutral, None, "", event.remote_addr)
