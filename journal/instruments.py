"""Every questionnaire the journal asks, as one definition each (SPEC 1-4, 6.4, 9.1, 11).

A definition holds the published wording and answers, the recall period, how it is scored, its bands or
cut-points, how change is judged, its codes, its default schedule and who may fill it in. The pages, the API,
scoring, baselines, charts, the report, the exports and the reminders read it from here, so adding an instrument
is one definition (and its tests).

The wording is verbatim from the SPEC; where the SPEC could not verify a wording (PACS items 2-5, PACS-R3) the
instrument is not offered to patients: only a clinician may enter a form completed on the clinic's own copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from . import scales, scoring
from .questionnaires import ANSWERS as PHQ_ANSWERS
from .questionnaires import DIFFICULTY_ANSWERS, DIFFICULTY_QUESTION, GAD7_FORM, PHQ9_FORM
from .wording import N_

# What a patient is treated for. The PHQ-9 (or PHQ-8) and GAD-7 are asked of everyone (SPEC 11's baseline and
# 14-day rows): each indication adds its own questionnaires and daily items.
INDICATIONS = {
    "depression": "Depression",
    "ptsd": "PTSD",
    "chronic_pain": "Chronic pain",
    "alcohol": "Alcohol use",
    "substance_use": "Other substance use",
}
EVERYONE = "everyone"


@dataclass(frozen=True)
class Answer:
    points: int
    label: str
    code: str | None = None  # LOINC answer code, where SPEC 9.1 verified one


@dataclass(frozen=True)
class Item:
    wording: str
    code: str  # LOINC where SPEC 9.1 verified it, else the journal's local code
    answers: tuple[Answer, ...] = ()  # the labelled answers; empty for a 0-10 scale with anchors
    anchors: tuple[str, str] | None = None  # words under 0 and 10 of a numeric scale (PEG-R2)
    group: str | None = None  # PCL-5 cluster


@dataclass(frozen=True)
class Schedule:
    """When the form is due by default: every N days, N days after each given session, N days before each
    planned one; never twice within ``min_gap_days`` (a clinic may replace it: InstrumentSchedule)."""

    every_days: int | None
    days_after_session: int | None = None
    days_before_session: int | None = None
    min_gap_days: int = 7


@dataclass(frozen=True)
class ReferenceLine:
    value: int
    label: str


@dataclass(frozen=True)
class Instrument:
    key: str
    name: str
    title: str
    recall: str  # in words, for pages ("the past month")
    instruction: str
    stem: str
    items: tuple[Item, ...]
    scorer: Callable[..., scoring.Score]
    total_max: int
    indication: str  # EVERYONE or a key of INDICATIONS
    schedule: Schedule
    attribution: str
    panel_code: str
    total_code: str
    code_system: str = "local"  # "loinc" when the panel and total codes are LOINC (SPEC 9.1)
    self_report: bool = True  # False: only a clinician enters it (from the clinic's own copy)
    has_difficulty: bool = False
    bands: tuple[tuple[int, str], ...] = ()  # (lowest total, band key)
    reference_lines: tuple[ReferenceLine, ...] = ()  # cut-points drawn on charts
    chart_total: str = "total"  # what the chart draws: the total, or a score in ``scores`` (PEG)
    change_rule: str = ""  # in words, for legends and the summary
    mcid: int | None = None  # a change of at least this many points of the total is meaningful, either way
    language: str = "en"  # the language of the wording (stem, items, answers): see in_language

    def score(self, answers, *, difficulty=None, allow_missing=False, sex="unknown", pcl5_cut_point=33):
        """Score a form with what the instrument needs: the patient's sex (AUDIT-C), the clinic's PCL-5 cut-point."""
        if self.key in scoring.ITEMS:
            return scoring.score(self.key, answers, difficulty, allow_missing=allow_missing)
        if difficulty is not None:
            raise scoring.ScoringError("difficulty", f"The {self.name} has no difficulty question.")
        if self.key == "pcl5":
            return self.scorer(answers, pcl5_cut_point)
        if self.key == "auditc":
            return self.scorer(answers, sex)
        return self.scorer(answers)

    def judge(self, baseline: int, current: int) -> dict:
        """How a form compares with the baseline, by the instrument's own rule: ``response`` (and ``remission``
        where one is defined) plus the instrument's named flags."""
        if self.key in (PHQ9_KEY, PHQ8_KEY):  # PHQ-R9, and the PHQ-8 by the same cut-points (SAFE-R4)
            return {"response": scoring.response(baseline, current), "remission": scoring.remission(current)}
        if self.key == "pcl5":
            flags = scales.pcl5_change(baseline, current)
            return {"response": flags["pcl_response"], "remission": None, **flags}
        if self.key == "peg":
            flags = scales.peg_change(baseline, current)
            return {"response": flags["peg_improved_30"], "remission": None, **flags}
        return {"response": None, "remission": None}  # GAD-7 (GAD-R2), PACS and AUDIT-C define none


