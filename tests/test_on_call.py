"""The on-call rota (SAFE-R3): who is on call when, who receives a high-priority alert's first e-mail and its
escalation, at explicit instants; the bounded access it gives; and the admins' rota page.

Alice is on Pat's care team. Bob, her colleague, is NOT on Pat's team: he is the clinician on call, with
Charlie (a clinician of the same clinic with his own patient Quinn) as his backup. Dora is another clinician of
the clinic, never on call. Eve works at another clinic, Lakeside, whose admin is Otto. Ada is Riverside's admin.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from journal.access import ON_CALL_ACCESS
from journal.alerts import escalate_overdue, raise_alert
from journal.db import db, utcnow
from journal.models import Alert, AuditEvent, Clinic, OnCallShift, OutboxMessage, Role
from journal.oncall import on_call_at
from tests.conftest import bearer, make_patient, make_staff
from tests.test_messages import FORBIDDEN, _says

T0 = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # a Monday, 11:00 in New York
SHIFT_START = T0 - timedelta(hours=2)
SHIFT_END = T0 + timedelta(hours=10)


@pytest.fixture
def rota(people):
    """Riverside's people plus Dora, and Lakeside with Eve, Otto and their patient Robin. The fixture's
    invitation e-mails are cleared, so the outbox holds only what the tests cause."""
    people.dora = make_staff(people.clinic, "dora", "Dora Duty")
    people.lakeside = Clinic(name="Lakeside", created_at=T0 - timedelta(days=30))
    db.session.add(people.lakeside)
    db.session.flush()
    people.eve = make_staff(people.lakeside, "eve", "Eve Else")
    people.otto = make_staff(people.lakeside, "otto", "Otto Admin", Role.ADMIN)
    people.robin = make_patient(people.eve, "robin", "Robin Other")
    db.session.query(OutboxMessage).delete()
    db.session.commit()
    return people


def _shift(people, clinician, backup, starts_at, ends_at, clinic=None) -> OnCallShift:
    shift = OnCallShift(
        clinic_id=(clinic or people.clinic).id,
        clinician_id=clinician.id,
        backup_id=backup.id if backup is not None else None,
        starts_at=starts_at,
        ends_at=ends_at,
        created_at=starts_at - timedelta(days=1),
    )
    db.session.add(shift)
    db.session.commit()
    return shift


def _high(people, at: datetime, key: str = "1", patient=None, severity: str = "high") -> Alert:
    alert = raise_alert(
        db.session,
        at,
        patient_id=(patient or people.pat).id,
        kind="safety_item9" if severity == "high" else "craving",
        severity=severity,
        reason="test",
        dedup_key=f"oncall-test:{key}",
    )
    db.session.commit()
    return alert


def _first_emails(alert: Alert) -> list[tuple[str, str]]:
    """(address, template) of the alert's first e-mails, in the order they are delivered."""
    return [
        (row.address, row.template)
        for row in db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.dedup_key.like(f"alert:{alert.id}:%"), OutboxMessage.template != "alert_escalation")
            .order_by(OutboxMessage.id)
        )
    ]


def _escalation_emails(alert: Alert) -> list[tuple[str, str]]:
    return [
        (row.address, row.link_path)
        for row in db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.dedup_key.like(f"alert:{alert.id}:escalation:%"))
            .order_by(OutboxMessage.id)
        )
    ]


# --- Who is on call ------------------------------------------------------------------------------------------


def test_on_call_at_names_the_shifts_clinician_and_backup_from_its_first_instant_to_just_before_its_end(rota):
    shift = _shift(rota, rota.bob, rota.charlie, SHIFT_START, SHIFT_END)
    for instant in (SHIFT_START, T0, SHIFT_END - timedelta(microseconds=1)):
        found = on_call_at(db.session, rota.clinic.id, instant)
        assert (found.shift_id, found.clinician.id, found.backup.id) == (shift.id, rota.bob.id, rota.charlie.id)
    for instant in (SHIFT_START - timedelta(microseconds=1), SHIFT_END):
        assert on_call_at(db.session, rota.clinic.id, instant) is None
    assert on_call_at(db.session, rota.lakeside.id, T0) is None  # one clinic's rota is not another's


