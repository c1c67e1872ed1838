"""The tenant's evidence page in a real browser: headless Chromium (Debian's `chromium`, which .ci/run
installs) takes a screenshot, which must not be blank, and prints the page to PDF, whose text (pdftotext,
from Debian's `poppler-utils`) must name the tenant and hold one page per section at least.

Printing to PDF and extracting its text checks what the browser laid out and would print, not merely
what the markup says: text hidden, clipped or pushed off the page would not be there. Without pdftotext
the DOM Chromium built (`--dump-dom`) stands in."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from evidence_world import NOW, statuses, write_world
from PIL import Image, ImageStat

from sncguard.evidence.gather import Snapshot, gather
from sncguard.evidence.report import write_packs
from sncguard.i18n import LANGUAGES
from sncguard.loader import load

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
BROWSER = next((path for name in BROWSERS if (path := shutil.which(name))), None)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no chromium binary on PATH (Debian's `chromium`; .ci/run installs it)")

WIDTH, HEIGHT = 1280, 2000
SECTIONS_EN = ("Access register", "Placement: zones and regions", "SLA eligibility", "Backups and restore drills",
               "Network: flow matrix and exposures", "Findings", "Termination", "Integrity")


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    assert BROWSER is not None
    return subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--no-first-run", f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def page_text(profile: Path, page: Path, pdf: Path) -> tuple[str, int]:
    """The printed page's text and its number of pages (the DOM's text and 0 without pdftotext)."""
    done = chromium(profile, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    assert pdf.exists() and pdf.stat().st_size > 10_000, done.stderr[-2000:]
    if shutil.which("pdftotext") is None:
        dom = chromium(profile, "--dump-dom", page.as_uri())
        return dom.stdout, 0
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=60).stdout
    return text, text.count("\f")


@pytest.fixture(scope="module")
def packs(tmp_path_factory) -> dict[str, Path]:
    world = write_world(tmp_path_factory.mktemp("world"))
    out = {}
    for language in LANGUAGES:
        snapshot = Snapshot(load([str(world)]), {"type": "cluster", "context": "sncguard-demo",
                                                 "server": "https://127.0.0.1:6443"}, statuses=statuses())
        folder = tmp_path_factory.mktemp(f"out-{language}")
        write_packs(gather(snapshot, NOW, language), folder)
        out[language] = folder
    return out


def test_the_tenant_page_renders_to_a_screenshot_that_is_not_blank(packs, tmp_path):
    page = packs["en"] / "acme.html"
    png = tmp_path / "acme.png"
    done = chromium(tmp_path / "profile", f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}", page.as_uri())
    assert png.exists(), done.stderr[-2000:]
    with Image.open(png) as image:
        assert image.size == (WIDTH, HEIGHT)
        gray = image.convert("L")
        stddev = ImageStat.Stat(gray).stddev[0]
        inked = sum(count for value, count in enumerate(gray.histogram()) if value < 200)
        colors = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert stddev > 20, f"a blank page: pixel standard deviation {stddev:.1f}"
    assert inked > WIDTH * HEIGHT // 50, f"only {inked} dark pixels"
    # Text and the charts' colours, not a flat page: many distinct colours (anti-aliased text, bars).
    assert colors is None or len(colors) > 200


def test_the_printed_page_names_the_tenant_and_breaks_between_sections(packs, tmp_path):
    text, pages = page_text(tmp_path / "profile", packs["en"] / "acme.html", tmp_path / "acme.pdf")
    assert "Evidence pack: tenant acme" in text
    assert "TenantPolicy acme (Enforce)" in text and "contractor@example.com" in text
    for title in SECTIONS_EN:
        assert title in text, title
    if pages:
        assert pages >= 1 + len(SECTIONS_EN), f"{pages} pages: sections should each start a page"


def test_the_french_page_prints_in_french(packs, tmp_path):
    text, _ = page_text(tmp_path / "profile", packs["fr"] / "acme.html", tmp_path / "acme-fr.pdf")
    assert "Dossier de preuves : locataire acme" in text
    assert "Registre des accès" in text and "Éligibilité au SLA" in text


def test_the_italian_page_prints_in_italian(packs, tmp_path):
    text, _ = page_text(tmp_path / "profile", packs["it"] / "acme.html", tmp_path / "acme-it.pdf")
    assert "Fascicolo di evidenze: tenant acme" in text
    assert "Registro degli accessi" in text and "Idoneità allo SLA" in text
