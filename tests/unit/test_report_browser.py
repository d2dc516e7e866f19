"""The HTML report in a real headless Chromium: what a person sees, and that nothing is fetched."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ingresscheck.reports import write_html
from ingresscheck.results import Status, Step

from .test_reports import HOSTS, make_report, result

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
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
    path = write_html(make_report(sections={"reload": {"p50_ms": 180.5, "p99_ms": 912.0}}), tmp_path / "report.html")
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


def _row(page: BrowserPage, host: str) -> Locator:
    return page.locator(f'tr.hostrow[data-host="{host}"]')


def _until(page: BrowserPage, expression: str, timeout: float = 10.0) -> None:
    """Poll in the page (wait_for_function would need 'unsafe-eval', which the page's CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.02)


def _drawn(locator: Locator, timeout: float = 10.0) -> str:
    """The text of an element the page fills later (evidence is drawn on the details' toggle event,
    which the browser fires after the click returns)."""
    deadline = time.monotonic() + timeout
    while not (text := locator.inner_text()):
        assert time.monotonic() < deadline, "timed out waiting for the element to be drawn"
        time.sleep(0.02)
    return text


def _open(page: BrowserPage, host: str) -> Locator:
    _row(page, host).click()
    detail = page.locator(f'tr.detail[data-detail-of="{_row(page, host).get_attribute("data-index")}"]')
    detail.locator("table.results").wait_for()
    return detail


def test_page_fetches_nothing_beyond_its_file(report_page: Page) -> None:
    """Given the report opened from disk, when used, then every request stays on file://."""
    page = report_page.page
    for host in HOSTS:
        _open(page, host)
    page.click("button[data-open-cluster]")
    page.locator("#cluster table.results").wait_for()
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
    expected = {"pass": "10", "fail": "3", "warn": "2", "skip": "1", "error": "1", "total": "17", "hosts": "3"}

    for key, number in expected.items():
        card = page.locator(f'[data-summary="{key}"]')
        assert card.is_visible()
        assert card.locator(".n").inner_text() == number
    assert page.locator('[data-meta="context"]').inner_text() == "ingress-lab"
    assert page.locator('[data-meta="started"]').inner_text() == "2025-11-26 10:30:00 UTC"


def test_matrix_shows_failures_first_and_sorts(report_page: Page) -> None:
    """Given three hosts, then the matrix lists the failing one first; sorting by host orders them by name."""
    page = report_page.page
    order = "els => els.map(e => e.dataset.host)"
    assert page.locator("tr.hostrow").evaluate_all(order) == [
        "shop.example.test",
        "api.example.test",
        "docs.example.test",
    ]
    titles = page.locator("table.matrix thead th").all_text_contents()
    assert [t.strip() for t in titles[2:7]] == [s.label for s in Step]

    page.click('th[data-sort="host"] button')
    assert page.locator("tr.hostrow").evaluate_all(order) == HOSTS
    page.click('th[data-sort="worst"] button')
    assert page.locator("tr.hostrow").evaluate_all(order)[0] == "shop.example.test"


def test_failing_step_looks_different_from_passing(report_page: Page) -> None:
    """Given shop's TLS fails and api's passes, then their cells are coloured differently."""
    page = report_page.page

    def colour(host: str, step: Step) -> str:
        cell = _row(page, host).locator(f'td[data-step="{step.value}"]')
        return str(cell.evaluate("el => getComputedStyle(el).backgroundColor"))

    failing, passing = colour("shop.example.test", Step.TLS), colour("api.example.test", Step.TLS)
    unchecked = colour("docs.example.test", Step.INGRESS)
    assert failing != passing and unchecked not in (failing, passing)
    assert _row(page, "shop.example.test").locator('td[data-step="tls"]').inner_text().lower() == "fail"


def test_clicking_fail_shows_only_the_failures(report_page: Page) -> None:
    """Given every host shown, when the "fail" chip is clicked, then only what failed is shown (issue 14:
    the chip used to hide the failures); clicking "warn" too adds the warnings; "Show all" resets."""
    page = report_page.page
    detail = _open(page, "api.example.test")
    assert detail.locator('tr[data-status="pass"]').first.is_visible()

    page.click('button[data-filter="fail"]')

    assert page.locator('button[data-filter="fail"]').get_attribute("aria-pressed") == "true"
    assert _row(page, "shop.example.test").is_visible()
    assert not _row(page, "api.example.test").is_visible() and not _row(page, "docs.example.test").is_visible()
    findings = page.locator("li.finding")
    visible = [f.get_attribute("data-status") for f in findings.all() if f.is_visible()]
    assert visible and set(visible) == {"fail"}
    note = f"1 of 3 hosts, {len(visible)} of {findings.count()} findings shown"
    assert page.locator("#filter-note").inner_text() == note

    page.click('button[data-filter="warn"]')
    assert _row(page, "api.example.test").is_visible()
    assert not detail.locator('tr[data-status="pass"]').first.is_visible()
    assert detail.locator('tr[data-status="warn"]').is_visible()

    page.click("button[data-filter-reset]")
    assert all(_row(page, h).is_visible() for h in HOSTS)
    assert detail.locator('tr[data-status="pass"]').first.is_visible()


def test_search_narrows_hosts_and_findings(report_page: Page) -> None:
    """Given a query naming a check, then only the hosts and findings about it stay."""
    page = report_page.page
    page.fill("#search", "auth.realm")
    _until(page, "document.getElementById('filter-note').textContent !== ''")

    shown = [h for h in HOSTS if _row(page, h).is_visible()]
    assert shown == ["api.example.test", "shop.example.test"]  # the warning and the error
    checks = {f.locator("code.check").inner_text() for f in page.locator("li.finding").all() if f.is_visible()}
    assert checks == {"auth.realm"}


def test_a_finding_links_to_its_host_and_back(report_page: Page) -> None:
    """Given the redirect failure, when its host link is clicked, then that host opens with its results,
    and the row's finding link leads back to the finding."""
    page = report_page.page
    finding = page.locator("li.finding", has=page.locator("code.check", has_text="redirect.https"))
    finding.locator("a.hostlink", has_text="shop.example.test").click()

    detail = page.locator('tr.detail[data-detail-of="0"]')
    detail.locator("table.results").wait_for()
    assert _row(page, "shop.example.test").get_attribute("aria-expanded") == "true"
    row = detail.locator('tr[data-check="redirect.https"]')
    assert row.locator(".badge").inner_text().lower() == "fail"
    assert row.locator("a.findinglink").get_attribute("href") == f"#{finding.get_attribute('id')}"


def test_opening_details_shows_the_evidence(report_page: Page) -> None:
    """Given a failing TLS row, when its evidence is opened, then the redacted JSON shows."""
    page = report_page.page
    row = _open(page, "shop.example.test").locator('tr[data-check="tls.hostname"]')
    evidence = row.locator("details pre")
    assert not evidence.is_visible()

    row.locator("details summary").click()

    assert evidence.is_visible()
    text = _drawn(evidence)
    assert '"*.example.org"' in text and '"storefront-tls"' in text
    assert '"data": "[redacted]"' in text and "SEKRIT" not in text


def test_markup_in_results_stays_text(browser: Browser, tmp_path: Path) -> None:
    """Given markup in a message and evidence, when the host is opened, then nothing runs and it reads as text."""
    report = make_report(
        [
            result(
                "routing.backend",
                Status.FAIL,
                Step.BACKEND,
                "<img src=x onerror=alert(1)>",
                host="x.test",
                evidence={"body": "<script>alert(2)</script>"},
            )
        ]
    )
    path = write_html(report, tmp_path / "r.html")
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    detail = _open(page, "x.test")
    detail.locator("details summary").click()
    evidence = _drawn(detail.locator("pre"))
    assert detail.locator("td.msg").inner_text() == "<img src=x onerror=alert(1)>"
    assert "<script>alert(2)</script>" in evidence
    assert page.locator("img").count() == 0 and dialogs == []
    page.close()
