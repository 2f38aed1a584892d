"""A clinician's change to a dosing session never silently replaces a newer one (DESIGN: "Session PUT honours
If-Match (412)").

Every session has a version, a digest of its stored row. The API sends it as the ETag of ``GET``, ``POST`` and
``PUT``; a ``PUT`` must send it back in ``If-Match`` (428 without, 412 when the session changed since). Alice
and Bob are on Pat's care team here; Charlie, who is not, gets 404 for all of it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from journal.db import db
from journal.models import AuditEvent, CareTeamMember, DosingSession, Patient, User
from journal.sessions import SessionChanged, save_session, session_version
from tests.conftest import NOW, bearer

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