def test_of_overlapping_shifts_the_one_that_started_last_is_in_charge(rota):
    _shift(rota, rota.bob, rota.charlie, T0 - timedelta(days=1), T0 + timedelta(days=1))  # the weekend
    _shift(rota, rota.dora, rota.alice, T0 - timedelta(hours=1), T0 + timedelta(hours=1))  # Dora takes an hour
    assert on_call_at(db.session, rota.clinic.id, T0 - timedelta(hours=2)).clinician.id == rota.bob.id
    in_charge = on_call_at(db.session, rota.clinic.id, T0)
    assert (in_charge.clinician.id, in_charge.backup.id) == (rota.dora.id, rota.alice.id)
    assert on_call_at(db.session, rota.clinic.id, T0 + timedelta(hours=1)).clinician.id == rota.bob.id


def test_a_disabled_on_call_clinician_covers_nothing_and_a_disabled_backup_is_no_backup(rota):
    _shift(rota, rota.bob, rota.charlie, T0 - timedelta(days=1), T0 + timedelta(days=1))
    _shift(rota, rota.dora, rota.alice, T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    rota.dora.disabled_at = T0 - timedelta(minutes=5)
    db.session.commit()
    assert on_call_at(db.session, rota.clinic.id, T0).clinician.id == rota.bob.id  # the shift under hers
    rota.charlie.disabled_at = T0 - timedelta(minutes=5)
    db.session.commit()
    found = on_call_at(db.session, rota.clinic.id, T0)
    assert (found.clinician.id, found.backup) == (rota.bob.id, None)


# --- Who gets the first e-mail -------------------------------------------------------------------------------


def test_a_high_alert_raised_in_a_shift_emails_only_the_on_call_clinician_and_records_the_routing(rota):
    shift = _shift(rota, rota.bob, rota.charlie, SHIFT_START, SHIFT_END)
    alert = _high(rota, T0)
    assert _first_emails(alert) == [(rota.bob.email, "alert_high")]  # not Alice, though she is the care team
    assert (alert.on_call_id, alert.backup_id) == (rota.bob.id, rota.charlie.id)
    events = db.session.execute(
        select(AuditEvent.actor_id, AuditEvent.patient_id, AuditEvent.detail).where(AuditEvent.action == "alert.route")
    ).all()
    assert events == [
        (
            None,
            rota.pat.id,
            f"alert {alert.id}; shift {shift.id}; on call user {rota.bob.id}; backup user {rota.charlie.id}",
        )
    ]


def test_at_the_edges_of_a_shift_the_first_instant_is_routed_and_the_end_instant_is_not(rota):
    _shift(rota, rota.bob, rota.charlie, SHIFT_START, SHIFT_END)
    at_start = _high(rota, SHIFT_START, "start")
    at_end = _high(rota, SHIFT_END, "end")
    assert _first_emails(at_start) == [(rota.bob.email, "alert_high")]
    assert _first_emails(at_end) == [(rota.alice.email, "alert_high")]  # the care team, as without a rota
    assert (at_end.on_call_id, at_end.backup_id) == (None, None)


def test_overlapping_shifts_route_to_the_one_that_started_last(rota):
    _shift(rota, rota.bob, rota.charlie, T0 - timedelta(days=1), T0 + timedelta(days=1))
    _shift(rota, rota.dora, rota.alice, T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    alert = _high(rota, T0)
    assert _first_emails(alert) == [(rota.dora.email, "alert_high")]
    assert (alert.on_call_id, alert.backup_id) == (rota.dora.id, rota.alice.id)


def test_with_no_shift_the_care_team_gets_the_first_email_as_before(rota):
    _shift(rota, rota.bob, rota.charlie, T0 + timedelta(hours=1), T0 + timedelta(hours=5))  # later today
    alert = _high(rota, T0)
    assert _first_emails(alert) == [(rota.alice.email, "alert_high")]
    assert (alert.on_call_id, alert.backup_id) == (None, None)
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "alert.route")) is None


