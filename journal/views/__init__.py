"""Server-rendered pages, one blueprint per audience."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask


def sentence(text: str) -> str:
    """First letter upper-case, the rest as written (Jinja's capitalize would turn "November" into "november")."""
    return text[:1].upper() + text[1:]


def tel(number: str) -> str:
    """A phone number as a tel: or sms: link wants it: digits and a leading + only."""
    return re.sub(r"[^0-9+]", "", number)


def describe_wait(delta: timedelta) -> str:
    """'2 days 3 hours', '3 hours 20 minutes', '12 minutes': how long something has waited, to the minute."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)

    def unit(count: int, name: str) -> str:
        return f"{count} {name}{'' if count == 1 else 's'}"

    if days:
        return unit(days, "day") + (f" {unit(hours, 'hour')}" if hours else "")
    if hours:
        return unit(hours, "hour") + (f" {unit(minutes, 'minute')}" if minutes else "")
    return unit(minutes, "minute") if minutes else "less than a minute"


def local_time(instant: datetime, zone: ZoneInfo) -> str:
    """An instant in the reader's own zone, with the zone's abbreviation: 'Mon 2 Mar 2026, 10:00 EST'."""
    return instant.astimezone(zone).strftime("%a %-d %b %Y, %H:%M %Z")


def init_app(app: Flask) -> None:
    app.add_template_filter(sentence)
    app.add_template_filter(tel)
    from ..security import csrf
    from . import (
        admin,
        auth,
        clinician,
        dashboard,
        exports,
        health,
        mfa,
        notes,
        oncall,
        patient,
        patient_sessions,
        people,
        questionnaires,
        settings,
        sms,
    )

    pages = (
        auth,
        mfa,
        patient,
        patient_sessions,
        questionnaires,
        settings,
        people,
        clinician,
        notes,
        dashboard,
        admin,
        oncall,
        health,
        exports,
    )
    for module in pages:
        app.register_blueprint(module.bp)
    # Posted by the text-message provider, which holds no session: each request is signed instead.
    csrf.exempt(sms.bp)
    app.register_blueprint(sms.bp)
