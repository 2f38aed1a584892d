"""The FHIR export of a patient with every kind of data validates against the FHIR models, resource by resource,
and each instrument and the at-session record take the shape SPEC 9.4 gives them.

Everly is Alice's patient, treated for every indication, with check-ins (mood, pain, cravings, use, sleep), a
PHQ-9 whose item 9 is positive, a GAD-7, a PCL-5, a PEG, an AUDIT-C and a paper one answered "Never", a PACS
that Alice entered from the clinic's copy, a PHQ-8 after the clinic chose it in place of the PHQ-9 (SAFE-R4), a
given session with the whole at-session record and a planned one, and the morning-after check.

``fhir.resources`` 8 has models for R5 (its default), R4B and STU3, not R4 itself; R4B is R4's technical
correction, with the same Bundle, Questionnaire, QuestionnaireResponse, Observation, Medication and
MedicationAdministration, so its models are the R4 validator to hand. They refuse unknown elements, wrong
types, malformed dates and two choices of a value[x] at once; they check neither codes against code systems
nor the required value sets (an Observation with status "done" passes), so the tests below check those.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from journal import export
from journal.assessments import submit
from journal.checkins import save_checkin
from journal.db import db, utcnow
from journal.models import Assessment, DosingSession, SideEffectCheck, User
from journal.sessions import save_session
from tests.conftest import bearer, make_patient

ZONE = ZoneInfo("America/Chicago")
BASE = "http://journal.test/fhir"  # conftest's BASE_URL
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
LOCAL = f"{BASE}/CodeSystem/ketamine-journal"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

# SPEC 9.1: every LOINC code it verified. Anything else in the export would be an invented code (SPEC 12.2, 12.17).
SPEC_LOINC = {
    "44249-1", "44261-6", "44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3",
    "44260-8", "69722-7", "LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9", "LA6572-7", "LA6573-5", "LA6575-0",
    "LA6574-3", "69737-5", "70274-6", "69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7",
    "93832-4", "72109-2", "75626-2", "68519-8", "68520-6", "LA15694-5", "LA6270-8",
}  # fmt: skip
# SPEC 12.17: candidates seen only in non-authoritative code, not to be used until verified.
UNVERIFIED_LOINC = {"91148-7", "75893-8", "91145-3", "91146-1", "91147-9", "68518-0", "68517-2"}

FIRST_DAY = date(2026, 2, 16)
PCL5_ANSWERS = [2, 1, 1, 1, 1, 2, 0, 2, 2, 0, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0]  # 16: pattern met, under the cut-point
PEG_ANSWERS = [5, 4, 5]  # sum 14: 4.7, never truncated to 4.6 (PEG-R3)
AUDITC_ANSWERS = [2, 1, 0]  # 3: under a man's threshold of 4 (AUDC-R5)
PACS_ANSWERS = [3, 2, 4, 1, 3]  # 13
PHQ8_ANSWERS = [1, 1, 1, 1, 1, 1, 1, 1]  # 8: mild


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE).astimezone(UTC)


@dataclass
class Everly:
    user: User
    forms: dict[str, Assessment]  # by instrument; "auditc-never" for the paper AUDIT-C answered "Never"
    given: DosingSession


def record_everything(alice: User) -> Everly:
    """Everly's records: every kind of data the journal keeps, for every instrument (see the module's docstring)."""
    user = make_patient(alice, "everly", "Everly Example", tracks_pain=True, substances=["alcohol", "cannabis"],
                        sex="male")  # fmt: skip
    user.patient.indications = ["depression", "ptsd", "chronic_pain", "alcohol", "substance_use"]
    days = [FIRST_DAY + timedelta(days=n) for n in range(4)]
    for index, day in enumerate(days):
        entry = {
            "mood": 4 + index,
            "pain": 6 - index,
            "cravings": [
                {"substance": "alcohol", "intensity": 6, "frequency": "3-5"},
                {"substance": "cannabis", "intensity": 2},
            ],
            "use": [
                {"substance": "alcohol", "used": False},
                {"substance": "cannabis", "used": index == 0, "amount": "1 joint" if index == 0 else None},
            ],
            "side_effects": ["nausea"] if index == 1 else [],
            "sleep": {
                "into_bed": local(day - timedelta(days=1), 22, 30),
                "tried_sleep": local(day - timedelta(days=1), 23),
                "sol_min": 15,
                "awakenings": 1,
                "waso_min": 10,
                "final_wake": local(day, 6),
                "out_of_bed": local(day, 6, 30),
                "quality": "fair",
            },
        }
        save_checkin(db.session, user.patient, day, entry, local(day, 20), user)

    def own(instrument: str, answers: list, at: datetime, **extra) -> Assessment:
        form, _ = submit(db.session, user.patient, {"instrument": instrument, "answers": answers, **extra}, at, user)
        return form

    def paper(instrument: str, answers: list, completed: datetime) -> Assessment:
        data = {"instrument": instrument, "answers": answers, "completed_at": completed}
        form, _ = submit(db.session, user.patient, data, completed + timedelta(hours=2), alice)
        return form

    forms = {
        "phq9": own("phq9", [1, 2, 1, 0, 1, 2, 0, 1, 1], local(days[0], 19), difficulty="somewhat_difficult"),
        "gad7": own("gad7", [2, 2, 1, 1, 3, 1, 0], local(days[0], 19, 5)),
        "pcl5": own("pcl5", PCL5_ANSWERS, local(days[0], 19, 10)),
        "peg": own("peg", PEG_ANSWERS, local(days[0], 19, 15)),
        "auditc": own("auditc", AUDITC_ANSWERS, local(days[0], 19, 20)),
        # AUDC-R3: "Never", then items 2 and 3 not asked, typed in as 0 (the scorer takes 0 or none for them).
        "auditc-never": paper("auditc", [0, 0, 0], local(days[0] - timedelta(days=30), 10)),
        "pacs": paper("pacs", PACS_ANSWERS, local(days[1], 10)),  # only staff enter it (PACS-R3)
    }
    user.clinic.depression_instrument = "phq8"  # SAFE-R4: the clinic now asks the PHQ-8 in place of the PHQ-9
    forms["phq8"] = own("phq8", PHQ8_ANSWERS, local(days[3], 19))

    given = save_session(
        db.session,
        user.patient,
        {"status": "given", "start": local(days[2], 9), "route": "intranasal", "product": "Esketamine", "dose": 56,
         "dose_unit": "mg", "bp_systolic_pre": 124, "bp_diastolic_pre": 78, "heart_rate_pre": 70,
         "bp_systolic_post": 146, "bp_diastolic_post": 90, "heart_rate_post": 84, "dissociation_score": 14,
         "observation_minutes": 125, "discharge_at": local(days[2], 11, 10)},
        local(days[2], 12),
        alice,
    )  # fmt: skip
    # The rest of the at-session record (SPEC 7.4, KET-R8), as its columns hold it.
    for name, value in {
        "spo2_pre": 98, "spo2_post": 95, "sedation": 4, "bp_systolic_discharge": 130, "bp_diastolic_discharge": 82,
        "heart_rate_discharge": 76, "ready_to_leave_minutes": 95, "lot_number": "LOT-4711", "transport_arranged": True,
        "escort": "Sam Escort",
    }.items():  # fmt: skip
        setattr(given, name, value)
    save_session(
        db.session,
        user.patient,
        {"status": "planned", "start": local(days[3] + timedelta(days=7), 9), "route": "intranasal",
         "product": "Esketamine", "dose": 84, "dose_unit": "mg"},
        local(days[2], 12),
        alice,
    )  # fmt: skip
    db.session.add(
        SideEffectCheck(session_id=given.id, patient_id=user.id, kind="morning_after",
                        answers={"nausea": 3, "drove": False}, skipped=False, completed_at=local(days[3], 8))
    )  # fmt: skip
    db.session.commit()
    return Everly(user, forms, given)


@pytest.fixture
def everly(people) -> Everly:
    return record_everything(people.alice)


def bundle_of(everly: Everly) -> dict:
    return export.fhir_bundle(export.load(db.session, everly.user.patient), "http://journal.test", utcnow())


def by_key(bundle: dict) -> dict[str, dict]:
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"] for e in bundle["entry"]}


def codings(value) -> list[dict]:
    """Every Coding anywhere in a resource."""
    if isinstance(value, dict):
        own = [value] if "system" in value and "code" in value else []
        return own + [found for item in value.values() for found in codings(item)]
    if isinstance(value, list):
        return [found for item in value for found in codings(item)]
    return []


def code_of(concept: dict) -> tuple[str, str]:
    return concept["coding"][0]["system"], concept["coding"][0]["code"]


def components(observation: dict) -> dict[str, dict]:
    """Each component's value by its code (the value[x] element itself, whatever its type)."""
    return {
        c["code"]["coding"][0]["code"]: next(v for k, v in c.items() if k.startswith("value"))
        for c in observation["component"]
    }