PHQ9_KEY, PHQ8_KEY = scoring.PHQ9, scoring.PHQ8


def _phq_items(form, answers=PHQ_ANSWERS) -> tuple[Item, ...]:
    options = tuple(Answer(points, label, code) for points, label, code in answers)
    return tuple(Item(wording, code, options) for wording, code in form.items)


PHQ_BANDS = scoring.BANDS[scoring.PHQ9]

PHQ9 = Instrument(
    key="phq9",
    mcid=5,
    name="PHQ-9",
    title="Patient Health Questionnaire (PHQ-9)",
    recall=N_("the last 2 weeks"),
    instruction="",
    stem=PHQ9_FORM.stem,
    items=_phq_items(PHQ9_FORM),
    scorer=scoring.score,
    total_max=27,
    indication=EVERYONE,
    schedule=Schedule(every_days=14, min_gap_days=7),
    attribution="",
    panel_code=PHQ9_FORM.panel_code,
    total_code=PHQ9_FORM.total_code,
    code_system="loinc",
    has_difficulty=True,
    bands=PHQ_BANDS,
    reference_lines=(ReferenceLine(5, "Remission: under 5"), ReferenceLine(10, "Moderate: 10")),
    change_rule="Response: at least 50 % below baseline; remission: under 5; a change of 5 points is meaningful.",
)

PHQ8 = Instrument(
    key="phq8",
    mcid=5,
    name="PHQ-8",
    title="Patient Health Questionnaire (PHQ-8)",
    recall=N_("the last 2 weeks"),
    instruction="",
    stem=PHQ9_FORM.stem,
    items=_phq_items(PHQ9_FORM)[:8],
    scorer=scoring.score,
    total_max=24,
    indication=EVERYONE,
    schedule=Schedule(every_days=14, min_gap_days=7),
    attribution="",
    panel_code="phq8",
    total_code="phq8-total",
    has_difficulty=True,
    bands=scoring.BANDS[scoring.PHQ8],
    reference_lines=(ReferenceLine(5, "Remission: under 5"), ReferenceLine(10, "Moderate: 10")),
    change_rule="The PHQ-9's cut-points (SAFE-R4): response at least 50 % below baseline; remission under 5.",
)

GAD7 = Instrument(
    key="gad7",
    mcid=4,
    name="GAD-7",
    title="Generalized Anxiety Disorder scale (GAD-7)",
    recall=N_("the last 2 weeks"),
    instruction="",
    stem=GAD7_FORM.stem,
    items=_phq_items(GAD7_FORM),
    scorer=scoring.score,
    total_max=21,
    indication=EVERYONE,
    schedule=Schedule(every_days=14, min_gap_days=7),
    attribution="",
    panel_code=GAD7_FORM.panel_code,
    total_code=GAD7_FORM.total_code,
    code_system="loinc",
    bands=scoring.BANDS[scoring.GAD7],
    reference_lines=(ReferenceLine(10, "Moderate: 10"),),
    change_rule="A change of 4 points is meaningful.",
)

