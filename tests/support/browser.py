"""Pages opened as a reader opens them: Debian's Chromium, headless, driven by Playwright, offline.

Every request that is not a `file://` URL is refused and recorded (the agency's network is offline: a
page must not need one), and so is every script error, console error and dialog.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@dataclass
class Opened:
    page: Any                                  # playwright's Page
    errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)


@contextmanager
def opened(path: Path, *, width: int = 1200, height: int = 900) -> Iterator[Opened]:
    """`path` loaded in headless Chromium (load event and network idle waited for)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "no chromium: `apt-get install chromium` (.ci/run installs it)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            seen = Opened(page)
            page.on("pageerror", lambda e: seen.errors.append(f"page error: {e}"))
            page.on("console", lambda m: seen.errors.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "assert") else None)
            # a dialog is a script the page should not run (alert() in a delivered value, say)
            page.on("dialog", lambda d: (seen.errors.append(f"dialog: {d.message}"), d.dismiss()))

            def refuse(route: Any) -> None:
                seen.external.append(route.request.url)
                route.abort()

            page.route(lambda url: not url.startswith("file://"), refuse)
            page.goto(path.resolve().as_uri(), wait_until="load")
            page.wait_for_load_state("networkidle")
            yield seen
        finally:
            browser.close()
