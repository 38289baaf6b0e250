"""What can go wrong talking to Fortnox, typed so the engine records each failure as the right kind.

Fortnox answers errors in three shapes (see parse_error_body): the classic
{"ErrorInformation": {"error", "message", "code"}}, the newer APIs' {"message": …} and the auth
server's {"error", "error_description"}."""

from integrations.errors import ObjectValidationError, SyncError
from integrations.text import printable

# Enough of Fortnox's own error text for a failure's message.
MAX_ERROR_MESSAGE_LENGTH = 500

# Invalid login / missing or invalid access token: a fresh token may fix it.
TOKEN_ERROR_CODES = frozenset({2000310, 2000311})
# The company lacks the licence for one scope (e.g. the warehouse module): other processes can go
# on. 2001103 (no API licence at all) is deliberately not here: nothing can work without it.
SCOPE_ERROR_CODES = frozenset({2001101})
NO_API_LICENCE_CODE = 2001103
# Refused for who we are, whatever the HTTP status says.
AUTH_ERROR_CODES = TOKEN_ERROR_CODES | SCOPE_ERROR_CODES | {NO_API_LICENCE_CODE}


class FortnoxError(SyncError):
    failure_kind = "remote"

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self):
        prefix = f"Fortnox {self.status}" if self.status else "Fortnox"
        code = f" [{self.code}]" if self.code else ""
        return f"{prefix}{code}: {self.message}"


class FortnoxUnavailable(FortnoxError):
    """Network error, timeout, 5xx or an unreadable answer (an HTML page, broken JSON, too large):
    transient, try again later."""


class FortnoxTimeout(FortnoxUnavailable):
    """Fortnox did not answer in time (connect or read timeout, or the whole exchange's deadline).
    The run stops: a Fortnox that hangs would otherwise cost the timeout once per object. The next
    run continues where this one stopped."""

    stops_run = True
    slow_system = True


class FortnoxUnexpectedAnswer(FortnoxError):
    """Fortnox answered JSON, but not in the shape the call promises (a missing envelope, a list
    where an object belongs, a listed item without its key). Recorded on the object or listing it
    concerns; the next run asks again."""


class FortnoxAuthError(FortnoxError):
    """Fortnox refused our credentials even with a fresh token: consent is gone or insufficient."""

    failure_kind = "auth"
    stops_run = True

    def __init__(self, message: str, *, status=None, code=None):
        super().__init__(message, status=status, code=code)
        self.stops_run = code not in SCOPE_ERROR_CODES


class FortnoxNotConnected(FortnoxAuthError):
    """The company has no usable connection: never connected, disconnected or needs reactivation.
    No request was sent."""


class FortnoxNeedsReactivation(FortnoxNotConnected):
    """The refresh token no longer works; only a new consent brings the connection back."""


class FortnoxRateLimited(FortnoxError):
    failure_kind = "rate_limit"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class FortnoxKeptRateLimiting(FortnoxRateLimited):
    """This run already waited FORTNOX_RATE_LIMIT_WAIT_SECONDS on 429 answers: it stops rather
    than sleep on in a worker other companies' runs need; the next run continues."""

    stops_run = True
    slow_system = True


class FortnoxNotFound(FortnoxError):
    # Retrying will not make a missing article or order appear; the object has to change first.
    failure_kind = "validation"


class FortnoxValidationError(FortnoxError, ObjectValidationError):
    """Fortnox refused the request as invalid; `code` and `message` are Fortnox's own."""

    failure_kind = "validation"


class OAuthError(FortnoxError):
    """The auth server (oauth-v1/token) refused a grant for a reason other than a dead token,
    e.g. wrong client credentials or a code that was already used."""

    failure_kind = "auth"
    # Without a token no request of the run can succeed.
    stops_run = True

    def __init__(self, message: str, *, error: str = "", status=None):
        super().__init__(message, status=status)
        self.error = error


class OAuthInvalidGrant(OAuthError):
    """The refresh token (or code) is invalid, used or expired: the consent must be given again."""


def parse_error_body(body) -> tuple[str, int | None]:
    """(message, code) from any of Fortnox's three error shapes, or ("", None). The message is
    printable text of at most MAX_ERROR_MESSAGE_LENGTH characters."""
    message, code = _error_fields(body)
    return printable(message, max_length=MAX_ERROR_MESSAGE_LENGTH).strip(), code


def _error_fields(body) -> tuple[str, int | None]:
    if not isinstance(body, dict):
        return "", None
    info = body.get("ErrorInformation") or body.get("errorInformation")
    if isinstance(info, dict):
        message = info.get("message") or info.get("Message") or ""
        code = info.get("code") or info.get("Code")
        try:
            code = int(code) if code is not None else None
        except (TypeError, ValueError):
            code = None
        return str(message), code
    if body.get("error_description") or body.get("error"):
        return str(body.get("error_description") or body.get("error")), None
    if body.get("message"):
        return str(body["message"]), None
    return "", None