@pytest.mark.parametrize("severity", ["medium", "low"])
def test_medium_and_low_alerts_go_to_the_care_team_even_in_a_shift(rota, severity):
    _shift(rota, rota.bob, rota.charlie, SHIFT_START, SHIFT_END)
    alert = _high(rota, T0, severity=severity)
    assert _first_emails(alert) == [(rota.alice.email, f"alert_{severity}")]
    assert (alert.on_call_id, alert.backup_id) == (None, None)


def test_another_clinics_shift_never_receives_this_clinics_alert(rota):
    _shift(rota, rota.eve, None, SHIFT_START, SHIFT_END, clinic=rota.lakeside)
    alert = _high(rota, T0)
    assert _first_emails(alert) == [(rota.alice.email, "alert_high")]
    robins = _high(rota, T0, "robin", patient=rota.robin)
    assert _first_emails(robins) == [(rota.eve.email, "alert_high")]
    assert (robins.on_call_id, robins.backup_id) == (rota.eve.id, None)


# --- Who gets the escalation ---------------------------------------------------------------------------------


def test_escalation_goes_to_the_backup_first_then_the_care_team_and_the_admins(app, rota):
    _shift(rota, rota.bob, rota.charlie, SHIFT_START, SHIFT_END)
    alert = _high(rota, T0)
    assert escalate_overdue(db.session, T0 + timedelta(minutes=29, seconds=59)) == 0
    assert _escalation_emails(alert) == []
    assert escalate_overdue(db.session, T0 + timedelta(minutes=30)) == 1
    assert _escalation_emails(alert) == [
        (rota.charlie.email, "/clinician/alerts"),  # the backup, queued (and so delivered) first
        (rota.alice.email, "/clinician/alerts"),
        (rota.ada.email, "/admin/alerts"),
    ]
    detail = db.session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "alert.escalate"))
    assert detail == f"alert {alert.id}; 3 recipients; backup user {rota.charlie.id}"
    assert escalate_overdue(db.session, T0 + timedelta(hours=2)) == 0  # once


def test_escalation_after_the_shift_ended_still_goes_to_the_backup_named_when_it_was_raised(app, rota):
    _shift(rota, rota.bob, rota.charlie, SHIFT_START, T0 + timedelta(minutes=10))
    alert = _high(rota, T0)
    escalate_overdue(db.session, T0 + timedelta(minutes=30))
    assert _escalation_emails(alert)[0] == (rota.charlie.email, "/clinician/alerts")


def test_escalation_skips_a_backup_disabled_since_and_still_tells_the_team_and_admins(app, rota):
    _shift(rota, rota.bob, rota.charlie, SHIFT_START, SHIFT_END)
    alert = _high(rota, T0)
    rota.charlie.disabled_at = T0 + timedelta(minutes=5)
    db.session.commit()
    escalate_overdue(db.session, T0 + timedelta(minutes=30))
    assert _escalation_emails(alert) == [(rota.alice.email, "/clinician/alerts"), (rota.ada.email, "/admin/alerts")]
    detail = db.session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "alert.escalate"))
    assert detail == f"alert {alert.id}; 2 recipients"


def test_a_shift_without_a_backup_escalates_to_the_team_and_admins(app, rota):
    _shift(rota, rota.bob, None, SHIFT_START, SHIFT_END)
    alert = _high(rota, T0)
    assert (alert.on_call_id, alert.backup_id) == (rota.bob.id, None)
    escalate_overdue(db.session, T0 + timedelta(minutes=30))
    assert _escalation_emails(alert) == [(rota.alice.email, "/clinician/alerts"), (rota.ada.email, "/admin/alerts")]


