"""The Metrics page in a real browser: reach it from API settings, add a metric, test-run it."""

import pytest
from playwright.sync_api import expect

from metrics.models import SavedMetric
from tests.browser.test_settings_flow import ARTIFACTS, _log_in
from tests.browser.test_settings_flow import playwright_browser as playwright_browser
from tests.support.metrics import events_add

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_adds_and_test_runs_a_metric(live_server, created, ws_admin, playwright_browser):
    _, browser = playwright_browser
    events_add(created.workspace, ("signup", "a1"), ("page_view", "a1"), ("signup", "a2"))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _log_in(page, live_server.url, "alice", "alice-password-1")
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="Metrics").click()
    expect(page.get_by_role("heading", name="Metrics", level=1)).to_be_visible()

    form = page.locator("#add-metric")
    form.get_by_label("Name").fill("Signups")
    form.get_by_label("SQL").fill("SELECT userId\nFROM eventsTable\nWHERE name = '@{eventName}'")
    form.get_by_label("Variables and their defaults").fill("{}")
    form.get_by_role("button", name="Save metric").click()
    expect(form.get_by_role("alert")).to_contain_text("missing_variable")
    expect(form.get_by_label("Variables and their defaults")).to_be_focused()
    form.get_by_label("Variables and their defaults").fill('{"eventName": "signup"}')
    form.get_by_role("button", name="Save metric").click()
    expect(page.get_by_role("heading", name="Signups", level=1)).to_be_visible()
    metric = SavedMetric.objects.get()
    expect(page.get_by_text(f"POST /metrics/query/{metric.pk}").first).to_be_visible()

    page.get_by_role("button", name="Run").click()
    result = page.get_by_role("region", name="Test run result")
    expect(result.get_by_role("row")).to_have_count(3)  # the header and a1, a2
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "metrics-page.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="Metrics", exact=True).first.click()
    page.screenshot(path=str(ARTIFACTS / "metrics-page-phone.png"), full_page=True)
    page.get_by_role("link", name="Signups").click()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete metric…").click()
    expect(page.get_by_text("“Signups” is deleted")).to_be_visible()
    assert not SavedMetric.objects.exists()