_PCL5_ANSWERS = tuple(
    Answer(points, label)
    for points, label in enumerate(("Not at all", "A little bit", "Moderately", "Quite a bit", "Extremely"))
)
_PCL5_ITEMS = (  # SPEC 3.2, verbatim, in form order, with the DSM-5 cluster of each
    ("Repeated, disturbing, and unwanted memories of the stressful experience?", "B"),
    ("Repeated, disturbing dreams of the stressful experience?", "B"),
    (
        "Suddenly feeling or acting as if the stressful experience were actually happening again (as if you were "
        "actually back there reliving it)?",
        "B",
    ),
    ("Feeling very upset when something reminded you of the stressful experience?", "B"),
    (
        "Having strong physical reactions when something reminded you of the stressful experience (for example, "
        "heart pounding, trouble breathing, sweating)?",
        "B",
    ),
    ("Avoiding memories, thoughts, or feelings related to the stressful experience?", "C"),
    (
        "Avoiding external reminders of the stressful experience (for example, people, places, conversations, "
        "activities, objects, or situations)?",
        "C",
    ),
    ("Trouble remembering important parts of the stressful experience?", "D"),
    (
        "Having strong negative beliefs about yourself, other people, or the world (for example, having thoughts "
        "such as: I am bad, there is something seriously wrong with me, no one can be trusted, the world is "
        "completely dangerous)?",
        "D",
    ),
    ("Blaming yourself or someone else for the stressful experience or what happened after it?", "D"),
    ("Having strong negative feelings such as fear, horror, anger, guilt, or shame?", "D"),
    ("Loss of interest in activities that you used to enjoy?", "D"),
    ("Feeling distant or cut off from other people?", "D"),
    (
        "Trouble experiencing positive feelings (for example, being unable to feel happiness or have loving "
        "feelings for people close to you)?",
        "D",
    ),
    ("Irritable behavior, angry outbursts, or acting aggressively?", "E"),
    ("Taking too many risks or doing things that could cause you harm?", "E"),
    ('Being "superalert" or watchful or on guard?', "E"),
    ("Feeling jumpy or easily startled?", "E"),
    ("Having difficulty concentrating?", "E"),
    ("Trouble falling or staying asleep?", "E"),
)

PCL5 = Instrument(
    key="pcl5",
    mcid=10,
    name="PCL-5",
    title="PTSD Checklist for DSM-5 (PCL-5)",
    recall=N_("the past month"),
    # PCL-R4: the standard form's instruction with only "circle one of the numbers to the right" replaced.
    instruction=(
        "Below is a list of problems that people sometimes have in response to a very stressful experience. "
        "Please read each problem carefully and then select one of the options to indicate how much you have "
        "been bothered by that problem in the past month."
    ),
    stem="In the past month, how much were you bothered by:",
    items=tuple(
        Item(wording, f"pcl5-item-{number}", _PCL5_ANSWERS, group=cluster)
        for number, (wording, cluster) in enumerate(_PCL5_ITEMS, start=1)
    ),
    scorer=scales.score_pcl5,
    total_max=80,
    indication="ptsd",
    schedule=Schedule(every_days=28, min_gap_days=21),  # PCL-R10
    attribution=(  # PCL-R2
        "Weathers, F. W., Litz, B. T., Keane, T. M., Palmieri, P. A., Marx, B. P., & Schnurr, P. P. (2013). The PTSD "
        "Checklist for DSM-5 (PCL-5) – Standard [Measurement instrument]. Available from https://www.ptsd.va.gov/ "
        "U.S. Department of Veterans Affairs, National Center for PTSD."
    ),
    panel_code="pcl5",
    total_code="pcl5-total",
    chart_total="total",
    change_rule=(
        "Response: at least 5 points below baseline; clinically meaningful: 10 points; a rise of 5 is worsening. "
        "About 15 points were needed for reliable change in one sample (context only)."
    ),
)

_PEG_ITEMS = (  # SPEC 6.4, verbatim: P, E, G
    (
        "What number best describes your pain on average in the past week?",
        ("No pain", "Pain as bad as you can imagine"),
    ),
    (
        "What number best describes how, during the past week, pain has interfered with your enjoyment of life?",
        ("Does not interfere", "Completely interferes"),
    ),
    (
        "What number best describes how, during the past week, pain has interfered with your general activity?",
        ("Does not interfere", "Completely interferes"),
    ),
)

PEG = Instrument(
    key="peg",
    mcid=3,  # of the sum: 1.0 point of the mean, the MID estimate (SPEC 6.4)
    name="PEG",
    title="PEG: pain, enjoyment of life and general activity",
    recall=N_("the past week"),
    instruction="Choose one number for each question.",
    stem="",
    items=tuple(
        Item(wording, f"peg-{letter}", anchors=anchors)
        for letter, (wording, anchors) in zip("peg", _PEG_ITEMS, strict=True)
    ),
    scorer=scales.score_peg,
    total_max=30,
    indication="chronic_pain",
    schedule=Schedule(every_days=7, min_gap_days=7),  # PEG-R6
    attribution=(  # PEG-R1
        "Krebs EE, Lorenz KA, Bair MJ, Damush TM, Wu J, Sutherland JM, Asch SM, Kroenke K. Development and initial "
        "validation of the PEG, a three-item scale assessing pain intensity and interference. J Gen Intern Med "
        "2009;24(6):733–738."
    ),
    panel_code="peg",
    total_code="peg-score",
    chart_total="score",
    change_rule=(
        "Improved: at least 30 % below baseline; a change of 1.0 point is an estimate of the minimal important "
        "difference."
    ),
)

