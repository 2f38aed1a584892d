"""A Spanish-speaking patient's account pages in Chromium on a phone (390 x 844): the forgotten-password page before
sign-in (by Accept-Language), the contact details with a phone-number error, the password change with an error,
"Your data", and the offline page (stored once for everyone, so in both languages, each marked with its lang). Each
is in Spanish with <html lang="es">, and axe-core finds nothing on any of them."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from journal.db import db
from tests.browser.conftest import PHONE
from tests.conftest import PASSWORD, make_patient

pytestmark = pytest.mark.browser


def test_account_pages_and_their_errors_are_in_spanish_and_accessible(live_server, new_context, network, axe):
    with live_server.app.app_context():
        # On Bob's care team, so that nothing here shows in Alice's lists for other tests.
        patient = make_patient(live_server.user("bob@clinic.test"), "lucia", "Lucía Lara")
        patient.patient.language = "es"
        db.session.commit()
    context = new_context(**PHONE, locale="es-US", extra_http_headers={"Accept-Language": "es"})
    page = context.new_page()

    page.goto("/password-reset")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name="¿Olvidó su contraseña?", level=1)).to_be_visible()
    page.get_by_label("Correo electrónico").fill("not an address")
    page.get_by_role("button", name="Enviar el enlace").click()
    expect(page.locator("#email-error")).to_have_text("No es un correo electrónico válido.")
    axe(page)

    page.goto("/offline")
    expect(page.get_by_role("heading", name="Sin conexión", level=1)).to_be_visible()
    expect(page.locator('div[lang="en"]').get_by_role("heading", name="No connection", level=2)).to_be_visible()
    axe(page)

    page.goto("/login")
    page.get_by_label("Correo electrónico").fill("lucia@patient.test")
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Iniciar sesión").click()
    expect(page.get_by_role("heading", name="Hola, Lucía", level=1)).to_be_visible()

    page.goto("/settings/contact")
    expect(page.get_by_role("heading", name="Datos de contacto y zona horaria", level=1)).to_be_visible()
    page.get_by_label("Su número de teléfono").fill("llámeme")
    page.get_by_role("button", name="Guardar").click()
    expect(page.get_by_role("heading", name="Hay un problema")).to_be_visible()
    expect(page.locator("#phone-error")).to_have_text(
        "Use solo dígitos, con espacios, paréntesis o guiones si quiere (las letras no se leen)."
    )
    expect(page.locator("html")).to_have_attribute("lang", "es")
    axe(page)

    page.goto("/settings/password")
    page.get_by_label("Contraseña actual").fill(PASSWORD)
    page.get_by_label("Contraseña nueva (al menos 10 caracteres)").fill("corta")
    page.get_by_label("La misma contraseña nueva otra vez").fill("corta")
    page.get_by_role("button", name="Cambiar la contraseña").click()
    expect(page.locator("#new_password-error")).to_contain_text("Use una contraseña de al menos 10 caracteres.")
    axe(page)

    page.goto("/settings/data")
    expect(page.get_by_role("heading", name="Sus datos", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Descargar CSV")).to_be_visible()
    axe(page)
    network.assert_only_own_origin()
    network.assert_no_csp_violations()
