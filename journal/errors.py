"""Error responses: JSON under /api (the shape flask-smorest documents), friendly pages elsewhere."""

from __future__ import annotations

import json
import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from .db import db
from .logs import safe_traceback
from .security import is_api_request
from .wording import N_

log = logging.getLogger(__name__)


def json_error(
    code: int,
    message: str | None = None,
    errors: dict | None = None,
    headers: dict | None = None,
    extra: dict | None = None,
    reason: str | None = None,
):
    """The API's error body ``{code, status, message, errors}``, plus ``extra`` members where an error carries
    what the client needs next (a stale save's stored entry).

    ``code`` is the HTTP status as a number, except where a client must do something particular: then it is
    ``reason``, a word from ``schemas.ERROR_REASONS`` (``otp_required``: ask for the code, as the Contract
    names it), and ``status`` still names the HTTP status."""
    body = {"code": reason or code, "status": HTTP_STATUS_CODES.get(code, "Error")}
    if message:
        body["message"] = message
    if errors:
        body["errors"] = _with_string_keys(errors)
    body.update(extra or {})
    response = jsonify(body)
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _with_string_keys(value):
    # marshmallow numbers a list's items in its messages ({0: [...], "_schema": [...]}); JSON keys are strings,
    # and jsonify sorts them, which fails on a mix of numbers and strings.
    if isinstance(value, dict):
        return {str(key): _with_string_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_string_keys(item) for item in value]
    return value


# What an error page says, marked for translation: templates/error.html shows it in the person's language (a
# patient's own, or the browser's before sign-in). The API's JSON bodies give the English as written.
PAGE_MESSAGES = {
    400: N_("The request could not be understood."),
    403: N_("You cannot open this page with this account."),
    404: N_("There is nothing here."),
    405: N_("That action is not possible here."),
    413: N_("That was too much data to send at once."),
    429: N_("Too many attempts in a short time. Please wait a minute and try again."),
    500: N_("Something went wrong on our side. Nothing you entered was saved twice; please try again."),
    503: N_("The journal is busy right now. Please try again in a moment."),
}
# Any other status: a page in the person's language rather than werkzeug's English description.
OTHER_ERROR = N_("This did not work. Please go back and try again.")
FORM_EXPIRED = N_("This form had expired. Please go back, reload the page and try again.")


def _handle_http_exception(error: HTTPException):
    headers = dict(error.get_headers())
    headers.pop("Content-Type", None)
    if is_api_request():
        data = getattr(error, "data", None) or {}
        message = data.get("message") or error.description
        errors = data.get("messages") or data.get("errors")
        return json_error(error.code or 500, message, errors, headers, reason=data.get("reason"))
    message = PAGE_MESSAGES.get(error.code or 500, OTHER_ERROR)
    return render_template("error.html", code=error.code, message=message), error.code, headers


def _handle_csrf_error(error: CSRFError):
    if is_api_request():
        return json_error(400, error.description)
    return render_template("error.html", code=400, message=FORM_EXPIRED), 400


def _handle_database_unavailable(error: OperationalError):
    # A locked SQLite file or an unreachable database: a clean 503 the client can retry, never a traceback.
    db.session.rollback()
    log.warning("database unavailable: %s", type(error.orig).__name__)
    if is_api_request():
        return json_error(503, PAGE_MESSAGES[503], headers={"Retry-After": "2"})
    return render_template("error.html", code=503, message=PAGE_MESSAGES[503]), 503, {"Retry-After": "2"}


def _handle_deep_json(error: RecursionError):
    # json.loads gives up on JSON nested deeper than the interpreter's recursion limit with a RecursionError, not
    # the ValueError that webargs and get_json(silent=True) take for a bad body: that body is the client's error.
    # Any other RecursionError is a bug, and stays one.
    if not request.is_json:
        raise error
    try:
        json.loads(request.get_data(cache=True))
    except RecursionError:
        return _handle_http_exception(BadRequest("The JSON body is nested too deeply to read."))
    except ValueError:
        pass
    raise error


def _handle_unexpected(error: Exception):
    db.session.rollback()
    # Not exc_info: a database error's message can quote the values it refused (a check-in's answers).
    log.error("unhandled error on %s %s\n%s", request.method, request.url_rule or "(no route)", safe_traceback(error))
    return _handle_http_exception(InternalServerError())


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _handle_csrf_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(OperationalError, _handle_database_unavailable)
    app.register_error_handler(RecursionError, _handle_deep_json)
    if not app.testing:
        app.register_error_handler(Exception, _handle_unexpected)