_PACS_ITEM1 = Item(
    "During the past week how often have you thought about drinking or about how good a drink would make you feel?",
    "pacs-item-1",
    tuple(
        Answer(points, label)
        for points, label in enumerate(
            (
                "Never (0 times during the past week)",
                "Rarely (1 to 2 times during the past week)",
                "Occasionally (3 to 4 times during the past week)",
                "Sometimes (5 to 10 times during the past week or 1 to 2 times per day)",
                "Often (11 to 20 times during the past week or 2 to 3 times per day)",
                "Most of the time (20 to 40 times during the past week or 3 to 6 times per day)",
                "Nearly all the time (more than 40 times during the past week or more than 6 times per day)",
            )
        )
    ),
)

PACS = Instrument(
    key="pacs",
    name="PACS",
    title="Penn Alcohol Craving Scale (PACS)",
    recall=N_("the past week"),
    instruction=(  # PACS-R2: "circle the number" becomes "select the answer"
        "Please read each item carefully and select the answer that best describes your craving during the past week."
    ),
    stem="",
    # PACS-R3: items 2-5 are not shown until their wording is verified; the clinic enters a paper form's answers.
    items=(
        _PACS_ITEM1,
        *(Item(f"Item {number} (from the clinic's copy)", f"pacs-item-{number}") for number in range(2, 6)),
    ),
    scorer=scales.score_pacs,
    total_max=30,
    indication="alcohol",
    schedule=Schedule(every_days=7, min_gap_days=7),  # PACS-R6
    attribution="Penn Alcohol Craving Scale (PACS), Flannery BA, Volpicelli JR, Pettinati HM, 1999",  # PACS-R1
    panel_code="pacs",
    total_code="pacs-total",
    self_report=False,
    reference_lines=tuple(ReferenceLine(value, label) for value, label in scales.PACS_REFERENCE_LINES),
    change_rule="No published change rule: the total is shown against the reference lines at 15 and 21.",
)

_AUDITC_ITEMS = (  # SPEC 4.5, the WHO wording, with the LOINC codes verified in US Core
    (
        "How often do you have a drink containing alcohol?",
        "auditc-item-1",  # 68518-0 is only a candidate (SPEC 12.17)
        ("Never", "Monthly or less", "2 to 4 times a month", "2 to 3 times a week", "4 or more times a week"),
    ),
    (
        "How many drinks containing alcohol do you have on a typical day when you are drinking?",
        "68519-8",
        ("1 or 2", "3 or 4", "5 or 6", "7, 8, or 9", "10 or more"),
    ),
    (
        "How often do you have six or more drinks on one occasion?",
        "68520-6",
        ("Never", "Less than monthly", "Monthly", "Weekly", "Daily or almost daily"),
    ),
)
_AUDITC_ANSWER_CODES = {(1, 0): "LA15694-5", (2, 0): "LA6270-8"}  # the two seen in US Core (SPEC 9.1)

AUDITC = Instrument(
    key="auditc",
    name="AUDIT-C",
    title="AUDIT-C (questions 1–3 of the AUDIT)",
    recall=N_("the past year"),
    instruction="These questions are about your drinking during the past year.",  # AUDC-R2, our own words
    stem="",
    items=tuple(
        Item(
            wording,
            code,
            tuple(
                Answer(points, label, _AUDITC_ANSWER_CODES.get((index, points))) for points, label in enumerate(labels)
            ),
        )
        for index, (wording, code, labels) in enumerate(_AUDITC_ITEMS)
    ),
    scorer=scales.score_auditc,
    total_max=12,
    indication="alcohol",
    schedule=Schedule(every_days=365, min_gap_days=365),  # AUDC-R7: at baseline; may repeat after 12 months
    attribution="AUDIT-C (questions 1–3 of the AUDIT), © World Health Organization; Bush et al. 1998",  # AUDC-R1
    panel_code="72109-2",
    total_code="75626-2",
    code_system="loinc",
    reference_lines=(
        ReferenceLine(3, "Positive screen: 3 (women, or sex not recorded)"),
        ReferenceLine(4, "Positive screen: 4 (men)"),
    ),
    change_rule="A screen at baseline: positive at 4 for men, 3 for women (and when sex is not recorded).",
)

