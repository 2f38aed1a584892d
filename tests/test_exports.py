"""The visit report (PDF) and the exports (CSV, FHIR R4): what they hold, that they read back, who may get them.

Renée is Alice's patient, with a week of check-ins (mood, pain, two substances, sleep), a PHQ-9 whose item 9
is positive, a GAD-7, two paper PHQ-9s (one with an item missing, one with item 9 missing) and three sessions
(given, planned, cancelled). Her name is written in letters outside Latin-1, so the PDF's font must cover it.
Charlie (another care team) and Quinn (another patient) must get nothing of hers.

The FHIR Bundle is validated with ``fhir.resources``. Version 8 carries models for R5 (its default), R4B and
STU3, not R4 itself; R4B is R4's technical correction, with the same Bundle, Patient, Questionnaire,
QuestionnaireResponse, Observation and MedicationAdministration, so its models are the R4 validator to hand.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B.bundle import Bundle
from pypdf import PdfReader
from sqlalchemy import select

from journal import export, patient_data, report
from journal.assessments import submit
from journal.checkins import save_checkin, sleep_metrics
from journal.db import db, utcnow
from journal.models import Assessment, AuditEvent, CheckIn, DosingSession
from journal.questionnaires import ANSWERS, DIFFICULTY_ANSWERS, GAD7_FORM, PHQ9_FORM
from journal.sessions import save_session
from tests.conftest import AuthActions, bearer, make_patient
from tests.test_fhir_validation import record_everything

ZONE = ZoneInfo("America/Chicago")
NAME = "Renée Łukasiewicz-Ørsted"
LOINC = "http://loinc.org"
BASE = "http://journal.test/fhir"  # conftest's BASE_URL
LOCAL = f"{BASE}/CodeSystem/ketamine-journal"
FILENAME = re.compile(r'^attachment; filename="patient-\d+-\d{4}-\d{2}-\d{2}\.(pdf|csv|fhir\.json)"$')

# SPEC 9.1: every LOINC code the export may use. Anything else would be an invented code.
SPEC_LOINC = {
    "44249-1", "44261-6", "44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3",
    "44260-8", "69722-7", "LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9", "LA6572-7", "LA6573-5", "LA6575-0",
    "LA6574-3", "69737-5", "70274-6", "69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7",
    "93832-4", "72109-2", "75626-2", "68519-8", "68520-6", "LA15694-5", "LA6270-8",
}  # fmt: skip

PHQ9_ANSWERS = [1, 2, 1, 0, 1, 2, 0, 1, 1]  # item 9 = 1: positive (PHQ-R5)
GAD7_ANSWERS = [2, 2, 1, 1, 3, 1, 0]  # 10: moderate


def local(day, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE).astimezone(UTC)


# --- Renée's records --------------------------------------------------------------------------------------------


@pytest.fixture
def renee(people):
    """A week of Renée's records, ending yesterday by the real clock (the downloads use it)."""
    user = make_patient(people.alice, "renee", NAME, zone="America/Chicago", tracks_pain=True,
                        substances=["alcohol", "cannabis"])  # fmt: skip
    today = utcnow().astimezone(ZONE).date()
    days = [today - timedelta(days=n) for n in range(7, 0, -1)]
    for index, day in enumerate(days):
        entry = {
            "mood": 3 + index % 5,
            "pain": 6 - index % 3,
            "cravings": [
                {"substance": "alcohol", "intensity": 7 - index % 4, "frequency": "1-2"},
                {"substance": "cannabis", "intensity": index % 3},
            ],
            "use": [
                {"substance": "alcohol", "used": False},
                {"substance": "cannabis", "used": index % 2 == 0, "amount": "+2 joints" if index % 2 == 0 else None},
            ],
            "side_effects": ["headache", "nausea"] if index == 2 else [],
            "urinary": ["frequency"] if index == 3 else [] if index == 4 else None,
            # Formula-like, quoted, accented and multi-line: the CSV must carry it intact and defused.
            "note": '=1+1, "quoted" café\nsecond line' if index == 1 else "",
        }
        if index % 2 == 0:
            entry["sleep"] = {
                "into_bed": local(day - timedelta(days=1), 22, 30),
                "tried_sleep": local(day - timedelta(days=1), 23),
                "sol_min": 20,
                "awakenings": 2,
                "waso_min": 25,
                "final_wake": local(day, 6, 15),
                "out_of_bed": local(day, 6, 45),
                "quality": "good",
            }
        save_checkin(db.session, user.patient, day, entry, local(day, 20, index), user)
    phq9, _ = submit(
        db.session, user.patient,
        {"instrument": "phq9", "answers": PHQ9_ANSWERS, "difficulty": "somewhat_difficult"},
        local(days[-1], 19), user,
    )  # fmt: skip
    submit(db.session, user.patient, {"instrument": "gad7", "answers": GAD7_ANSWERS}, local(days[-1], 19, 5), user)
    # Paper forms typed in by Alice: one item missing (prorated), and one with item 9 missing (never imputed).
    submit(db.session, user.patient,
           {"instrument": "phq9", "answers": [2, 2, None, 2, 1, 1, 2, 1, 0], "completed_at": local(days[0], 10)},
           local(days[0], 12), people.alice)  # fmt: skip
    submit(db.session, user.patient,
           {"instrument": "phq9", "answers": [1, 1, 1, 1, 1, 1, 1, 1, None], "completed_at": local(days[1], 10)},
           local(days[1], 12), people.alice)  # fmt: skip
    given = {"status": "given", "start": local(days[2], 9), "route": "iv", "product": "Ketamine", "dose": 0.5,
             "dose_unit": "mg/kg", "weight_kg": 71.5, "bp_systolic_pre": 124, "bp_diastolic_pre": 78,
             "heart_rate_pre": 70, "bp_systolic_post": 142, "bp_diastolic_post": 88, "heart_rate_post": 82,
             "dissociation_score": 14, "observation_minutes": 120, "discharge_at": local(days[2], 11, 30),
             "notes": "-tolerated well, discussed \"integration\""}  # fmt: skip
    save_session(db.session, user.patient, given, local(days[2], 12), people.alice)
    save_session(db.session, user.patient,
                 {"status": "planned", "start": local(today + timedelta(days=3), 9), "route": "intranasal",
                  "product": "Esketamine", "dose": 56, "dose_unit": "mg"},
                 local(days[2], 12), people.alice)  # fmt: skip
    save_session(db.session, user.patient,
                 {"status": "cancelled", "start": local(days[0], 9), "route": "sublingual", "product": "Ketamine",
                  "dose": 800, "dose_unit": "mcg"}, local(days[2], 12), people.alice)  # fmt: skip
    db.session.commit()
    user.phq9_id = phq9.id
    return user


