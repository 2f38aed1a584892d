"""A Spanish-speaking patient's pages in Chromium on a phone (390 x 844), the browser asking for Spanish
(Accept-Language: es): sign-in, home, the check-in with an error and the crisis screen after PHQ-9 item 9 = 1
are in Spanish with <html lang="es">, and axe-core finds nothing on any of them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from journal.db import db
from tests.browser.conftest import PHONE
from tests.conftest import PASSWORD, make_patient

pytestmark = pytest.mark.browser


def test_sign_in_home_check_in_error_and_crisis_screen_are_in_spanish(live_server, new_context, network, axe):
    with live_server.app.app_context():
        # On Bob's care team: the item-9 alert this raises must not change what Alice's inbox shows other tests.
        patient = make_patient(live_server.user("bob@clinic.test"), "rosa", "Rosa Ruiz")
        patient.patient.language = "es"
        db.session.commit()
    context = new_context(**PHONE, locale="es-US", extra_http_headers={"Accept-Language": "es"})
    page = context.new_page()

    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name="Iniciar sesión", level=1)).to_be_visible()
    axe(page)
    page.get_by_label("Correo electrónico").fill("rosa@patient.test")
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Iniciar sesión").click()

    expect(page.get_by_role("heading", name="Hola, Rosa", level=1)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    axe(page)

    page.get_by_role("link", name="Hacer el registro ahora").click()
    expect(page.get_by_role("heading", name="Registro de hoy", level=1)).to_be_visible()
    page.get_by_role("button", name="Guardar el registro").click()  # nothing answered
    expect(page.get_by_role("heading", name="Hay un problema")).to_be_visible()
    expect(page.locator("#mood-error")).to_have_text("Elija un número del 0 al 10.")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    axe(page)

    # The PHQ-9 is shown in English (no verified Spanish version yet), with a Spanish sentence saying why.
    page.goto("/assessments/phq9")
    expect(page.locator("#english-only")).to_contain_text("versión verificada")
    for number in range(1, 10):
        group = page.get_by_role("group", name=re.compile(rf"^{number}\. "))
        label = "Several days" if number == 9 else "Not at all"
        group.get_by_text(label, exact=True).click()
    axe(page)  # the form is lang="en", its hint and button lang="es"
    page.get_by_role("button", name="Enviar mis respuestas").click()  # the page's own words are in Spanish

    expect(page).to_have_url(re.compile(r"/assessments/\d+/support$"))
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name="Gracias por decírnoslo", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Llamar al 988")).to_have_attribute("href", "tel:988")
    expect(page.get_by_role("link", name="Enviar un mensaje de texto al 988")).to_have_attribute("href", "sms:988")
    expect(page.get_by_text("llame al 988 y oprima el 2")).to_be_visible()
    axe(page)
    network.assert_only_own_origin()
    network.assert_no_csp_violations()
