"""PRIV-R1 / PRIV-R4: nothing sent outside the app carries health information."""

from __future__ import annotations

import re

import pytest

from journal.messages import TEMPLATES, render

# Condition, substance, drug, treatment, appointment, score, mood and questionnaire words, and specialties.
FORBIDDEN = [
    "depress", "anxi", "ptsd", "trauma", "addict", "substance", "alcohol", "drink", "opioid", "heroin", "fentanyl",
    "stimulant", "cocaine", "meth", "cannabis", "marijuana", "nicotine", "benzo", "ketamine", "esketamine",
    "spravato", "infusion", "dose", "dosing", "session", "appointment", "treatment", "therapy", "psychiatr",
    "mental", "score", "phq", "gad", "questionnaire", "mood", "craving", "relapse", "sober", "recovery", "pain",
    "sleep", "suicid", "self-harm", "crisis", "clinic", "diagnos", "medication", "symptom",
]  # fmt: skip


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_message_template_is_free_of_health_words(template):
    subject, text = render(template, link="https://journal.example/m/0123456789abcdef")
    for word in FORBIDDEN:
        assert not _says(word, subject), f"{template} subject says {word!r}"
        assert not _says(word, text), f"{template} text says {word!r}"
    assert "https://journal.example/m/0123456789abcdef" in text


def test_the_forbidden_list_would_catch_a_careless_template():
    careless = "Time for your ketamine session check-in: how is your mood?"
    assert [word for word in FORBIDDEN if _says(word, careless)] == ["ketamine", "session", "mood"]


def _says(word: str, text: str) -> bool:
    # At the start of a word, so "meth" catches "methadone" but not "something".
    return re.search(rf"\b{re.escape(word)}", text, re.IGNORECASE) is not None


def test_alert_emails_say_how_urgent_by_priority_and_never_what():
    from journal.messages import alert_template

    subjects = {severity: render(alert_template(severity), link="")[0] for severity in ("high", "medium", "low")}
    assert subjects == {
        "high": "Urgent: please check the portal now",
        "medium": "Please check the portal today",
        "low": "Please check the portal when you can",
    }
    assert render("alert_escalation", link="")[0] == "Urgent: an item is still waiting in the portal"
    for subject in [*subjects.values(), render("alert_escalation", link="")[0]]:
        assert [word for word in FORBIDDEN if _says(word, subject)] == []
    with pytest.raises(KeyError):
        alert_template("critical")  # an unknown priority is a bug to see, not a silent default