def get(client, path: str, user, *, api: bool = True):
    if api:
        return client.get(path, headers=bearer(client, user))
    AuthActions(client).login(user)
    return client.get(path)


def fhir_of(client, people, renee) -> dict:
    response = get(client, f"/api/v1/patients/{renee.id}/export.fhir.json", people.alice)
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    return response.get_json(force=True)


def resources(bundle: dict, kind: str) -> list[dict]:
    return [entry["resource"] for entry in bundle["entry"] if entry["resource"]["resourceType"] == kind]


def observations(bundle: dict, code: str) -> list[dict]:
    return [o for o in resources(bundle, "Observation") if o["code"]["coding"][0]["code"] == code]


def codings(value) -> list[dict]:
    """Every Coding anywhere in a resource."""
    found = []
    if isinstance(value, dict):
        if "system" in value and "code" in value:
            found.append(value)
        for item in value.values():
            found += codings(item)
    elif isinstance(value, list):
        for item in value:
            found += codings(item)
    return found


# --- FHIR ----------------------------------------------------------------------------------------------------------


def test_fhir_export_is_a_valid_r4_collection_bundle(client, people, renee):
    bundle = fhir_of(client, people, renee)
    parsed = Bundle.model_validate(bundle)  # raises on any structural error
    assert parsed.type == "collection"
    kinds = {entry.resource.get_resource_type() for entry in parsed.entry}
    assert kinds == {"Patient", "CodeSystem", "Questionnaire", "QuestionnaireResponse", "Observation",
                     "MedicationAdministration"}  # fmt: skip
    full_urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(full_urls) == len(set(full_urls))
    # Every reference points at a resource in the Bundle, or one contained in the resource that refers to it.
    present = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    for entry in bundle["entry"]:
        contained = {f"#{inner['id']}" for inner in entry["resource"].get("contained", [])}
        references = set(re.findall(r'"reference": "([^"]+)"', json.dumps(entry["resource"])))
        assert references <= present | contained, entry["resource"]["id"]


