"""The fingerprint of what a process last sent for an object: equal fingerprints mean nothing to
write. Key order and number formatting do not change it; any change of value does."""

import hashlib
import json
from typing import Any


def fingerprint(data: Any) -> str:
    canonical = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# The fingerprint a link carries once its warehouse object has been cancelled: a state, not
# content, so no resync clears it.
CANCELLED = "cancelled"
