"""The HTML report in a real headless Chromium: what a person sees, and that nothing is fetched."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ingresscheck.reports import write_html
from ingresscheck.results import Status, Step

from .test_reports import HOSTS, make_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no browser: {CHROMIUM} is not installed")

sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Locator, Route
    from playwright.sync_api import Page as BrowserPage


@dataclass
class Page:
    page: BrowserPage
    url: str
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def report_page(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    path = write_html(make_report(sections={"reload": {"p50_ms": 180.5, "p99_ms": 912.0}}),
                      tmp_path / "report.html")
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    seen = Page(page=page, url=path.as_uri())
    page.on("request", lambda request: seen.requests.append(request.url))
    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):  # e.g. a Content-Security-Policy violation
            seen.problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: seen.problems.append(str(exc)))

    def only_files(route: Route) -> None:
        # belt and braces: a request that would leave the file is recorded above and never sent
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_files)
    page.goto(seen.url)
    page.wait_for_load_state("load")
    yield seen
    context.close()
    assert not seen.problems, f"console errors on the page: {seen.problems}"


def _host(page: BrowserPage, host: str) -> Locator:
    return page.locator(f'section[data-host="{host}"]')


def test_page_fetches_nothing_beyond_its_file(report_page: Page) -> None:
    """Given the report opened from disk, when used, then every request stays on file://."""
    page = report_page.page
    for summary in page.locator("details summary").all():
        summary.click()
    for status in Status:
        page.click(f'button[data-filter="{status.value}"]')
    page.click("button[data-filter-reset]")

    assert report_page.requests, "the page load itself was not recorded"
    assert report_page.requests[0] == report_page.url
    assert [u for u in report_page.requests if not u.startswith("file://")] == []


def test_summary_numbers_are_shown(report_page: Page) -> None:
    """Given the report, when opened, then the summary shows each status count."""
    page = report_page.page
    expected = {"pass": "10", "fail": "3", "warn": "2", "skip": "1", "error": "1", "total": "17"}

    for key, number in expected.items():
        card = page.locator(f'[data-summary="{key}"]')
        assert card.is_visible()
        assert card.locator(".n").inner_text() == number
    assert page.locator('[data-meta="context"]').inner_text() == "ingress-lab"
    assert page.locator('[data-meta="started"]').inner_text() == "2025-11-26 10:30:00 UTC"


def test_each_host_shows_the_five_steps(report_page: Page) -> None:
    """Given three hosts, when opened, then each block shows DNS to Backend in order."""
    page = report_page.page
    titles = [s.label for s in Step]

    assert page.locator("section.host").evaluate_all("els => els.map(e => e.dataset.host)") == HOSTS
    for host in HOSTS:
        steps = _host(page, host).locator(".chain .step-title")
        assert steps.all_inner_texts() == titles
        assert all(step.is_visible() for step in steps.all())


def test_failing_step_looks_different_from_passing(report_page: Page) -> None:
    """Given shop's TLS fails and api's passes, then their boxes are coloured differently."""
    page = report_page.page

    def colours(host: str, step: Step) -> tuple[str, str]:
        box = _host(page, host).locator(f'li[data-step="{step.value}"]')
        fill = box.evaluate("el => getComputedStyle(el).backgroundColor")
        edge = box.evaluate("el => getComputedStyle(el).borderLeftColor")
        return fill, edge

    failing, passing = colours("shop.example.test", Step.TLS), colours("api.example.test", Step.TLS)
    unchecked = colours("docs.example.test", Step.INGRESS)
    assert failing[0] != passing[0] and failing[1] != passing[1]
    assert unchecked[0] not in (failing[0], passing[0])
    state = _host(page, "shop.example.test").locator('li[data-step="tls"] .step-state')
    assert state.inner_text().lower() == "fail"
    assert "not checked" in _host(page, "docs.example.test").locator('li[data-step="ingress"]').inner_text()


def test_hiding_pass_hides_passing_rows(report_page: Page) -> None:
    """Given every row shown, when "pass" is toggled off, then only non-passing rows remain."""
    page = report_page.page
    passing = page.locator('tr[data-status="pass"]')
    others = page.locator('tr[data-status]:not([data-status="pass"])')
    assert passing.count() == 10 and all(row.is_visible() for row in passing.all())

    page.click('button[data-filter="pass"]')

    assert not any(row.is_visible() for row in passing.all())
    assert others.count() == 7 and all(row.is_visible() for row in others.all())
    assert not _host(page, "docs.example.test").is_visible()  # nothing left to show there
    assert _host(page, "api.example.test").is_visible()
    assert page.locator('button[data-filter="pass"]').get_attribute("aria-pressed") == "false"
    assert page.locator("#filter-note").inner_text() == "7 of 17 results shown"

    page.click('button[data-filter="pass"]')
    assert all(row.is_visible() for row in passing.all()) and _host(page, "docs.example.test").is_visible()


def test_opening_details_shows_the_evidence(report_page: Page) -> None:
    """Given a failing TLS row, when its evidence is opened, then the redacted JSON shows."""
    page = report_page.page
    row = _host(page, "shop.example.test").locator('tr[data-check="tls.hostname"]')
    evidence = row.locator("details pre")
    assert not evidence.is_visible()

    row.locator("details summary").click()

    assert evidence.is_visible()
    text = evidence.inner_text()
    assert '"*.example.org"' in text and '"storefront-tls"' in text
    assert '"data": "[redacted]"' in text and "SEKRIT" not in text
