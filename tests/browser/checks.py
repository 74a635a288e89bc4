"""What browser tests check on a page: accessibility (axe-core) and how it looks
(a screenshot, for review; with ``GATEHOUSE_SCREENSHOTS=docs/screenshots`` the run
refreshes the guides' pictures, otherwise they go to a temporary folder and a test run
leaves the checkout as it was)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AXE_SCRIPT = ROOT / "tests" / "node" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / (
    os.environ.get("GATEHOUSE_SCREENSHOTS") or Path(tempfile.gettempdir(), "gatehouse-screenshots")
)
#: Violations of these impacts fail a test; minor and moderate ones are left to review.
FAILING_IMPACTS = ("serious", "critical")


def axe(page) -> list[dict]:
    """Runs axe-core on the page; fails listing each serious or critical violation.
    Returns the violations of lesser impact."""
    if not AXE_SCRIPT.exists():
        raise AssertionError(f"{AXE_SCRIPT} is missing: run `make test` (it runs npm ci)")
    if not page.evaluate("() => Boolean(window.axe)"):
        page.add_script_tag(content=AXE_SCRIPT.read_text())
    results = page.evaluate("async () => await window.axe.run(document)")
    failing = [v for v in results["violations"] if v["impact"] in FAILING_IMPACTS]
    assert not failing, f"axe found on {page.url}:\n" + "\n".join(map(describe, failing))
    return [v for v in results["violations"] if v["impact"] not in FAILING_IMPACTS]


def describe(violation: dict) -> str:
    targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
    return f"- {violation['impact']}: {violation['id']} ({violation['help']}) at {targets}"


def screenshot(page, name: str) -> Path:
    """Writes the page as ``<SCREENSHOTS>/<name>.png`` (the viewport, 1280x800)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def sign_in(page, email: str, password: str) -> None:
    """Signs in through the portal's own form, as a person would."""
    page.goto("/portal/sign-in")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/portal/")
