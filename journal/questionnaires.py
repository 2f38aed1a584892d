"""The PHQ-9 and GAD-7 as published: stems, items and answers in form order (SPEC 1.2, 2.2), with LOINC codes.

The item wording is the only verbatim third-party text in the journal. Its developers state that no
permission is required to reproduce, translate, display or distribute it (SPEC 1.1); PHQ-R1 asks for the
attribution line below on the "About the questionnaires" screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from .scoring import DIFFICULTY, GAD7, PHQ9

ATTRIBUTION = (
    "The PHQ-9 and GAD-7 were developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and "
    "colleagues, with an educational grant from Pfizer Inc. No permission is required to reproduce, translate, "
    "display or distribute them."
)

ANSWERS = (  # points, label, LOINC answer (LL358-3), in the order PHQ-R2 requires
    (0, "Not at all", "LA6568-5"),
    (1, "Several days", "LA6569-3"),
    (2, "More than half the days", "LA6570-1"),
    (3, "Nearly every day", "LA6571-9"),
)

DIFFICULTY_QUESTION = (
    "If you checked off any problems, how difficult have these problems made it for you to do your work, "
    "take care of things at home, or get along with other people?"
)
DIFFICULTY_ANSWERS = dict(  # key -> (label, LOINC answer, LL359-1)
    zip(
        DIFFICULTY,
        (
            ("Not difficult at all", "LA6572-7"),
            ("Somewhat difficult", "LA6573-5"),
            ("Very difficult", "LA6575-0"),
            ("Extremely difficult", "LA6574-3"),
        ),
        strict=True,
    )
)


@dataclass(frozen=True)
class Questionnaire:
    key: str
    name: str
    stem: str
    items: tuple[tuple[str, str], ...]  # (wording, LOINC item code)
    panel_code: str
    total_code: str
    has_difficulty: bool


PHQ9_FORM = Questionnaire(
    key=PHQ9,
    name="PHQ-9",
    stem="Over the last 2 weeks, how often have you been bothered by any of the following problems?",
    items=(
        ("Little interest or pleasure in doing things", "44250-9"),
        ("Feeling down, depressed, or hopeless", "44255-8"),
        ("Trouble falling or staying asleep, or sleeping too much", "44259-0"),
        ("Feeling tired or having little energy", "44254-1"),
        ("Poor appetite or overeating", "44251-7"),
        (
            "Feeling bad about yourself — or that you are a failure or have let yourself or your family down",
            "44258-2",
        ),
        ("Trouble concentrating on things, such as reading the newspaper or watching television", "44252-5"),
        (
            "Moving or speaking so slowly that other people could have noticed? Or the opposite — being so "
            "fidgety or restless that you have been moving around a lot more than usual",
            "44253-3",
        ),
        ("Thoughts that you would be better off dead or of hurting yourself in some way", "44260-8"),
    ),
    panel_code="44249-1",
    total_code="44261-6",
    has_difficulty=True,
)

GAD7_FORM = Questionnaire(
    key=GAD7,
    name="GAD-7",
    stem="Over the last 2 weeks, how often have you been bothered by the following problems?",
    items=(
        ("Feeling nervous, anxious, or on edge", "69725-0"),
        ("Not being able to stop or control worrying", "68509-9"),
        ("Worrying too much about different things", "69733-4"),
        ("Trouble relaxing", "69734-2"),
        ("Being so restless that it is hard to sit still", "69735-9"),
        ("Becoming easily annoyed or irritable", "69689-8"),
        ("Feeling afraid, as if something awful might happen", "69736-7"),
    ),
    panel_code="69737-5",
    total_code="70274-6",
    has_difficulty=False,
)

FORMS = {PHQ9: PHQ9_FORM, GAD7: GAD7_FORM}