def ucum(value, unit: str) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def score(value) -> dict:
    return ucum(value, "{score}")


# --- Validation ------------------------------------------------------------------------------------------------


def test_every_resource_of_the_fhir_export_download_validates_as_r4b(client, people, everly):
    response = client.get(f"/api/v1/patients/{everly.user.id}/export.fhir.json", headers=bearer(client, people.alice))
    assert response.status_code == 200
    bundle = response.get_json(force=True)
    parsed = Bundle.model_validate(bundle)  # each entry is parsed as its own resource type
    kinds = [entry.resource.get_resource_type() for entry in parsed.entry]
    assert set(kinds) == {"Patient", "CodeSystem", "Questionnaire", "QuestionnaireResponse", "Observation",
                          "MedicationAdministration"}  # fmt: skip
    for entry in bundle["entry"]:  # and each one again on its own, so a failure names the resource
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    administration = next(
        e.resource for e in parsed.entry if e.resource.get_resource_type() == "MedicationAdministration"
    )
    assert administration.contained[0].get_resource_type() == "Medication"
    # One Questionnaire per instrument used, one response per form.
    assert kinds.count("Questionnaire") == 7
    assert kinds.count("QuestionnaireResponse") == len(everly.forms)


def test_the_validator_refuses_an_invalid_element(app, people, everly):
    """The validation above would fail on a broken export: a wrong type, an unknown element, a malformed date
    and a second value[x] are each refused."""
    bundle = bundle_of(everly)
    Bundle.model_validate(bundle)
    index = next(
        i for i, e in enumerate(bundle["entry"]) if e["resource"]["id"] == f"pcl5-total-{everly.forms['pcl5'].id}"
    )
    for change in (
        lambda r: r["valueQuantity"].update(value="sixteen"),
        lambda r: r.update(valueScore=16),
        lambda r: r.update(effectiveDateTime="2026-13-01"),
        lambda r: r.update(valueInteger=16),
    ):
        broken = copy.deepcopy(bundle)
        change(broken["entry"][index]["resource"])
        with pytest.raises(ValidationError):
            Bundle.model_validate(broken)