def test_one_questionnaire_response_per_form_coded_as_spec_9_2(client, people, renee):
    bundle = fhir_of(client, people, renee)
    forms = db.session.scalars(select(Assessment).where(Assessment.patient_id == renee.id)).all()
    by_id = {r["id"]: r for r in resources(bundle, "QuestionnaireResponse")}
    assert set(by_id) == {f"qr-{form.id}" for form in forms}

    response = by_id[f"qr-{renee.phq9_id}"]
    assert response["status"] == "completed"
    assert response["questionnaire"] == f"{BASE}/Questionnaire/phq-9|1.0"
    assert response["subject"] == response["source"] == {"reference": f"Patient/{renee.id}"}
    link_ids = [item["linkId"] for item in response["item"]]
    assert link_ids == [code for _, code in PHQ9_FORM.items] + ["69722-7"]
    answers = [item["answer"][0]["valueCoding"] for item in response["item"]]
    assert [a["code"] for a in answers[:9]] == [ANSWERS[points][2] for points in PHQ9_ANSWERS]
    assert all(a["system"] == LOINC for a in answers)
    assert answers[9]["code"] == DIFFICULTY_ANSWERS["somewhat_difficult"][1] == "LA6573-5"

    gad7 = next(r for r in by_id.values() if r["questionnaire"].endswith("/gad-7|1.0"))
    assert [item["linkId"] for item in gad7["item"]] == [code for _, code in GAD7_FORM.items]

    paper = next(form for form in forms if form.prorated)
    unanswered = PHQ9_FORM.items[2][1]  # left blank on paper: no answer is invented for it
    expected = [code for _, code in PHQ9_FORM.items if code != unanswered]
    assert [item["linkId"] for item in by_id[f"qr-{paper.id}"]["item"]] == expected

    questionnaire = next(q for q in resources(bundle, "Questionnaire") if q["id"] == "phq-9")
    assert questionnaire["url"] == f"{BASE}/Questionnaire/phq-9" and questionnaire["version"] == "1.0"
    assert questionnaire["code"][0]["code"] == "44249-1"
    option = questionnaire["item"][1]["answerOption"][3]["valueCoding"]
    assert (option["code"], option["extension"][0]["valueDecimal"]) == ("LA6571-9", 3)  # ordinal values kept


