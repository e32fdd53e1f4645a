"""Re-make docs/html-report.png, the demo's HTML report as a person sees it:
`.venv/bin/python -m tests.browser.screenshot [PNG]` (runs `cert-audit demo` in a temporary folder)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image  # matplotlib's dependency (requirements.txt): a 256-colour PNG is a third the size
from playwright.sync_api import sync_playwright

from tests.browser.chromium import launch

WIDTH = 1280


def main(target: str = "docs/html-report.png") -> None:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "demo-report.json"
        subprocess.run(
            [sys.executable, "-m", "cert_audit", "demo", "--report-file", str(report)],
            check=True,
            capture_output=True,
            cwd=folder,
        )
        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_page(viewport={"width": WIDTH, "height": 900})
            page.goto(report.with_suffix(".html").as_uri())
            page.screenshot(path=target, full_page=True)
            browser.close()
    shot = Image.open(target).convert("RGB")
    shot.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(target, optimize=True)
    print(f"wrote {target}")


if __name__ == "__main__":
    main(*sys.argv[1:])