def test_every_reference_resolves_inside_the_bundle_or_its_resource(app, people, everly):
    bundle = bundle_of(everly)
    resources = by_key(bundle)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        contained = {f"#{inner['id']}" for inner in resource.get("contained", [])}
        for reference in re.findall(r'"reference": "([^"]+)"', json.dumps(resource)):
            assert reference in resources or reference in contained, (resource["id"], reference)
    full_urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(full_urls) == len(set(full_urls))


def test_no_loinc_code_is_invented_and_every_local_code_is_defined(app, people, everly):
    bundle = bundle_of(everly)
    found = codings(bundle)
    loinc = {c["code"] for c in found if c["system"] == LOINC}
    assert loinc <= SPEC_LOINC
    assert not loinc & UNVERIFIED_LOINC
    assert {"72109-2", "75626-2", "68519-8", "68520-6", "LA6270-8"} <= loinc  # the AUDIT-C codes US Core verified
    (code_system,) = [r for r in by_key(bundle).values() if r["resourceType"] == "CodeSystem"]
    defined = [concept["code"] for concept in code_system["concept"]]
    assert len(defined) == len(set(defined))
    used = {c["code"] for c in found if c["system"] == LOCAL}
    assert used <= set(defined)
    assert {c["system"] for c in found} <= {LOINC, LOCAL, UCUM, CATEGORY}