def test_totals_are_survey_observations_derived_from_their_response(client, people, renee):
    bundle = fhir_of(client, people, renee)
    (phq9,) = [o for o in observations(bundle, "44261-6") if o["id"] == f"phq9-total-{renee.phq9_id}"]
    assert phq9["status"] == "final"
    assert phq9["category"][0]["coding"][0]["code"] == "survey"
    assert phq9["valueQuantity"] == {
        "value": sum(PHQ9_ANSWERS), "unit": "{score}", "system": "http://unitsofmeasure.org", "code": "{score}"
    }  # fmt: skip
    assert phq9["derivedFrom"] == [{"reference": f"QuestionnaireResponse/qr-{renee.phq9_id}"}]
    band = phq9["component"][0]
    assert (band["code"]["coding"][0]["system"], band["code"]["coding"][0]["code"]) == (LOCAL, "phq9-severity-band")
    assert band["valueCodeableConcept"]["coding"][0]["code"] == "mild"

    (gad7,) = observations(bundle, "70274-6")
    assert gad7["valueQuantity"]["value"] == sum(GAD7_ANSWERS)
    assert gad7["component"][0]["valueCodeableConcept"]["coding"][0]["code"] == "moderate"

    # PHQ-R7: a form whose item 9 is unanswered has no total, so no total Observation is made up for it.
    unscored = db.session.scalar(
        select(Assessment).where(Assessment.patient_id == renee.id, Assessment.total.is_(None))
    )
    assert f"phq9-total-{unscored.id}" not in {o["id"] for o in resources(bundle, "Observation")}


def test_phq_r6_item9_is_its_own_observation(client, people, renee):
    bundle = fhir_of(client, people, renee)
    item9 = observations(bundle, "44260-8")
    answered = db.session.scalars(
        select(Assessment).where(
            Assessment.patient_id == renee.id, Assessment.instrument == "phq9", Assessment.item9.is_not(None)
        )
    ).all()
    assert len(item9) == len(answered) == 2
    (positive,) = [o for o in item9 if o["id"] == f"phq9-item9-{renee.phq9_id}"]
    assert positive["valueCodeableConcept"]["coding"][0] == {
        "system": LOINC, "code": "LA6569-3", "display": "Several days"
    }  # fmt: skip
    assert positive["derivedFrom"] == [{"reference": f"QuestionnaireResponse/qr-{renee.phq9_id}"}]


def test_no_loinc_code_is_invented_and_every_local_code_is_defined(client, people, renee):
    bundle = fhir_of(client, people, renee)
    found = codings(bundle)
    assert {c["code"] for c in found if c["system"] == LOINC} <= SPEC_LOINC
    (code_system,) = resources(bundle, "CodeSystem")
    assert code_system["url"] == LOCAL
    defined = {concept["code"] for concept in code_system["concept"]}
    used = {c["code"] for c in found if c["system"] == LOCAL}
    assert {"daily-mood", "daily-pain", "craving-nrs", "substance-use", "phq9-severity-band"} <= used <= defined
    assert {c["system"] for c in found} <= {LOINC, LOCAL, "http://unitsofmeasure.org",
                                            "http://terminology.hl7.org/CodeSystem/observation-category"}  # fmt: skip


def test_daily_ratings_are_survey_observations_of_their_day(client, people, renee):
    bundle = fhir_of(client, people, renee)
    checkins = db.session.scalars(
        select(CheckIn).where(CheckIn.patient_id == renee.id).order_by(CheckIn.local_date)
    ).all()
    mood = {o["effectiveDateTime"]: o["valueInteger"] for o in observations(bundle, "daily-mood")}
    assert mood == {c.local_date.isoformat(): c.mood for c in checkins}
    pain = {o["effectiveDateTime"]: o["valueInteger"] for o in observations(bundle, "daily-pain")}
    assert pain == {c.local_date.isoformat(): c.pain for c in checkins}
    cravings = {
        (o["effectiveDateTime"], o["component"][0]["valueCodeableConcept"]["coding"][0]["code"]): o["valueInteger"]
        for o in observations(bundle, "craving-nrs")
    }
    assert cravings == {
        (c.local_date.isoformat(), f"substance-{r.substance}"): r.intensity for c in checkins for r in c.cravings
    }
    # SUD-R1: the use answer is about the check-in's own day.
    first = checkins[0]
    (use,) = [o for o in observations(bundle, "substance-use") if o["id"] == f"use-{first.id}-cannabis"]
    assert use["effectiveDateTime"] == first.local_date.isoformat()
    assert use["valueBoolean"] is True
    assert use["component"][1]["valueString"] == "+2 joints"