def test_an_alert_the_on_call_clinician_acknowledged_is_never_escalated(app, client, auth, rota):
    _shift(rota, rota.bob, rota.charlie, utcnow() - timedelta(hours=2), utcnow() + timedelta(hours=2))
    alert = _high(rota, utcnow() - timedelta(minutes=20))
    auth.login(rota.bob)
    response = auth.post(f"/clinician/alerts/{alert.id}/ack", {"note": "Called Pat: safe, seen tomorrow."})
    assert response.status_code == 302
    assert escalate_overdue(db.session, utcnow() + timedelta(hours=1)) == 0
    db.session.refresh(alert)
    assert alert.acknowledged_by_id == rota.bob.id


def test_routed_alert_emails_say_how_urgent_and_nothing_else(rota):
    from journal.messages import render

    _shift(rota, rota.bob, rota.charlie, SHIFT_START, SHIFT_END)
    alert = _high(rota, T0)
    escalate_overdue(db.session, T0 + timedelta(minutes=30))
    templates = {row.template for row in db.session.scalars(select(OutboxMessage).where(OutboxMessage.id > 0))}
    assert templates == {"alert_high", "alert_escalation"}
    for template in templates:
        subject, text = render(template, link="http://journal.test/m/x")
        assert subject.startswith("Urgent")
        for word in [*FORBIDDEN, "thought", "harm", "death", "item 9", "patient", rota.pat.name]:
            assert not _says(word, subject + " " + text), (template, word)
    assert alert.id  # the alert exists; its kind is on no message


# --- Access that follows the routing (journal/access.py) ---------------------------------------------------


@pytest.fixture
def routed(rota):
    """A high-priority alert about Pat raised an hour ago in Bob's shift, Charlie his backup."""
    now = utcnow()
    _shift(rota, rota.bob, rota.charlie, now - timedelta(hours=3), now + timedelta(hours=3))
    rota.alert = _high(rota, now - timedelta(hours=1))
    assert rota.alert.on_call_id == rota.bob.id
    return rota


def _status(client, auth, user, path: str) -> int:
    auth.login(user)
    status = client.get(path).status_code
    auth.logout()
    return status


def test_the_on_call_clinician_may_open_the_patient_page_and_sees_the_alert_and_it_is_audited_as_such(
    client, auth, routed
):
    auth.login(routed.bob)
    page = client.get(f"/clinician/patients/{routed.pat.id}")
    assert page.status_code == 200 and "Pat Patient" in page.get_data(as_text=True)
    assert client.get(f"/clinician/patients/{routed.pat.id}/charts/outcomes.png").status_code == 200
    inbox = client.get("/clinician/alerts").get_data(as_text=True)
    assert f'id="alert-{routed.alert.id}-heading"' in inbox
    reads = db.session.execute(
        select(AuditEvent.action, AuditEvent.detail).where(
            AuditEvent.actor_id == routed.bob.id, AuditEvent.patient_id == routed.pat.id
        )
    ).all()
    assert ("patient.read", f"on call for alert {routed.alert.id}") in reads
    assert ("on_call.read", f"on call for alert {routed.alert.id}") in reads  # the chart


def test_the_on_call_reader_gets_the_record_without_the_care_teams_forms_and_is_told_why(client, auth, routed):
    forms = ("/care-team", "/invitation", "/baseline", '/sessions"', "/notes/seen", "/details")
    auth.login(routed.bob)
    page = client.get(f"/clinician/patients/{routed.pat.id}").get_data(as_text=True)
    assert "an alert about them was sent to you on call. Only the care team can change it." in page
    assert [form for form in forms if f"/clinician/patients/{routed.pat.id}{form}" in page] == []
    auth.logout()
    auth.login(routed.alice)  # on the care team: the forms are there, the notice is not
    page = client.get(f"/clinician/patients/{routed.pat.id}").get_data(as_text=True)
    assert "sent to you on call" not in page
    assert f'action="/clinician/patients/{routed.pat.id}/invitation"' in page
    assert f'href="/clinician/patients/{routed.pat.id}/details"' in page