# What FHIR R4 binds as required for the elements the export uses, which the models above do not check.
REQUIRED_CODES = {
    ("Observation", "status"): {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                                "entered-in-error", "unknown"},
    ("QuestionnaireResponse", "status"): {"in-progress", "completed", "amended", "entered-in-error", "stopped"},
    ("Questionnaire", "status"): {"draft", "active", "retired", "unknown"},
    ("CodeSystem", "status"): {"draft", "active", "retired", "unknown"},
    ("CodeSystem", "content"): {"not-present", "example", "fragment", "complete", "supplement"},
    ("MedicationAdministration", "status"): {"in-progress", "not-done", "on-hold", "completed", "entered-in-error",
                                             "stopped", "unknown"},
}  # fmt: skip
QUESTIONNAIRE_ITEM_TYPES = {"group", "display", "boolean", "decimal", "integer", "date", "dateTime", "time", "string",
                            "text", "url", "choice", "open-choice", "attachment", "reference", "quantity"}  # fmt: skip
OBSERVATION_CATEGORIES = {"social-history", "vital-signs", "imaging", "laboratory", "procedure", "survey", "exam",
                          "therapy", "activity"}  # fmt: skip


def test_every_code_of_a_required_binding_is_in_its_value_set(app, people, everly):
    bundle = bundle_of(everly)
    assert bundle["type"] == "collection"
    for resource in by_key(bundle).values():
        for (kind, element), allowed in REQUIRED_CODES.items():
            if resource["resourceType"] == kind:
                assert resource[element] in allowed, (resource["id"], element)
        for category in resource.get("category", []):
            assert {c["code"] for c in category["coding"]} <= OBSERVATION_CATEGORIES, resource["id"]
        for item in resource.get("item", []) if resource["resourceType"] == "Questionnaire" else []:
            assert item["type"] in QUESTIONNAIRE_ITEM_TYPES
            assert {child["type"] for child in item.get("item", [])} <= QUESTIONNAIRE_ITEM_TYPES
            assert {rule["operator"] for rule in item.get("enableWhen", [])} <= {
                "exists",
                "=",
                "!=",
                ">",
                "<",
                ">=",
                "<=",
            }


# --- The instruments (SPEC 9.4) --------------------------------------------------------------------------------


def test_pcl5_total_carries_the_cluster_subtotals_both_flags_and_the_cut_point(app, people, everly):
    form = everly.forms["pcl5"]
    resources = by_key(bundle_of(everly))
    total = resources[f"Observation/pcl5-total-{form.id}"]
    assert code_of(total["code"]) == (LOCAL, "pcl5-total")
    assert total["category"][0]["coding"][0]["code"] == "survey"
    assert total["valueQuantity"] == score(16)
    # PCL-R6, PCL-R7: the symptom pattern is met while the total is under the cut-point; both are stored.
    assert components(total) == {
        "pcl5-cluster-b": score(6),
        "pcl5-cluster-c": score(2),
        "pcl5-cluster-d": score(4),
        "pcl5-cluster-e": score(4),
        "pcl5-provisional-ptsd": True,
        "pcl5-probable-ptsd": False,
        "pcl5-cut-point": score(33),
    }
    (derived,) = total["derivedFrom"]
    response = resources[derived["reference"]]
    assert response["questionnaire"] == f"{BASE}/Questionnaire/pcl-5|1.0"
    assert [item["linkId"] for item in response["item"]] == [f"pcl5-item-{n}" for n in range(1, 21)]
    first = response["item"][0]["answer"][0]["valueCoding"]
    assert first == {"system": LOCAL, "code": "pcl5-answer-2", "display": "Moderately"}
    questionnaire = resources["Questionnaire/pcl-5"]
    assert questionnaire["code"] == [{"system": LOCAL, "code": "pcl5", "display": "PTSD Checklist for DSM-5 (PCL-5)"}]
    options = questionnaire["item"][2]["answerOption"]  # after the instruction and the stem
    assert [(o["valueCoding"]["display"], o["valueCoding"]["extension"][0]["valueDecimal"]) for o in options] == [
        ("Not at all", 0), ("A little bit", 1), ("Moderately", 2), ("Quite a bit", 3), ("Extremely", 4)
    ]  # fmt: skip