def test_sleep_night_is_total_sleep_time_over_the_night(client, people, renee):
    bundle = fhir_of(client, people, renee)
    nights = {
        c.id: c.sleep for c in db.session.scalars(select(CheckIn).where(CheckIn.patient_id == renee.id)) if c.sleep
    }
    sleep = observations(bundle, "93832-4")
    assert len(sleep) == len(nights) == 4
    for observation in sleep:
        night = nights[int(observation["id"].removeprefix("sleep-"))]
        assert observation["valueQuantity"]["value"] == night.tst_min == 390  # 23:00-06:15 less 20 and 25 minutes
        assert observation["valueQuantity"]["code"] == "min"
        period = observation["effectivePeriod"]
        assert datetime.fromisoformat(period["start"]) == night.into_bed
        assert datetime.fromisoformat(period["end"]) == night.out_of_bed
        parts = {c["code"]["coding"][0]["code"]: c for c in observation["component"]}
        assert parts["sleep-tib"]["valueQuantity"]["value"] == night.tib_min
        assert parts["sleep-nwak"]["valueInteger"] == 2
        assert parts["sleep-se"]["valueQuantity"]["value"] == sleep_metrics(night).se_pct


def test_given_sessions_are_medication_administrations(client, people, renee):
    bundle = fhir_of(client, people, renee)
    (given,) = resources(bundle, "MedicationAdministration")  # planned and cancelled were never administered
    record = db.session.scalar(
        select(DosingSession).where(DosingSession.patient_id == renee.id, DosingSession.status == "given")
    )
    assert given["id"] == f"session-{record.id}"
    assert given["status"] == "completed"
    # The product as a contained Medication (where a lot number, when recorded, has its place).
    assert given["contained"] == [{"resourceType": "Medication", "id": "product", "code": {"text": "Ketamine"}}]
    assert given["medicationReference"] == {"reference": "#product", "display": "Ketamine"}
    assert datetime.fromisoformat(given["effectiveDateTime"]) == record.start
    assert given["dosage"]["route"] == {"text": "Intravenous"}
    assert given["dosage"]["dose"] == {"value": 0.5, "unit": "mg/kg", "system": "http://unitsofmeasure.org",
                                       "code": "mg/kg"}  # fmt: skip


def test_the_bundle_names_nobody(client, people, renee):
    bundle = fhir_of(client, people, renee)
    (patient,) = resources(bundle, "Patient")
    assert patient == {
        "resourceType": "Patient",
        "id": str(renee.id),
        "identifier": [{"system": f"{BASE}/sid/patient-id", "value": str(renee.id)}],
    }
    text = json.dumps(bundle, ensure_ascii=False)
    for personal in ("Renée", "Łukasiewicz", renee.email, "Alice"):
        assert personal not in text


# --- CSV -----------------------------------------------------------------------------------------------------------


def _csv(client, user, path: str) -> tuple[str, list[dict]]:
    response = get(client, path, user)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    return text, export.read_csv(text)


