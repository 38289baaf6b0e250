"""What every browser test module shares: where chromium is, how it starts, and the marks."""

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_EXECUTABLE", "/usr/bin/chromium")
# As the machine's probe starts it: headless, as root, and never reaching out to Google's hosts
# (this machine's network refuses them).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# CI (.ci/run) installs chromium and sets this: there a missing browser fails, never skips.
REQUIRED = os.environ.get("BROWSER_TESTS_REQUIRED", "") not in ("", "0")

# `pytestmark = browser_marks` in each module: `-m "not browser"` leaves them out, and without a
# chromium they are skipped with the reason (but not in CI, where they must run).
browser_marks = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not REQUIRED and not Path(CHROMIUM).exists(),
        reason=f"no chromium at {CHROMIUM}: apt-get install chromium chromium-driver "
        "(CI does), or set CHROMIUM_EXECUTABLE",
    ),
]
