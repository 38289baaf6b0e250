"""The Fortnox sandbox as a real HTTP server for bench/tokens_at_scale.py, served by gunicorn:

    python -m gunicorn bench.tokens_sandbox:application --bind 127.0.0.1:<port>

It is the product's own WSGI application (both sandboxes, their real views and their database)
with a tally around the Fortnox token endpoint. Every refresh it answers is written as one line
"<outcome> <Fortnox tenant id> <pid>" to TOKENS_LOG (appended with O_APPEND, so the lines of
several server processes never mix): `ok`, `invalid` (Fortnox's 400 "Invalid refresh token"),
`lost` or `other-<status>`.

TOKENS_LOSE ("1000001,1000007"): Fortnox tenant ids whose first successful refresh answer is
lost: the sandbox has rotated the refresh token and committed it, then the connection is closed
without a byte of the answer, as a proxy or a network cut would (TOKENS_LOST_HOW=close), or
nothing at all is said for TOKENS_SILENCE seconds, longer than our read timeout, before it is
closed (TOKENS_LOST_HOW=silent). A marker file per tenant in TOKENS_MARKS makes "first" hold across
the server's processes."""

import os
import socket
import time
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

from django.core.wsgi import get_wsgi_application

django_application = get_wsgi_application()

TOKEN_PATH = "/sandbox/fortnox/oauth-v1/token"
INVALID = b"Invalid refresh token"
LOG = os.environ.get("TOKENS_LOG", "")
MARKS = os.environ.get("TOKENS_MARKS", "")
LOSE = {int(n) for n in os.environ.get("TOKENS_LOSE", "").split(",") if n.strip()}
LOST_HOW = os.environ.get("TOKENS_LOST_HOW", "close")
SILENCE = float(os.environ.get("TOKENS_SILENCE", "35"))


def _write(line: str) -> None:
    if not LOG:
        return
    descriptor = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, line.encode())
    finally:
        os.close(descriptor)


def _tenant_of(refresh_token: str) -> int:
    """The Fortnox tenant the refresh token was issued to (also after it was rotated); 0 when
    the sandbox never issued it."""
    from fortnox.sandbox.models import SandboxRefreshToken, token_hash

    found = (
        SandboxRefreshToken.objects.filter(token_hash=token_hash(refresh_token))
        .values_list("user__company__tenant_id", flat=True)
        .first()
    )
    return found or 0


def _first_loss(tenant_id: int) -> bool:
    if tenant_id not in LOSE or not MARKS:
        return False
    try:
        descriptor = os.open(Path(MARKS, f"lost-{tenant_id}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(descriptor)
    return True


def application(environ, start_response):
    if environ.get("PATH_INFO") != TOKEN_PATH or environ.get("REQUEST_METHOD") != "POST":
        return django_application(environ, start_response)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = BytesIO(body)
    form = parse_qs(body.decode("utf-8", "replace"))
    if form.get("grant_type") != ["refresh_token"]:
        return django_application(environ, start_response)
    tenant_id = _tenant_of((form.get("refresh_token") or [""])[0])

    answered = {}

    def keep(status, headers, exc_info=None):
        answered["status"] = status
        answered["headers"] = headers
        return lambda data: None

    result = django_application(environ, keep)
    try:
        content = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    status = int(answered["status"].split()[0])
    if status == 200 and _first_loss(tenant_id):
        # The rotation is committed (the view has returned); the answer never arrives.
        _write(f"lost {tenant_id} {os.getpid()}\n")
        if LOST_HOW == "silent":
            time.sleep(SILENCE)
        connection = environ.get("gunicorn.socket")
        if connection is not None:
            connection.shutdown(socket.SHUT_RDWR)
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]
    if status == 200:
        outcome = "ok"
    elif status == 400 and INVALID in content:
        outcome = "invalid"
    else:
        outcome = f"other-{status}"
    _write(f"{outcome} {tenant_id} {os.getpid()}\n")
    start_response(answered["status"], answered["headers"])
    return [content]
