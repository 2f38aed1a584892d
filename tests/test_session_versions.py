"""A clinician's change to a dosing session never silently replaces a newer one (DESIGN: "Session PUT honours
If-Match (412)").

Every session has a version, a digest of its stored row. The API sends it as the ETag of ``GET``, ``POST`` and
``PUT``; a ``PUT`` must send it back in ``If-Match`` (428 without, 412 when the session changed since). The
page that changes a session carries it in a hidden field, and a save over a newer change comes back (409) with
the current record. Alice and Bob are on Pat's care team here; Charlie, who is not, gets 404 for all of it.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from journal.db import db
from journal.models import AuditEvent, CareTeamMember, DosingSession, Patient, User
from journal.sessions import SessionChanged, save_session, session_version
from tests.conftest import NOW, AuthActions, bearer

GIVEN = {
    "status": "given",
    "route": "iv",
    "product": "Racemic ketamine",
    "dose": 0.5,
    "dose_unit": "mg/kg",
    "weight_kg": 72.5,
    "bp_systolic_pre": 128,
    "bp_diastolic_pre": 82,
    "observation_minutes": 120,
    "notes": "",
}


@pytest.fixture
def people(people):
    """Bob has joined Pat's care team; Pat has one session, given the day before NOW, that Alice entered."""
    db.session.add(CareTeamMember(patient_id=people.pat.id, clinician_id=people.bob.id, added_at=NOW))
    people.session = save_session(
        db.session, people.pat.patient, {**GIVEN, "start": NOW - timedelta(days=1)}, NOW, people.alice
    )
    db.session.commit()
    return people


def _url(people) -> str:
    return f"/api/v1/patients/{people.pat.id}/sessions/{people.session.id}"


def _stored(people) -> DosingSession:
    db.session.expire_all()
    return db.session.get(DosingSession, people.session.id)


def _writes() -> int:
    return db.session.scalar(select(func.count()).where(AuditEvent.action == "session.write"))


def _start(people) -> str:
    return (NOW - timedelta(days=1)).isoformat()


# --- The API ------------------------------------------------------------------------------------------------------