def test_csv_reads_back_to_the_values_in_the_database(client, people, renee):
    text, rows = _csv(client, people.alice, f"/api/v1/patients/{renee.id}/export.csv")
    by_type: dict[str, list[dict]] = {}
    for row in rows:
        assert row["patient_id"] == renee.id
        by_type.setdefault(row["record_type"], []).append(row)

    checkins = db.session.scalars(
        select(CheckIn).where(CheckIn.patient_id == renee.id).order_by(CheckIn.local_date)
    ).all()
    assert [
        (r["id"], r["local_date"], r["source"], r["mood"], r["pain"], r["side_effects"], r.get("urinary"),
         r.get("note", ""), r["report_mode"], r["days_after_event"], r["saved_at"])
        for r in by_type["checkin"]
    ] == [
        (c.id, c.local_date, c.source.value, c.mood, c.pain, c.side_effects, c.urinary, c.note, c.report_mode.value,
         c.days_after_event, c.updated_at)
        for c in checkins
    ]  # fmt: skip
    assert [(r["id"], r["substance"], r["intensity"], r.get("frequency")) for r in by_type["craving"]] == [
        (c.id, x.substance, x.intensity, x.frequency) for c in checkins for x in c.cravings
    ]
    assert [(r["id"], r["substance"], r["used"], r.get("amount")) for r in by_type["use"]] == [
        (c.id, u.substance, u.used, u.amount) for c in checkins for u in c.uses
    ]
    night_fields = ("into_bed", "tried_sleep", "sol_min", "awakenings", "waso_min", "final_wake", "out_of_bed",
                    "quality", "tib_min", "tst_min")  # fmt: skip
    assert [tuple(r[f] for f in night_fields) for r in by_type["sleep"]] == [
        tuple(getattr(c.sleep, f) for f in night_fields) for c in checkins if c.sleep
    ]

    forms = db.session.scalars(
        select(Assessment).where(Assessment.patient_id == renee.id).order_by(Assessment.completed_at, Assessment.id)
    ).all()
    form_fields = ("instrument", "completed_at", "answers", "difficulty", "total", "band", "prorated",
                   "two_item_total", "item9", "safety")  # fmt: skip
    assert [(r["id"], *(r.get(f) for f in form_fields)) for r in by_type["assessment"]] == [
        (f.id, *(getattr(f, f_) for f_ in form_fields)) for f in forms
    ]
    assert any(None in r["answers"] for r in by_type["assessment"])  # an unanswered paper item stays unanswered

    sessions = db.session.scalars(
        select(DosingSession).where(DosingSession.patient_id == renee.id).order_by(DosingSession.start)
    ).all()
    session_fields = (
        "start", "route", "product", "dose", "dose_unit", "weight_kg", "setting", "bp_systolic_pre",
        "bp_diastolic_pre", "heart_rate_pre", "bp_systolic_post", "bp_diastolic_post", "heart_rate_post",
        "dissociation_score", "observation_minutes", "discharge_at", "notes",
    )  # fmt: skip
    assert [(r["id"], r["status"], *(r.get(f, "") if f == "notes" else r.get(f) for f in session_fields))
            for r in by_type["session"]] == [
        (s.id, s.status.value, *(getattr(s, f) for f in session_fields)) for s in sessions
    ]  # fmt: skip

    # A note that starts like a formula is defused for spreadsheets, and the quote mark is not part of the value.
    assert "'=1+1" in text and any(r.get("note", "").startswith("=1+1") for r in by_type["checkin"])
    assert "'-tolerated well" in text


def test_csv_instants_read_in_the_patients_own_wall_clock(client, people, renee):
    _, rows = _csv(client, people.alice, f"/api/v1/patients/{renee.id}/export.csv")
    night = next(r for r in rows if r["record_type"] == "sleep")
    assert night["into_bed"].astimezone(ZONE).time() == time(22, 30)
    assert night["into_bed"].utcoffset() == night["into_bed"].astimezone(ZONE).utcoffset()


