"""The outcome journal for ketamine-assisted therapy."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Build the web application. ``config`` overrides the environment (used by tests)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )

    from . import cli, db, errors, security, views
    from .api import init_app as init_api
    from .config import load_config

    load_config(app, config)
    from .links import IdConverter

    app.url_map.converters["id"] = IdConverter
    db.init_app(app)
    security.init_app(app)
    views.init_app(app)
    init_api(app)
    errors.init_app(app)
    cli.init_app(app)
    return app
