"""Debian's Chromium, headless, driven by Playwright (its own browser download is never used: the
closed network of CI has only package registries, and `make dev` installs Debian's chromium).

The flags keep Chromium off the network on its own account (no component updates, sync, field
trials or safe-browsing lookups), so that a request the page makes is the only kind there is."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
)


def launch(playwright):
    """A headless Debian Chromium (Playwright gives it a new empty profile)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(FLAGS))
