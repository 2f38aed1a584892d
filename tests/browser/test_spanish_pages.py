"""A Spanish-speaking patient's pages in Chromium on a phone (390 x 844), the browser asking for Spanish
(Accept-Language: es): sign-in, home, the check-in with an error, the PHQ-9 (its published Spanish version) and the
crisis screen after its item 9 = 1, the GAD-7 (its published Spanish version too) and the reminder settings with an
error are in Spanish with <html lang="es">, the PEG is in English with a Spanish sentence saying why, and axe-core
finds nothing on any of them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from journal.db import db, utcnow
from tests.browser.conftest import PHONE
from tests.browser.test_checkin_flow import afternoon_zone, wait_for_offline_form, wait_for_service_worker
from tests.conftest import PASSWORD, make_patient

pytestmark = pytest.mark.browser

WEEKDAY = "(lunes|martes|miércoles|jueves|viernes|sábado|domingo)"


def test_sign_in_home_check_in_error_and_crisis_screen_are_in_spanish(live_server, new_context, network, axe):
    with live_server.app.app_context():
        # On Bob's care team: the item-9 alert this raises must not change what Alice's inbox shows other tests.
        patient = make_patient(live_server.user("bob@clinic.test"), "rosa", "Rosa Ruiz")
        patient.patient.language = "es"
        patient.patient.indications = ["chronic_pain"]  # so that the PEG, English only, is offered too
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

    # The PHQ-9 in its published Spanish version (Spanish for the USA): no English-only sentence, no English form.
    page.goto("/assessments/phq9")
    expect(page.locator("#english-only")).to_have_count(0)
    expect(page.locator("form.questionnaire")).not_to_have_attribute("lang", "en")
    expect(page.get_by_role("group", name="1. Poco interés o placer en hacer cosas")).to_be_visible()
    axe(page)
    for number in range(1, 10):
        group = page.get_by_role("group", name=re.compile(rf"^{number}\. "))
        label = "Varios días" if number == 9 else "Ningún día"
        group.get_by_text(label, exact=True).click()
    page.get_by_role("button", name="Enviar mis respuestas").click()  # the page's own words are in Spanish

    expect(page).to_have_url(re.compile(r"/assessments/\d+/support$"))
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name="Gracias por decírnoslo", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Llamar al 988")).to_have_attribute("href", "tel:988")
    expect(page.get_by_role("link", name="Enviar un mensaje de texto al 988")).to_have_attribute("href", "sms:988")
    expect(page.get_by_text("llame al 988 y oprima el 2")).to_be_visible()
    axe(page)

    # The GAD-7 in its published Spanish version too.
    page.goto("/assessments/gad7")
    expect(page.get_by_role("group", name=re.compile(r"^1\. Se ha sentido nervioso"))).to_be_visible()
    expect(page.locator("#english-only")).to_have_count(0)
    axe(page)

    # The PEG has no verified Spanish version in the journal: English, with a Spanish sentence saying why.
    page.goto("/assessments/peg")
    expect(page.locator("#english-only")).to_contain_text("versión verificada")
    expect(page.locator("form.questionnaire")).to_have_attribute("lang", "en")
    axe(page)

    # The reminder settings, and an error on them: a reminder time inside the quiet hours.
    page.goto("/settings/reminders")
    expect(page.get_by_role("heading", name="Recordatorios", level=1)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    axe(page)
    page.get_by_label("Recordarme todos los días a las").fill("23:15")
    page.get_by_label("Desde").fill("22:00")
    page.get_by_label("Hasta").fill("07:00")
    page.get_by_role("button", name="Guardar").click()
    expect(page.get_by_role("heading", name="Hay un problema")).to_be_visible()
    expect(page.locator("#time-error")).to_contain_text("La hora 23:15 está dentro de sus horas de silencio")
    axe(page)
    network.assert_only_own_origin()
    network.assert_no_csp_violations()


def test_what_the_phone_itself_says_about_a_check_in_kept_offline_is_in_spanish(live_server, new_context, network):
    """The script's own messages (static/js/journal.js) come with the page in the patient's language: kept on the
    phone while offline, sent once back online, and the warning before signing out with a check-in still waiting."""
    with live_server.app.app_context():
        clinician = live_server.user(live_server.clinician_email)
        sol = make_patient(clinician, "sol", "Sol Soto", zone=afternoon_zone(utcnow()))
        sol.patient.language = "es"
        db.session.commit()
        email = sol.email
    phone = new_context(**PHONE, locale="es-US", extra_http_headers={"Accept-Language": "es"})
    page = phone.new_page()
    page.goto("/login")
    page.get_by_label("Correo electrónico").fill(email)
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Iniciar sesión").click()
    expect(page.get_by_role("heading", name="Hola, Sol", level=1)).to_be_visible()
    wait_for_service_worker(page)
    wait_for_offline_form(page)
    page.get_by_role("link", name="Hacer el registro ahora").click()
    expect(page.get_by_role("heading", name="Registro de hoy", level=1)).to_be_visible()

    phone.set_offline(True)
    for field in ("mood-5", "craving-alcohol-2", "used-alcohol-no"):
        page.locator(f'label[for="{field}"]').click()  # the big buttons: labels of visually hidden radios
        expect(page.locator(f"#{field}")).to_be_checked()
    page.get_by_role("button", name="Guardar el registro").click()
    outbox = page.locator("#outbox")
    expect(outbox).to_contain_text("está guardado en este teléfono y espera a que se envíe.")
    expect(outbox).to_contain_text(re.compile(rf"Su registro del {WEEKDAY}, "))
    assert "check-in" not in outbox.inner_text()

    # Signing out with it still waiting: the warning is in Spanish too (and the patient stays).
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name=re.compile("Cerrar sesión")).click()
    for _ in range(50):  # the question is asked once the script has read the queue
        if questions:
            break
        page.wait_for_timeout(100)
    expect(outbox).to_be_visible()
    assert questions and questions[0].startswith("Un registro guardado en este teléfono todavía no se ha enviado")
    assert re.search(rf"\({WEEKDAY}, \d+ de \w+\)", questions[0])

    phone.set_offline(False)
    expect(outbox).to_contain_text(re.compile(r"Su registro del .+ se envió\."))
    network.assert_only_own_origin()
    network.assert_no_csp_violations()