ALL = {instrument.key: instrument for instrument in (PHQ9, PHQ8, GAD7, PCL5, PEG, PACS, AUDITC)}
KEYS = tuple(ALL)


def get(key: str) -> Instrument | None:
    return ALL.get(key)


def depression_instrument(clinic) -> Instrument:
    """SAFE-R4: the PHQ-8 in place of the PHQ-9 for a clinic that chose it."""
    return PHQ8 if clinic.depression_instrument == PHQ8.key else PHQ9


def for_patient(patient) -> list[Instrument]:
    """The questionnaires a patient's indications call for, in the order the pages show them."""
    chosen = [depression_instrument(patient.user.clinic), GAD7]
    indications = set(patient.indications or ())
    chosen += [instrument for instrument in (PCL5, PEG, AUDITC, PACS) if instrument.indication in indications]
    return chosen


def offered_to(clinic) -> list[Instrument]:
    """The questionnaires this clinic can record: the PHQ-9 or the PHQ-8, never both (SAFE-R4)."""
    excluded = PHQ9.key if clinic.depression_instrument == PHQ8.key else PHQ8.key
    return [instrument for instrument in ALL.values() if instrument.key != excluded]


# The published Spanish versions. A validated questionnaire is never translated by us: a patient reading Spanish
# sees one of these, word for word as its developers published it, or else the English instrument with a sentence
# saying why (templates/patient/assessment.html). Only the words differ: the item codes, the points, the order and
# the scoring are the English definition's, so an answer is stored the same whichever language it was given in.
#
# PHQ-9, "Spanish for the USA" (Pfizer / Drs. Spitzer, Williams, Kroenke and colleagues, phqscreeners.com: "No se
# requiere permiso para reproducir, traducir, presentar o distribuir"). Verified word for word, 2 December 2026,
# against two independent copies of that form:
#   - github.com/vasudigumarthi/truvex-content, phq9/source.json at 24082420623ede81a0469d4432ca933d723eb109
#     (transcribed from "Cuestionario sobre la Salud del Paciente-9 (PHQ-9), Spanish for the USA", phqscreeners.com,
#     sha256:4b55ea00…), every string below;
#   - the form's own text layer, "PatientHealthQuestionnaire9_Spanish", at
#     https://es.studenta.com/content/129686767/patient-health-questionnaire-9-spanish (ending with the Pfizer
#     credit line in Spanish), every string below, the en dashes of items 6 and 8 included;
#   and github.com/anthonyvelezpr-debug/growing-souls-web, src/data/evaluaciones.ts at
#   1b242b4bbd870b723901e6253ff5c49aa3047dea ("Spanish for the USA"), the same instruction and answers, its items
#   re-punctuated (a final period, a comma for the dash of item 6, "O lo contrario:" in item 8): the form's own
#   punctuation is kept here. Its credit line: "Elaborado por los doctores Robert L. Spitzer, Janet B.W. Williams,
#   Kurt Kroenke y colegas, mediante una subvención educativa otorgada por Pfizer Inc."
# GAD-7, "Spanish for the USA" from the same source (the same instruction and answers as the PHQ-9's, above).
# Checked word for word, 2 December 2026, against:
#   - github.com/anthonyvelezpr-debug/growing-souls-web, src/data/evaluaciones.ts at
#     1b242b4bbd870b723901e6253ff5c49aa3047dea ("Versión oficial en español (Spanish for the USA)", citing
#     phqscreeners.com), its items with a final period added;
#   - and identically, in projects independent of it and of each other found in the public code index (which gives
#     no repository names): a Kotlin screen quoting 'versión "Spanish for the USA" de phqscreeners.com', a
#     TypeScript one quoting "versión oficial en español de Pfizer", a PHP one and a test of "U.S. Spanish items".
#   Other Spanish GAD-7s exist (e.g. "Ha sentido miedo, como si algo terrible pudiera pasar", "Para nada"): they
#   are other translations, and not used. The form's title is not recorded, so the short name stands as the title.
# Not here, so shown in English: the PHQ-8, PCL-5, PEG, PACS and AUDIT-C (no verified Spanish version found).
_PHQ9_SPANISH_STEM = (
    "Durante las últimas 2 semanas, ¿qué tan seguido ha tenido molestias debido a los siguientes problemas?"
)
_PHQ9_SPANISH_ITEMS = (
    "Poco interés o placer en hacer cosas",
    "Se ha sentido decaído(a), deprimido(a) o sin esperanzas",
    "Ha tenido dificultad para quedarse o permanecer dormido(a), o ha dormido demasiado",
    "Se ha sentido cansado(a) o con poca energía",
    "Sin apetito o ha comido en exceso",
    "Se ha sentido mal con usted mismo(a) – o que es un fracaso o que ha quedado mal con usted mismo(a) o con su "
    "familia",
    "Ha tenido dificultad para concentrarse en ciertas actividades, tales como leer el periódico o ver la televisión",
    "¿Se ha movido o hablado tan lento que otras personas podrían haberlo notado? o lo contrario – muy inquieto(a) o "
    "agitado(a) que ha estado moviéndose mucho más de lo normal",
    "Pensamientos de que estaría mejor muerto(a) o de lastimarse de alguna manera",
)
_PHQ_SPANISH_ANSWERS = ("Ningún día", "Varios días", "Más de la mitad de los días", "Casi todos los días")
_GAD7_SPANISH_ITEMS = (
    "Se ha sentido nervioso(a), ansioso(a) o con los nervios de punta",
    "No ha sido capaz de parar o controlar su preocupación",
    "Se ha preocupado demasiado por motivos diferentes",
    "Ha tenido dificultad para relajarse",
    "Se ha sentido tan inquieto(a) que no ha podido quedarse quieto(a)",
    "Se ha molestado o irritado fácilmente",
    "Ha tenido miedo de que algo terrible fuera a pasar",
)
_SPANISH_DIFFICULTY_QUESTION = (
    "Si marcó cualquiera de los problemas, ¿qué tanta dificultad le han dado estos problemas para hacer su trabajo, "
    "encargarse de las tareas del hogar, o llevarse bien con otras personas?"
)
_SPANISH_DIFFICULTY_LABELS = ("No ha sido difícil", "Un poco difícil", "Muy difícil", "Extremadamente difícil")