def test_csv_carries_each_instruments_results_and_the_whole_at_session_record(client, people):
    everly = record_everything(people.alice)
    _, rows = _csv(client, people.alice, f"/api/v1/patients/{everly.user.id}/export.csv")
    forms = {row["id"]: row for row in rows if row["record_type"] == "assessment"}
    results = ("total", "band", "cluster_b", "cluster_c", "cluster_d", "cluster_e", "provisional_ptsd",
               "probable_ptsd", "cut_point", "peg_sum", "peg_score", "positive", "threshold", "threshold_basis",
               "skipped", "all_points_from_item1")  # fmt: skip

    def row_of(key: str) -> dict:
        row = forms[everly.forms[key].id]
        assert row["answers"] == everly.forms[key].answers
        return {name: row[name] for name in results if name in row}

    # PCL-R6, PCL-R7: both flags, which disagree here, and the cut-point in force.
    assert row_of("pcl5") == {"total": 16, "cluster_b": 6, "cluster_c": 2, "cluster_d": 4, "cluster_e": 4,
                              "provisional_ptsd": True, "probable_ptsd": False, "cut_point": 33}  # fmt: skip
    assert row_of("peg") == {"total": 14, "peg_sum": 14, "peg_score": 4.7}  # PEG-R3
    assert row_of("auditc") == {"total": 3, "positive": False, "threshold": 4, "threshold_basis": "male",
                                "skipped": False, "all_points_from_item1": False}  # fmt: skip
    assert row_of("auditc-never")["skipped"] is True  # AUDC-R3
    assert row_of("pacs") == {"total": 13}
    assert forms[everly.forms["pacs"].id]["source"] == "clinician"
    assert row_of("phq8") == {"total": 8, "band": "mild"}  # SAFE-R4
    assert forms[everly.forms["phq8"].id]["instrument"] == "phq8"

    (session,) = [row for row in rows if row["record_type"] == "session" and row["status"] == "given"]
    record = {
        "spo2_pre": 98, "spo2_post": 95, "sedation": 4, "bp_systolic_discharge": 130, "bp_diastolic_discharge": 82,
        "heart_rate_discharge": 76, "ready_to_leave_minutes": 95, "lot_number": "LOT-4711",
        "transport_arranged": True, "escort": "Sam Escort",
    }  # fmt: skip
    assert {name: session.get(name) for name in record} == record
    # A patient's own download leaves out the name of who takes them home: third-party data, for staff (SPEC 7.4).
    _, own = _csv(client, everly.user, "/api/v1/me/export.csv")
    (mine,) = [row for row in own if row["record_type"] == "session" and row["status"] == "given"]
    assert "escort" not in mine and mine["lot_number"] == "LOT-4711"


def test_a_patients_own_csv_is_theirs_without_the_care_teams_notes(client, people, renee):
    _, mine = _csv(client, renee, "/api/v1/me/export.csv")
    _, teams = _csv(client, people.alice, f"/api/v1/patients/{renee.id}/export.csv")
    assert {r["patient_id"] for r in mine} == {renee.id}
    assert [r for r in mine if r["record_type"] == "session" and "notes" in r] == []
    assert [{k: v for k, v in r.items() if k != "notes"} for r in teams] == mine


def test_read_csv_refuses_a_file_that_is_not_an_export():
    with pytest.raises(ValueError, match="columns"):
        export.read_csv("name,value\r\nx,1\r\n")


def test_csv_formula_guard_round_trips_every_risky_start():
    for text in ("=A1", "+1", "-1", "@SUM", "\tx", "'quoted", "plain", ""):
        assert export._read_text(export._write_text(text)) == text
        assert not export._write_text(text).startswith(("=", "+", "-", "@", "\t"))


# --- PDF -----------------------------------------------------------------------------------------------------------


def test_report_pdf_has_summary_alerts_sessions_then_two_pages_of_charts(client, people, renee):
    response = get(client, f"/clinician/patients/{renee.id}/report.pdf?days=30", people.alice, api=False)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    pdf = response.get_data()
    assert pdf.startswith(b"%PDF-")
    pages = [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]
    assert len(pages) >= 4
    first, outcomes, forms, *days = pages
    assert "Last 30 days" in days[0]  # the last 30 days end the report, one row a day
    assert f"Outcome report: {NAME}" in first  # set in a font that has the letters (DejaVu Sans)
    for heading in ("Summary", "Open alerts", "Sessions", "Latest PHQ-9", "Consider booster review"):
        assert heading in first
    assert "Thoughts of death or self-harm" in first and "item 9 answered" in first  # the open safety alert
    assert "Intravenous" in first and "0.5 mg/kg" in first and "124/78" in first and "Esketamine" in first
    assert "Daily outcomes" in outcomes and f"Page 2 of {len(pages)}" in outcomes
    assert "Questionnaires" in forms and "Diary adherence" in forms
    assert NAME in forms  # every page says whose it is


