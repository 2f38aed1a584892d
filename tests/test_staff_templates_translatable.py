"""Every word on a staff page is marked for translation, so that a later change cannot leave one unmarked.

Staff pages are shown in English (journal/i18n.py), but their strings are in the catalogue so that the pages can
be translated one day. This reads each staff template's source: a text node with letters, or an alt / aria-label /
title / placeholder value with letters, that is not inside a ``{{ ... }}`` or ``{% ... %}`` expression is a string
nobody marked. Data (``{{ patient.name }}``) and marked strings (``{{ _("Save") }}``) are expressions, so they pass.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from journal import ROOT
from tests.test_translations import STAFF_ONLY

TEMPLATES = ROOT / "templates"
STAFF_TEMPLATES = sorted({path for pattern in STAFF_ONLY for path in ROOT.glob(pattern)})

COMMENT = re.compile(r"\{#.*?#\}", re.S)
EXPRESSION = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
LETTER = re.compile(r"[^\W\d_]")
# Attributes a macro writes into the tag it is called in (aria-invalid="true"): markup, not words.
ATTRIBUTE_MARKUP = re.compile(r'[\w-]+="[^"]*"')
ATTRIBUTES = ("alt", "aria-label", "title", "placeholder")
# Names that are the same in every language: the questionnaires' own names (a table header on the dashboard).
NOT_WORDS = {"PHQ-9", "GAD-7"}


class _UnmarkedText(HTMLParser):
    """Collects the words of a template whose expressions were replaced by a placeholder."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        self.in_script = tag in ("script", "style")
        for name, value in attrs:
            if name in ATTRIBUTES and value:
                self._check(f"{name}={value}", value)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.in_script = False

    def handle_endtag(self, tag):
        self.in_script = False

    def handle_data(self, data):
        if not self.in_script:
            self._check(" ".join(data.replace("\x00", "{{ }}").split()), data)

    def _check(self, label, text):
        # Each piece between expressions on its own: "for {{ name }}" leaves "for" unmarked.
        for piece in ATTRIBUTE_MARKUP.sub("", text).split("\x00"):
            piece = piece.strip()
            if LETTER.search(piece) and piece not in NOT_WORDS:
                self.found.append(label)
                return


def unmarked_text(source: str) -> list[str]:
    """The visible text of a template's source that is not inside an expression (so not marked, not data)."""
    source = COMMENT.sub("", source)
    # Which block a text belongs to does not matter, except the body's class names, which are not words.
    source = re.sub(r"\{%-?\s*block body_class\s*-?%\}.*?\{%-?\s*endblock", "{% endblock", source, flags=re.S)
    source = re.sub(r"(<[\w-]+)(?=\{[{%])", r"\1 ", source)  # <tr{% if %}: keep the tag a tag
    parser = _UnmarkedText()
    parser.feed(EXPRESSION.sub("\x00", source))
    parser.close()
    return parser.found


def test_the_staff_template_list_finds_the_staff_pages():
    names = {path.relative_to(TEMPLATES).as_posix() for path in STAFF_TEMPLATES}
    assert {"clinician/dashboard.html", "admin/clinic.html", "mfa/settings.html", "people/edit.html"} <= names
    assert "_overview.html" in names
    assert not any(name.startswith("patient/") or name == "base.html" for name in names)


@pytest.mark.parametrize("path", STAFF_TEMPLATES, ids=lambda path: path.relative_to(TEMPLATES).as_posix())
def test_staff_template_has_no_unmarked_text(path):
    assert unmarked_text(path.read_text(encoding="utf-8")) == [], "mark these with {{ _(...) }}"


def test_the_check_finds_unmarked_text_and_passes_marked_text_and_data():
    assert unmarked_text("<h1>Patients</h1>") == ["Patients"]
    assert unmarked_text('<button aria-label="Close">×</button>') == ["aria-label=Close"]
    assert unmarked_text("<td>Last seen {{ when }}</td>") == ["Last seen {{ }}"]
    assert unmarked_text('<input placeholder="{{ _("Search") }}">{# a note for developers #}') == []
    assert unmarked_text("<p>{{ _('Last seen %(when)s', when=when) }}</p><p>{{ patient.name }}: 12</p>") == []
    assert unmarked_text("{% block body_class %}wide{% endblock %}<td>PHQ-9</td>") == []
    assert unmarked_text('<tr{% if missing %} class="missing"{% endif %}><td>{{ day }}</td></tr>') == []
    assert unmarked_text('{% macro invalid() %} aria-invalid="true"{% endmacro %}') == []


def test_a_value_inside_a_marked_sentence_is_still_escaped(client, auth, people):
    auth.login(people.alice)
    page = client.get("/clinician/dashboard?q=<b>robin</b>").get_data(as_text=True)
    assert "No patient on your care teams matches “&lt;b&gt;robin&lt;/b&gt;”." in page
    assert "<b>robin" not in page
