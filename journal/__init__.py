"""The outcome journal for ketamine-assisted therapy."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_compress import Compress

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Build the web application. ``config`` overrides the environment (used by tests)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )

    from . import cli, db, device, errors, i18n, logs, security, views
    from .api import init_app as init_api
    from .config import load_config

    load_config(app, config)
    from .links import IdConverter

    app.url_map.converters["id"] = IdConverter
    db.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    device.init_app(app)
    views.init_app(app)
    init_api(app)
    # Stylesheets and scripts go compressed (about a third of their size on a phone's connection). Pages and
    # JSON are not: a compressed response that holds a secret (a CSRF token) beside text an attacker can
    # influence leaks the secret through its length (the BREACH attack), and static files hold no secret.
    Compress(app)
    app.after_request(_close_streamed_files)  # runs before Flask-Compress's hook (after_request runs last-first)
    errors.init_app(app)
    logs.init_app(app)
    cli.init_app(app)
    return app


def _close_streamed_files(response):
    """Flask-Compress (1.25) replaces a streamed body, such as a static file, with a compressing generator and
    drops the original, so the file is never closed. Keep a hand on it and close it with the response."""
    original = response.response
    if response.is_streamed and hasattr(original, "close"):
        response.call_on_close(original.close)
    return response