def _worded(definition: Instrument, language: str, title: str, stem: str, items, answers) -> Instrument:
    """The definition with another language's words, everything else (codes, points, order, scoring) its own."""
    return replace(
        definition,
        language=language,
        title=title,
        stem=stem,
        items=tuple(
            replace(
                item,
                wording=wording,
                answers=tuple(replace(a, label=label) for a, label in zip(item.answers, answers, strict=True)),
            )
            for item, wording in zip(definition.items, items, strict=True)
        ),
    )


SPANISH = {
    PHQ9.key: _worded(
        PHQ9,
        "es",
        "Cuestionario sobre la Salud del Paciente-9 (PHQ-9)",
        _PHQ9_SPANISH_STEM,
        _PHQ9_SPANISH_ITEMS,
        _PHQ_SPANISH_ANSWERS,
    ),
    GAD7.key: _worded(GAD7, "es", "GAD-7", _PHQ9_SPANISH_STEM, _GAD7_SPANISH_ITEMS, _PHQ_SPANISH_ANSWERS),
}
# The difficulty question of the PHQ forms, by language: (question, {key: (label, LOINC answer)}).
DIFFICULTY = {
    "en": (DIFFICULTY_QUESTION, DIFFICULTY_ANSWERS),
    "es": (
        _SPANISH_DIFFICULTY_QUESTION,
        {
            key: (label, code)
            for (key, (_english, code)), label in zip(
                DIFFICULTY_ANSWERS.items(), _SPANISH_DIFFICULTY_LABELS, strict=True
            )
        },
    ),
}


def in_language(definition: Instrument, language: str) -> Instrument | None:
    """The questionnaire in a language: its published version in it, or None when there is none verified (then the
    patient sees the English, told why)."""
    if language == definition.language:
        return definition
    if language == "es":
        return SPANISH.get(definition.key)
    return None