def test_the_on_call_grant_is_for_reading_only_and_for_that_patient_only(client, auth, routed):
    auth.login(routed.bob)
    pat = routed.pat.id
    assert client.get(f"/clinician/patients/{pat}/export.csv").status_code == 404
    assert client.get(f"/clinician/patients/{pat}/report.pdf").status_code == 404
    assert client.get(f"/clinician/patients/{pat}/sessions").status_code == 404  # the new-session form
    assert auth.post(f"/clinician/patients/{pat}/care-team", {"clinician_id": routed.bob.id}).status_code == 404
    assert client.get(f"/clinician/patients/{routed.quinn.id}").status_code == 404  # Charlie's patient
    # Pat is not on Bob's list: the grant opens a record, it does not make him part of the team (the alert sent
    # to him is named among his open alerts above the list).
    listed = client.get("/clinician/patients").get_data(as_text=True)
    assert re.findall(r'<th scope="row"><a href="/clinician/patients/\d+">([^<]+)</a></th>', listed) == []
    assert f'href="/clinician/patients/{pat}">Pat Patient</a>:' in listed
    api = bearer(client, routed.bob)
    assert client.get("/api/v1/patients", headers=api).get_json() == []
    assert client.get(f"/api/v1/patients/{pat}/summary", headers=api).status_code == 200
    assert client.get(f"/api/v1/patients/{pat}/charts/outcomes.svg", headers=api).status_code == 200
    assert client.get(f"/api/v1/patients/{pat}/export.csv", headers=api).status_code == 404
    assert client.post(f"/api/v1/patients/{pat}/sessions", json={}, headers=api).status_code == 404


def test_nobody_else_gains_access_from_the_routing(client, auth, routed):
    path = f"/clinician/patients/{routed.pat.id}"
    assert _status(client, auth, routed.dora, path) == 404  # of the clinic, not on call
    assert _status(client, auth, routed.eve, path) == 404  # of another clinic
    assert _status(client, auth, routed.ada, path) == 404  # an admin
    assert _status(client, auth, routed.charlie, path) == 404  # the backup, before any escalation
    assert _status(client, auth, routed.alice, path) == 200  # the care team, as always
    auth.login(routed.dora)
    assert f'id="alert-{routed.alert.id}-heading"' not in client.get("/clinician/alerts").get_data(as_text=True)


def test_the_backup_may_open_the_record_once_the_alert_is_escalated(client, auth, routed):
    routed.alert.escalated_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    auth.login(routed.charlie)
    assert client.get(f"/clinician/patients/{routed.pat.id}").status_code == 200
    assert f'id="alert-{routed.alert.id}-heading"' in client.get("/clinician/alerts").get_data(as_text=True)
    detail = db.session.scalar(
        select(AuditEvent.detail).where(AuditEvent.actor_id == routed.charlie.id, AuditEvent.action == "patient.read")
    )
    assert detail == f"on call for alert {routed.alert.id}"


def test_the_on_call_access_ends_when_its_window_has_passed(client, auth, rota):
    now = utcnow()
    window = ON_CALL_ACCESS + timedelta(minutes=1)
    _shift(rota, rota.bob, rota.charlie, now - window - timedelta(hours=1), now + timedelta(hours=1))
    alert = _high(rota, now - window - timedelta(minutes=30))
    assert alert.on_call_id == rota.bob.id
    alert.escalated_at = now - window  # the backup's window, from the escalation, is over too
    db.session.commit()
    path = f"/clinician/patients/{rota.pat.id}"
    assert _status(client, auth, rota.bob, path) == 404
    assert _status(client, auth, rota.charlie, path) == 404
    auth.login(rota.bob)
    assert f'id="alert-{alert.id}-heading"' not in client.get("/clinician/alerts").get_data(as_text=True)
    assert auth.post(f"/clinician/alerts/{alert.id}/ack", {"note": "late"}).status_code == 404