def test_peg_value_is_the_one_decimal_score_with_the_sum_as_a_component(app, people, everly):
    form = everly.forms["peg"]
    resources = by_key(bundle_of(everly))
    total = resources[f"Observation/peg-total-{form.id}"]
    assert code_of(total["code"]) == (LOCAL, "peg-score")
    assert total["valueQuantity"] == score(4.7)  # PEG-R3: 14 / 3 rounds half-up to 4.7
    assert components(total) == {"peg-sum": score(14)}
    response = resources[total["derivedFrom"][0]["reference"]]
    assert [(i["linkId"], i["answer"][0]["valueInteger"]) for i in response["item"]] == [
        ("peg-p", 5), ("peg-e", 4), ("peg-g", 5)
    ]  # fmt: skip
    item = resources["Questionnaire/peg"]["item"][1]
    assert item["type"] == "integer"
    assert [e["valueInteger"] for e in item["extension"]] == [0, 10]
    assert item["item"][0]["text"] == "0: No pain. 10: Pain as bad as you can imagine."


def test_auditc_follows_the_us_core_panel_pattern_with_positive_and_threshold(app, people, everly):
    form = everly.forms["auditc"]
    resources = by_key(bundle_of(everly))
    panel = resources[f"Observation/auditc-panel-{form.id}"]
    assert code_of(panel["code"]) == (LOINC, "72109-2")
    assert "valueQuantity" not in panel
    members = [resources[member["reference"]] for member in panel["hasMember"]]
    assert [code_of(m["code"]) for m in members] == [
        (LOCAL, "auditc-item-1"), (LOINC, "68519-8"), (LOINC, "68520-6"), (LOINC, "75626-2")
    ]  # fmt: skip
    item1, item2, item3, total = members
    assert item1["valueCodeableConcept"]["coding"][0]["display"] == "2 to 4 times a month"
    assert code_of(item2["valueCodeableConcept"]) == (LOCAL, "auditc-item-2-answer-1")  # "3 or 4": no LOINC code
    assert code_of(item3["valueCodeableConcept"]) == (LOINC, "LA6270-8")  # "Never", as US Core codes it
    assert total["valueQuantity"] == score(3)
    values = components(total)
    assert values["auditc-positive"] is False  # 3 is under a man's threshold (AUDC-R5)
    assert values["auditc-threshold"] == score(4)
    assert values["auditc-threshold-basis"]["coding"][0]["code"] == "auditc-threshold-basis-male"
    response = f"QuestionnaireResponse/qr-{form.id}"
    assert all(o["derivedFrom"] == [{"reference": response}] for o in [panel, *members])


def test_auditc_after_never_has_items_2_and_3_unasked(app, people, everly):
    form = everly.forms["auditc-never"]
    resources = by_key(bundle_of(everly))
    response = resources[f"QuestionnaireResponse/qr-{form.id}"]
    assert [item["linkId"] for item in response["item"]] == ["auditc-item-1"]  # AUDC-R3: not asked, not "1 or 2"
    panel = resources[f"Observation/auditc-panel-{form.id}"]
    assert [member["reference"] for member in panel["hasMember"]] == [
        f"Observation/auditc-item1-{form.id}", f"Observation/auditc-total-{form.id}"
    ]  # fmt: skip
    assert resources[f"Observation/auditc-total-{form.id}"]["valueQuantity"] == score(0)
    item2 = resources["Questionnaire/audit-c"]["item"][2]
    assert item2["enableWhen"] == [
        {"question": "auditc-item-1", "operator": "!=",
         "answerCoding": {"system": LOCAL, "code": "auditc-item-1-answer-0", "display": "Never"}}
    ]  # fmt: skip


def test_pacs_entered_by_the_care_team_has_a_local_total(app, people, everly):
    form = everly.forms["pacs"]
    resources = by_key(bundle_of(everly))
    total = resources[f"Observation/pacs-total-{form.id}"]
    assert code_of(total["code"]) == (LOCAL, "pacs-total")
    assert total["valueQuantity"] == score(13)
    assert "component" not in total  # PACS-R5: no category word
    response = resources[total["derivedFrom"][0]["reference"]]
    assert response["source"] == {"reference": f"Patient/{everly.user.id}"}  # the patient answered, on paper
    first, *rest = response["item"]
    assert first["answer"][0]["valueCoding"]["code"] == "pacs-item-1-answer-3"
    assert [item["answer"][0]["valueInteger"] for item in rest] == PACS_ANSWERS[1:]