def test_report_build_is_a_pure_function_of_the_data(app, people, renee):
    now = utcnow()
    data = patient_data.load(db.session, renee.patient, now, 14)
    pdf = report.build(data, patient_data.summary(data, now), [], now)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "No open alerts." in text
    assert PdfReader(io.BytesIO(pdf)).metadata.title == "Outcome report"  # the file's metadata names nobody


def test_report_days_out_of_range_is_refused(client, people, renee):
    response = get(client, f"/api/v1/patients/{renee.id}/report.pdf?days=5000", people.alice)
    assert response.status_code == 422


# --- Who may download, and what the response says --------------------------------------------------------------


CARE_TEAM_PATHS = [
    "/api/v1/patients/{id}/report.pdf",
    "/api/v1/patients/{id}/export.csv",
    "/api/v1/patients/{id}/export.fhir.json",
    "/clinician/patients/{id}/report.pdf",
    "/clinician/patients/{id}/export.csv",
    "/clinician/patients/{id}/export.fhir.json",
]


@pytest.mark.parametrize("path", CARE_TEAM_PATHS)
def test_only_the_care_team_gets_a_patients_downloads(client, people, renee, path):
    url = path.format(id=renee.id)
    api = url.startswith("/api/")
    for outsider in (people.charlie, people.quinn, renee, people.ada):
        assert get(app_client(client), url, outsider, api=api).status_code == 404, outsider.name
    response = get(app_client(client), url, people.alice, api=api)
    assert response.status_code == 200
    assert FILENAME.match(response.headers["Content-Disposition"]), response.headers["Content-Disposition"]
    assert f"patient-{renee.id}-" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    for personal in ("Ren", "ukasiewicz", "rsted", renee.email):
        assert personal not in headers


def app_client(client):
    """A fresh client (no cookies from the previous caller's sign-in)."""
    return client.application.test_client()


@pytest.mark.parametrize(
    "path",
    ["/api/v1/me/export.csv", "/api/v1/me/export.fhir.json", "/settings/export.csv", "/settings/export.fhir.json"],
)
def test_a_patient_downloads_only_their_own_data(client, people, renee, path):
    api = path.startswith("/api/")
    response = get(app_client(client), path, people.quinn, api=api)
    assert response.status_code == 200
    assert f"patient-{people.quinn.id}-" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    body = response.get_data(as_text=True)
    assert f'"Patient/{renee.id}"' not in body and "Esketamine" not in body and "+2 joints" not in body
    for staff in (people.alice, people.charlie):
        assert get(app_client(client), path, staff, api=api).status_code == 404


def test_every_download_is_audited(client, people, renee):
    get(app_client(client), f"/api/v1/patients/{renee.id}/report.pdf", people.alice)
    get(app_client(client), f"/clinician/patients/{renee.id}/export.csv", people.alice, api=False)
    get(app_client(client), f"/api/v1/patients/{renee.id}/export.fhir.json", people.alice)
    get(app_client(client), "/settings/export.fhir.json", renee, api=False)
    events = db.session.execute(
        select(AuditEvent.actor_id, AuditEvent.action, AuditEvent.detail)
        .where(AuditEvent.patient_id == renee.id, AuditEvent.action.in_(["report.read", "export.read"]))
        .order_by(AuditEvent.id)
    ).all()
    assert events == [
        (people.alice.id, "report.read", "90 days"),
        (people.alice.id, "export.read", "csv"),
        (people.alice.id, "export.read", "fhir"),
        (renee.id, "export.read", "fhir"),
    ]


def test_a_patient_finds_the_downloads_from_home(client, people, renee):
    auth = AuthActions(client)
    auth.login(renee)
    home = client.get("/home").get_data(as_text=True)
    assert 'href="/settings/data"' in home
    page = client.get("/settings/data").get_data(as_text=True)
    assert 'href="/settings/export.csv"' in page and 'href="/settings/export.fhir.json"' in page