def test_the_rota_page_tells_the_access_window_the_code_keeps(client, auth, rota):
    auth.login(rota.ada)
    assert "may open that patient's record for three days" in client.get("/admin/on-call").get_data(as_text=True)
    assert timedelta(hours=72) == ON_CALL_ACCESS


# --- The admins' rota page -------------------------------------------------------------------------------------

NEW_YORK = ZoneInfo("America/New_York")


def _local(instant: datetime) -> str:
    return instant.astimezone(NEW_YORK).strftime("%Y-%m-%dT%H:%M")


def _form(people, **changes) -> dict:
    start = (utcnow() + timedelta(days=2)).replace(second=0, microsecond=0)
    form = {
        "clinician": str(people.bob.id),
        "backup": str(people.charlie.id),
        "starts_at": _local(start),
        "ends_at": _local(start + timedelta(hours=12)),
    }
    return {**form, **changes}


def _error(page: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', page)
    return found.group(1) if found else ""


def test_an_admin_adds_a_shift_in_their_own_time_zone_and_it_is_listed_and_audited(client, auth, rota):
    auth.login(rota.ada)  # America/New_York
    form = _form(rota)
    response = auth.post("/admin/on-call", form)
    assert (response.status_code, response.headers["Location"]) == (302, "/admin/on-call")
    (shift,) = db.session.scalars(select(OnCallShift)).all()
    start = datetime.fromisoformat(form["starts_at"]).replace(tzinfo=NEW_YORK)
    assert (shift.clinic_id, shift.clinician_id, shift.backup_id) == (rota.clinic.id, rota.bob.id, rota.charlie.id)
    assert (shift.starts_at, shift.ends_at) == (start.astimezone(UTC), (start + timedelta(hours=12)).astimezone(UTC))
    assert shift.created_by_id == rota.ada.id
    page = client.get("/admin/on-call").get_data(as_text=True)
    assert start.strftime("%a %-d %b %Y, %H:%M %Z") in page and "Bob Brown" in page and "Charlie Clark" in page
    assert "America/New_York" in page
    added = db.session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "rota.add"))
    assert added.startswith(f"shift {shift.id}; user {rota.bob.id} on call; backup user {rota.charlie.id}")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"clinician": ""}, "clinician", "Choose the clinician on call."),
        ({"backup": "bob"}, "backup", "Choose a clinician, or no backup."),
        ({"starts_at": ""}, "starts_at", "Give a date and a time."),
        ({"ends_at": "tomorrow evening"}, "ends_at", "Give a date and a time, such as 2026-03-02 18:00."),
        # 02:30 on 8 March 2026 does not exist in New York: the clocks go from 02:00 to 03:00.
        ({"starts_at": "2026-03-08T02:30"}, "starts_at", "This time does not exist in America/New_York"),
    ],
)
def test_a_shift_form_that_cannot_be_read_is_a_400_at_the_field_and_saves_nothing(
    client, auth, rota, changes, field, message
):
    auth.login(rota.ada)
    response = auth.post("/admin/on-call", _form(rota, **changes))
    assert response.status_code == 400
    assert _error(response.get_data(as_text=True), field).startswith(message)
    assert db.session.scalars(select(OnCallShift)).all() == []


