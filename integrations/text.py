"""Text that came from another system, made safe to store and show. PostgreSQL refuses NUL in
text and JSON columns (one NUL in a remote error message made the failure itself impossible to
record), and control characters in a name or a message only garble pages and terminals."""

import re
from typing import Any

# C0 and C1 control characters except tab, line feed and carriage return.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def printable(text: str, *, max_length: int | None = None) -> str:
    """The text without control characters (newlines and tabs stay), cut to max_length."""
    text = CONTROL_CHARACTERS.sub("", text)
    return text[:max_length] if max_length is not None else text


def storable(value: Any) -> Any:
    """A JSON value with every NUL removed from its texts and keys, at any depth; the rest is kept
    as it came, since it is a record of what was exchanged."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value