def test_phq8_exports_under_local_panel_and_total_codes(app, people, everly):
    form = everly.forms["phq8"]
    resources = by_key(bundle_of(everly))
    assert resources["Questionnaire/phq-8"]["code"][0]["code"] == "phq8"
    assert resources["Questionnaire/phq-8"]["code"][0]["system"] == LOCAL
    total = resources[f"Observation/phq8-total-{form.id}"]
    assert code_of(total["code"]) == (LOCAL, "phq8-total")
    assert total["valueQuantity"] == score(8)
    assert components(total)["phq8-severity-band"]["coding"][0]["code"] == "mild"
    response = resources[total["derivedFrom"][0]["reference"]]
    assert len(response["item"]) == 8 and "44260-8" not in [item["linkId"] for item in response["item"]]
    assert f"Observation/phq9-item9-{form.id}" not in resources  # the PHQ-8 has no item 9
    assert f"Observation/phq9-item9-{everly.forms['phq9'].id}" in resources  # the PHQ-9 from before keeps it


# --- The at-session record (SPEC 7.4, 9.4) ---------------------------------------------------------------------


def test_at_session_record_is_observations_part_of_the_administration(app, people, everly):
    given = everly.given
    resources = by_key(bundle_of(everly))
    administration = f"MedicationAdministration/session-{given.id}"
    measures = {
        r["code"]["coding"][0]["code"]: r
        for key, r in resources.items()
        if key.startswith(f"Observation/session-{given.id}-")
    }
    blood_pressure = {
        "blood-pressure-pre-dose": (124, 78),
        "blood-pressure-post-dose": (146, 90),
        "blood-pressure-discharge": (130, 82),
    }
    for code, (systolic, diastolic) in blood_pressure.items():
        pressures = {"bp-systolic": ucum(systolic, "mm[Hg]"), "bp-diastolic": ucum(diastolic, "mm[Hg]")}
        assert components(measures[code]) == pressures
    values = {
        code: next(value for key, value in r.items() if key.startswith("value"))
        for code, r in measures.items()
        if code not in blood_pressure
    }
    assert datetime.fromisoformat(values.pop("discharge-time")) == given.discharge_at
    assert values == {
        "heart-rate-pre-dose": ucum(70, "/min"),
        "heart-rate-post-dose": ucum(84, "/min"),
        "heart-rate-discharge": ucum(76, "/min"),
        "spo2-pre-dose": ucum(98, "%"),
        "spo2-post-dose": ucum(95, "%"),
        "sedation-moaas": 4,
        "dissociation-cadss": score(14),
        "observation-minutes": ucum(125, "min"),
        "ready-to-leave-minutes": ucum(95, "min"),
        "transport-arranged": True,
    }
    for code, observation in measures.items():
        assert observation["partOf"] == [{"reference": administration}], code
        assert observation["code"]["coding"][0]["system"] == LOCAL, code  # SPEC 9 verified no code for these
        categories = {c["code"] for cat in observation.get("category", []) for c in cat["coding"]}
        assert "vital-signs" not in categories, code  # would promise the vital-signs profile's LOINC codes
    assert measures["dissociation-cadss"]["category"][0]["coding"][0]["code"] == "survey"  # a rating scale
    assert measures["spo2-pre-dose"]["category"][0]["coding"][0]["code"] == "exam"
    period = measures["sedation-moaas"]["effectivePeriod"]
    assert (datetime.fromisoformat(period["start"]), datetime.fromisoformat(period["end"])) == (
        given.start, given.discharge_at
    )  # fmt: skip


def test_lot_number_is_on_the_administered_medication(app, people, everly):
    resources = by_key(bundle_of(everly))
    administration = resources[f"MedicationAdministration/session-{everly.given.id}"]
    (medication,) = administration["contained"]
    assert administration["medicationReference"]["reference"] == f"#{medication['id']}"
    assert medication["code"] == {"text": "Esketamine"}
    assert medication["batch"] == {"lotNumber": "LOT-4711"}


def test_the_escort_and_the_patients_name_are_not_in_the_fhir_export(app, people, everly):
    text = json.dumps(bundle_of(everly), ensure_ascii=False)
    for personal in ("Sam Escort", "Everly", everly.user.email, "Alice"):
        assert personal not in text