def test_shift_rules_are_refused_at_their_field(client, auth, rota):
    rota.dora.disabled_at = utcnow()
    db.session.commit()
    start = (utcnow() + timedelta(days=2)).replace(second=0, microsecond=0)
    cases = [
        ({"backup": str(rota.bob.id)}, "backup", "The backup must be someone other than the clinician on call."),
        ({"clinician": str(rota.ada.id)}, "clinician", "Choose an active clinician of this clinic."),  # an admin
        ({"clinician": str(rota.eve.id)}, "clinician", "Choose an active clinician of this clinic."),  # Lakeside
        ({"clinician": str(rota.dora.id)}, "clinician", "Choose an active clinician of this clinic."),  # disabled
        ({"clinician": str(rota.pat.id)}, "clinician", "Choose an active clinician of this clinic."),  # a patient
        ({"backup": str(rota.eve.id)}, "backup", "Choose an active clinician of this clinic, or no backup."),
        ({"ends_at": _local(start)}, "ends_at", "The end must be after the start."),
        ({"ends_at": _local(start - timedelta(hours=1))}, "ends_at", "The end must be after the start."),
        ({"ends_at": _local(start + timedelta(days=14, minutes=1))}, "ends_at", "A shift can last at most 14 days."),
        (
            {"starts_at": _local(utcnow() - timedelta(days=2)), "ends_at": _local(utcnow() - timedelta(days=1))},
            "ends_at",
            "This shift would already be over.",
        ),
    ]
    auth.login(rota.ada)
    for changes, field, message in cases:
        response = auth.post("/admin/on-call", _form(rota, **{"starts_at": _local(start), **changes}))
        assert response.status_code == 400, changes
        assert _error(response.get_data(as_text=True), field).startswith(message), (changes, field)
    assert db.session.scalars(select(OnCallShift)).all() == []
    # Exactly 14 days is accepted; no backup is accepted.
    ok = auth.post(
        "/admin/on-call",
        _form(rota, starts_at=_local(start), ends_at=_local(start + timedelta(days=14)), backup=""),
    )
    assert ok.status_code == 302
    assert [(s.clinician_id, s.backup_id) for s in db.session.scalars(select(OnCallShift))] == [(rota.bob.id, None)]


def test_an_admin_deletes_a_future_shift_but_not_one_that_has_started(client, auth, rota):
    now = utcnow()
    running = _shift(rota, rota.bob, rota.charlie, now - timedelta(hours=1), now + timedelta(hours=5))
    future = _shift(rota, rota.dora, None, now + timedelta(days=1), now + timedelta(days=2))
    auth.login(rota.ada)
    page = client.get("/admin/on-call").get_data(as_text=True)
    assert f"/admin/on-call/{future.id}/delete" in page and f"/admin/on-call/{running.id}/delete" not in page
    assert auth.post(f"/admin/on-call/{running.id}/delete").status_code == 404
    assert auth.post(f"/admin/on-call/{future.id}/delete").status_code == 302
    assert [s.id for s in db.session.scalars(select(OnCallShift))] == [running.id]
    assert db.session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "rota.delete")) == (
        f"shift {future.id}; user {rota.dora.id} on call"
    )


def test_an_admin_of_another_clinic_neither_sees_nor_deletes_nor_staffs_this_rota(client, auth, rota):
    now = utcnow()
    future = _shift(rota, rota.bob, rota.charlie, now + timedelta(days=1), now + timedelta(days=2))
    auth.login(rota.otto)
    page = client.get("/admin/on-call").get_data(as_text=True)
    assert "Bob Brown" not in page and "Charlie Clark" not in page
    assert auth.post(f"/admin/on-call/{future.id}/delete").status_code == 404
    response = auth.post("/admin/on-call", _form(rota))  # Riverside's clinicians on Lakeside's rota
    assert _error(response.get_data(as_text=True), "clinician") == "Choose an active clinician of this clinic."
    assert [s.id for s in db.session.scalars(select(OnCallShift))] == [future.id]


@pytest.mark.parametrize("who", ["alice", "pat"])
def test_clinicians_and_patients_get_404_for_the_rota(client, auth, rota, who):
    future = _shift(rota, rota.bob, rota.charlie, utcnow() + timedelta(days=1), utcnow() + timedelta(days=2))
    auth.login(getattr(rota, who))
    assert client.get("/admin/on-call").status_code == 404
    assert auth.post("/admin/on-call", _form(rota)).status_code == 404
    assert auth.post(f"/admin/on-call/{future.id}/delete").status_code == 404
    assert len(db.session.scalars(select(OnCallShift)).all()) == 1


def test_the_admin_navigation_links_the_rota(client, auth, rota):
    auth.login(rota.ada)
    assert 'href="/admin/on-call">On-call rota</a>' in client.get("/admin/staff").get_data(as_text=True)