def test_get_post_and_put_answer_with_the_etag_and_a_put_changes_it(client, people):
    alice = bearer(client, people.alice)
    created = client.post(
        f"/api/v1/patients/{people.pat.id}/sessions", json={**GIVEN, "start": _start(people)}, headers=alice
    )
    assert created.status_code == 201 and created.headers["ETag"]
    url = f"/api/v1/patients/{people.pat.id}/sessions/{created.get_json()['id']}"
    read = client.get(url, headers=alice)
    assert read.status_code == 200 and read.get_json()["id"] == created.get_json()["id"]
    assert read.headers["ETag"] == created.headers["ETag"]  # nothing changed in between

    changed = client.put(
        url,
        json={**GIVEN, "start": _start(people), "notes": "Mild nausea."},
        headers={**alice, "If-Match": read.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.headers["ETag"] != read.headers["ETag"]
    assert client.get(url, headers=alice).headers["ETag"] == changed.headers["ETag"]


def test_alices_put_over_bobs_newer_change_is_412_and_bobs_record_stands(client, people):
    alice, bob = bearer(client, people.alice), bearer(client, people.bob)
    alices_etag = client.get(_url(people), headers=alice).headers["ETag"]
    bobs_etag = client.get(_url(people), headers=bob).headers["ETag"]
    bobs = client.put(
        _url(people), json={**GIVEN, "start": _start(people), "dose": 0.75, "notes": "Dose raised (Bob)."},
        headers={**bob, "If-Match": bobs_etag},
    )  # fmt: skip
    assert bobs.status_code == 200, bobs.get_json()
    version, writes = db.session.get(Patient, people.pat.id).data_version, _writes()

    refused = client.put(
        _url(people), json={**GIVEN, "start": _start(people), "notes": "Tolerated well (Alice)."},
        headers={**alice, "If-Match": alices_etag},
    )  # fmt: skip
    assert refused.status_code == 412
    body = refused.get_json()
    assert (body["code"], body["status"]) == (412, "Precondition Failed")
    assert "changed by Bob Brown at" in body["message"] and "since you read it" in body["message"]
    assert "nothing was saved" in body["message"]
    assert body["errors"] == {"headers": {"If-Match": ["This is not the session's current ETag."]}}
    stored = _stored(people)
    assert (stored.dose, stored.notes) == (0.75, "Dose raised (Bob).")
    db.session.expire_all()
    assert (db.session.get(Patient, people.pat.id).data_version, _writes()) == (version, writes)

    fresh = client.get(_url(people), headers=alice)
    assert fresh.headers["ETag"] == bobs.headers["ETag"]
    assert fresh.get_json()["notes"] == "Dose raised (Bob)."  # what she reviews before trying again
    again = client.put(
        _url(people), json={**GIVEN, "start": _start(people), "dose": 0.75, "notes": "Tolerated well (Alice)."},
        headers={**alice, "If-Match": fresh.headers["ETag"]},
    )  # fmt: skip
    assert again.status_code == 200, again.get_json()
    assert _stored(people).notes == "Tolerated well (Alice)."


def test_a_put_without_if_match_is_428_and_writes_nothing(client, people):
    alice = bearer(client, people.alice)
    before = session_version(_stored(people))
    response = client.put(_url(people), json={**GIVEN, "start": _start(people), "notes": "x"}, headers=alice)
    assert response.status_code == 428
    body = response.get_json()
    assert (body["code"], body["status"]) == (428, "Precondition Required")
    assert "If-Match" in body["message"] and "ETag" in body["message"]
    assert session_version(_stored(people)) == before


def test_if_match_is_compared_strongly_so_a_weak_tag_does_not_match(client, people):
    alice = bearer(client, people.alice)
    etag = client.get(_url(people), headers=alice).headers["ETag"]
    weak = client.put(_url(people), json={**GIVEN, "start": _start(people)}, headers={**alice, "If-Match": f"W/{etag}"})
    assert weak.status_code == 412
    listed = client.put(
        _url(people), json={**GIVEN, "start": _start(people)}, headers={**alice, "If-Match": f'"other", {etag}'}
    )
    assert listed.status_code == 200  # any of the listed tags may match (RFC 9110 13.1.1)


def test_a_bad_body_is_still_a_422_before_the_version_is_looked_at(client, people):
    alice = bearer(client, people.alice)
    response = client.put(_url(people), json={**GIVEN, "start": _start(people), "dose": 0}, headers=alice)
    assert response.status_code == 422 and "dose" in response.get_json()["errors"]["json"]


def test_charlie_off_the_care_team_gets_404_not_412_or_428(client, people):
    alice, charlie = bearer(client, people.alice), bearer(client, people.charlie)
    etag = client.get(_url(people), headers=alice).headers["ETag"]
    body = {**GIVEN, "start": _start(people)}
    assert client.get(_url(people), headers=charlie).status_code == 404
    assert client.put(_url(people), json=body, headers=charlie).status_code == 404  # no If-Match
    assert client.put(_url(people), json=body, headers={**charlie, "If-Match": '"stale"'}).status_code == 404
    assert client.put(_url(people), json=body, headers={**charlie, "If-Match": etag}).status_code == 404
    assert client.get(_url(people), headers=bearer(client, people.pat)).status_code == 404
    # Nor does a session id of another patient's work under Pat's path, for Alice herself.
    quinns = save_session(db.session, people.quinn.patient, {**GIVEN, "start": NOW}, NOW, people.charlie)
    db.session.commit()
    other = f"/api/v1/patients/{people.pat.id}/sessions/{quinns.id}"
    assert client.get(other, headers=alice).status_code == 404
    assert client.put(other, json=body, headers={**alice, "If-Match": etag}).status_code == 404


def test_the_openapi_document_describes_if_match_and_the_etag(client):
    document = client.get("/api/v1/openapi.json").get_json()
    put = document["paths"]["/api/v1/patients/{patient_id}/sessions/{session_id}"]["put"]
    assert {"412", "428"} <= set(put["responses"])
    assert any(p.get("$ref", "").endswith("/IF_MATCH") for p in put["parameters"])
    assert document["components"]["parameters"]["IF_MATCH"]["required"] is True
    get = document["paths"]["/api/v1/patients/{patient_id}/sessions/{session_id}"]["get"]
    assert "ETag" in get["responses"]["200"]["headers"]


# --- The version itself --------------------------------------------------------------------------------------------


def test_two_writes_at_the_same_instant_still_give_new_versions(people):
    """Time is the caller's: two saves with one ``now`` (or a clock that steps back) must still be told apart."""
    record = _stored(people)
    seen = {session_version(record)}
    for now in (NOW, NOW, NOW - timedelta(hours=1)):
        save_session(
            db.session, people.pat.patient, {**GIVEN, "start": NOW - timedelta(days=1)}, now, people.alice, record
        )
        db.session.commit()
        seen.add(session_version(_stored(people)))
        record = _stored(people)
    assert len(seen) == 4  # the same values each time, but a new version for each write
    assert record.updated_at == NOW + timedelta(microseconds=3)


def test_a_write_that_lost_the_race_after_its_read_is_refused_and_writes_nothing(app, people):
    """Both requests read the session; Bob's commits first. Alice's, which checked its version before Bob's
    commit, must still not overwrite it: the write itself is conditional on the row as she read it."""
    alices_read = _stored(people)
    with Session(db.engine) as bobs_request:
        theirs = bobs_request.get(DosingSession, people.session.id)
        patient, bob = bobs_request.get(Patient, people.pat.id), bobs_request.get(User, people.bob.id)
        save_session(bobs_request, patient, {**GIVEN, "start": theirs.start, "notes": "Bob's."}, NOW, bob, theirs)
        bobs_request.commit()
    with pytest.raises(SessionChanged):
        save_session(
            db.session, people.pat.patient, {**GIVEN, "start": alices_read.start, "notes": "Alice's."}, NOW,
            people.alice, alices_read,
        )  # fmt: skip
    db.session.rollback()
    assert _stored(people).notes == "Bob's."


# --- The page -------------------------------------------------------------------------------------------------------

# What a browser would send back: the hidden version, each input, each select's chosen option, the notes.
VERSION_FIELD = re.compile(r'name="version" value="([0-9a-f]+)"')
INPUTS = re.compile(r'<input type="[^"]+" id="session-[^"]+" name="([^"]+)" value="([^"]*)"')
CHOSEN = re.compile(r'<select id="session-[^"]+" name="([^"]+)"[^>]*>.*?<option value="([^"]*)" selected', re.S)
NOTES = re.compile(r'<textarea id="session-notes" name="notes"[^>]*>([^<]*)</textarea>')


def _page_url(people) -> str:
    return f"/clinician/patients/{people.pat.id}/sessions/{people.session.id}"


def _signed_in(app, user) -> AuthActions:
    actions = AuthActions(app.test_client())
    assert actions.login(user).status_code == 302
    return actions


def _open(actions: AuthActions, people) -> tuple[str, dict]:
    """Open the page that changes the session: the version it carries, and its form as filled in."""
    page = actions.client.get(_page_url(people))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    (version,) = VERSION_FIELD.findall(html)
    return version, dict(INPUTS.findall(html)) | dict(CHOSEN.findall(html)) | {"notes": NOTES.search(html)[1]}


def test_the_page_opens_the_session_as_stored_and_saving_it_unchanged_keeps_every_value(app, people):
    """Values the API may store that a hand would rarely type (seconds, two decimals) come back as they were."""
    entered = {**GIVEN, "start": NOW - timedelta(days=1, seconds=-17), "dose": 0.35, "weight_kg": 71.3}
    save_session(db.session, people.pat.patient, entered, NOW, people.alice, _stored(people))
    db.session.commit()
    alice = _signed_in(app, people.alice)
    before = _stored(people)
    version, form = _open(alice, people)
    assert version == session_version(before)
    assert (form["dose"], form["weight_kg"], form["status"]) == ("0.35", "71.3", "given")
    response = alice.post(_page_url(people), {**form, "version": version})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"].endswith(f"/clinician/patients/{people.pat.id}#sessions")
    after = _stored(people)
    unchanged = ("start", "dose", "weight_kg", "bp_systolic_pre", "bp_diastolic_pre", "status", "route", "notes")
    assert [getattr(after, name) for name in unchanged] == [getattr(before, name) for name in unchanged]
    assert after.start.second == 17
    assert session_version(after) != version  # saved, so a new version


def test_alices_page_save_over_bobs_newer_change_is_409_with_the_current_record_and_nothing_written(app, people):
    alice, bob = _signed_in(app, people.alice), _signed_in(app, people.bob)
    alices_version, alices_form = _open(alice, people)
    bobs_version, bobs_form = _open(bob, people)
    bobs = bob.post(_page_url(people), {**bobs_form, "notes": "Nausea at 40 min (Bob).", "version": bobs_version})
    assert bobs.status_code == 302
    writes = _writes()

    conflict = alice.post(
        _page_url(people), {**alices_form, "notes": "Calm throughout (Alice).", "version": alices_version}
    )
    assert conflict.status_code == 409
    page = conflict.get_data(as_text=True)
    when = r"\w{3} \d+ \w{3} \d{4}, \d\d:\d\d E[SD]T"  # on Alice's clock, as the page shows times
    changed = f"This session was changed by Bob Brown at {when} since you opened it; review the current record below."
    assert re.search(changed.replace(".", r"\."), page)
    assert "Nausea at 40 min (Bob)." in page  # the current record, below the message
    assert "Calm throughout (Alice).</textarea>" in page  # what she typed is not lost
    assert _stored(people).notes == "Nausea at 40 min (Bob)." and _writes() == writes
    (shown_version,) = VERSION_FIELD.findall(page)
    assert shown_version == session_version(_stored(people))  # she has now seen Bob's record

    # Saving again, having seen the current record, is her deliberate choice: it goes through.
    again = alice.post(
        _page_url(people), {**alices_form, "notes": "Calm throughout (Alice).", "version": shown_version}
    )
    assert again.status_code == 302
    assert _stored(people).notes == "Calm throughout (Alice)."


def test_a_page_save_without_the_version_is_not_written(app, people):
    alice = _signed_in(app, people.alice)
    _version, form = _open(alice, people)
    response = alice.post(_page_url(people), {**form, "notes": "No version."})
    assert response.status_code == 409
    assert "did not say which version" in response.get_data(as_text=True)
    assert _stored(people).notes == ""


def test_the_patient_page_links_each_session_to_its_page(app, people):
    alice = _signed_in(app, people.alice)
    page = alice.client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)
    assert f'href="{_page_url(people)}"' in page


def test_charlie_off_the_care_team_gets_404_for_the_page_and_its_form(app, people):
    alice, charlie = _signed_in(app, people.alice), _signed_in(app, people.charlie)
    version, form = _open(alice, people)
    assert charlie.client.get(_page_url(people)).status_code == 404
    assert charlie.post(_page_url(people), {**form, "notes": "Charlie's.", "version": version}).status_code == 404
    assert charlie.post(_page_url(people), {**form, "version": "stale"}).status_code == 404
    assert _stored(people).notes == ""
