"""A stand-in for Twilio's Messages API on 127.0.0.1, for tests: it records every request and answers as told.

``POST /2010-04-01/Accounts/{sid}/Messages.json`` with the form fields To, From (or MessagingServiceSid), Body and
StatusCallback answers 201 with JSON ``{"sid": "SM...", "status": "queued"}``, or with the statuses queued by
``fail_next`` (Twilio's error body ``{"code": ..., "message": ...}``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-test-auth-token"
FROM = "+15005550006"


@dataclass
class Request:
    path: str
    form: dict[str, str]
    authorization: str


@dataclass
class TwilioStandIn:
    base_url: str = ""
    requests: list[Request] = field(default_factory=list)
    failures: list[tuple[int, int]] = field(default_factory=list)  # (HTTP status, Twilio error code)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, *answers: tuple[int, int]) -> None:
        with self.lock:
            self.failures.extend(answers)

    @property
    def texts(self) -> list[dict[str, str]]:
        """The forms of the messages it accepted (not those it refused)."""
        return [request.form for request in self.requests if request.form.get("_accepted")]


def _handler(standin: TwilioStandIn):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            fields = {name: values[0] for name, values in parse_qs(self.rfile.read(length).decode()).items()}
            with standin.lock:
                failure = standin.failures.pop(0) if standin.failures else None
                number = len(standin.requests) + 1
                standin.requests.append(Request(self.path, fields, self.headers.get("Authorization", "")))
            if failure:
                status, code = failure
                body = {"code": code, "message": f"The 'To' number {fields.get('To')} is refused", "status": status}
            else:
                fields["_accepted"] = "yes"
                status, body = 201, {"sid": f"SM{number:032x}", "status": "queued"}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args):
            pass

    return Handler


@contextmanager
def twilio_standin() -> Iterator[TwilioStandIn]:
    standin = TwilioStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(standin))
    standin.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def twilio_signature(token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature as Twilio computes it: base64(HMAC-SHA1(token, url + each name and value, by name))."""
    payload = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()
