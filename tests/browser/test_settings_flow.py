"""The API settings pages in a real browser: lock a key down from evidence, the APIs obey.

Drives Debian's chromium (nothing is downloaded by Playwright) against pytest-django's live server,
one browser for the module, at desktop width (1280 px) and phone width (390 px). After each action
the feedback is asserted inside the viewport, and axe-core (bundled by axe-playwright-python)
finds no serious or critical violation on the list and the key pages.
"""

import os
import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.db import connections
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from apikeys import services, usage
from apikeys.models import ApiKey
from core.actors import SYSTEM

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SERVER_A, SERVER_B = "203.0.113.5", "198.51.100.9"


@pytest.fixture
def playwright_browser(monkeypatch):
    """Playwright and a headless chromium; the sync API runs an event loop, so let the ORM in.

    Without chromium the test is skipped by tests/conftest.py (unless CI requires browsers).
    """
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        yield playwright, browser
        browser.close()
        # The sync API runs the test in a greenlet with a context of its own, so the ORM calls
        # made meanwhile had Django connections of their own: close them with the greenlet.
        connections.close_all()


@pytest.fixture(scope="module")
def shared_browser():
    """One chromium for every test of this module (each test opens its own context)."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        yield playwright, browser
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def browser_session(shared_browser):
    yield shared_browser
    connections.close_all()


def _log_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/w/acme/settings/api/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/w/acme/settings/api/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="API settings", level=1)).to_be_visible()


def _in_viewport(page, locator) -> None:
    """The element is shown, and its whole box is inside the viewport."""
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    size = page.viewport_size
    assert box is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], (box, size)
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"], (box, size)


def _accessible(page, name: str) -> None:
    """axe-core finds no serious or critical violation on the page as it is now."""
    found = Axe().run(page).response["violations"]
    bad = [
        (item["id"], item["impact"], [node["target"] for node in item["nodes"]][:3])
        for item in found
        if item["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: {bad}"


def _api(playwright, base: str, secret: str):
    """An Integration API client; `address` is the client address the trusted proxy adds."""
    api = playwright.request.new_context(base_url=base)

    def ingest(name: str = "page_view", *, address: str) -> int:
        return api.post(
            "/event/ingest",
            headers={"Authorization": f"Bearer {secret}", "X-Forwarded-For": address},
            data={"name": name, "userId": "u1"},
        ).status

    return api, ingest


def test_lock_a_key_down_from_its_seen_addresses(
    live_server, created, ws_admin, browser_session, settings
):
    """Desktop: preview, monitor first, allow a would-be-refused address, enforce; axe."""
    playwright, browser = browser_session
    settings.TRUSTED_PROXIES = ["127.0.0.1/32", "::1/128"]
    base = live_server.url
    key = created.keys["readWrite"].key
    api, ingest = _api(playwright, base, created.secrets()["readWrite"])
    for number in range(3):  # six keys in all: the list still fits in two screens
        services.api_key_create(
            workspace=created.workspace, kind="write_only", name=f"App {number}", by=SYSTEM
        )
    for address, count in ((SERVER_A, 3), (SERVER_B, 2)):
        for _ in range(count):
            assert ingest(address=address) == 204
    usage.usage_flush()

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    _log_in(page, base, "alice", "alice-password-1")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Read & Write key"))
    expect(row).to_contain_text("Read & Write key usable from Anywhere")
    expect(row).to_contain_text("5")  # calls in the last 24 hours
    _accessible(page, "key list")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "settings-list.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollHeight") <= 2 * DESKTOP["height"]

    row.get_by_role("link", name="Read & Write key").click()
    access = page.locator("#access")
    access.get_by_label("Specific locations").check()
    access.get_by_label(f"Add {SERVER_A}").check()
    access.get_by_role("button", name="Preview impact").click()
    preview = page.locator("#access-preview")
    expect(preview).to_contain_text(
        "With these rules, 2 of 5 calls in the last 7 days, from 1 address, would have been "
        "refused."
    )
    expect(preview.get_by_role("cell", name=SERVER_B)).to_be_visible()
    _in_viewport(page, preview.get_by_role("heading", name="Impact preview"))
    _accessible(page, "key page with a preview")
    preview.get_by_role("button", name="Monitor first").click()
    feedback = page.locator("#access-feedback")
    expect(feedback).to_contain_text("monitoring its address list")
    _in_viewport(page, feedback)
    key.refresh_from_db()
    assert (key.access_mode, key.address_enforcement) == ("specific", "monitor")

    # Monitored: the unlisted server is still answered, and counted as "would refuse".
    assert ingest(address=SERVER_B) == 204
    usage.usage_flush()
    page.reload()
    rejected = page.locator("#rejected")
    expect(rejected.get_by_role("row", name=re.compile(SERVER_B))).to_contain_text("1")
    rejected.get_by_role("button", name=f"Allow this address: {SERVER_B}").click()
    assert dialogs[-1] == (
        f"Allow {SERVER_B} to use “Read & Write key”? It is added to the key's address list."
    )
    expect(feedback).to_contain_text(f"Added {SERVER_B}/32")
    _in_viewport(page, feedback)

    page.get_by_role("button", name="Enforce the address list").click()
    expect(feedback).to_contain_text("now refuses calls from addresses not on its list")
    _in_viewport(page, feedback)
    assert ingest(address=SERVER_B) == 204
    assert ingest(address="192.0.2.1") == 403
    key.refresh_from_db()
    assert key.address_enforcement == ApiKey.Enforcement.ENFORCE
    page.screenshot(path=str(ARTIFACTS / "key-page.png"), full_page=True)

    # An invalid Cache TTL: the error is next to the field, in view, the field focused.
    metrics = created.keys["metrics"].key
    page.goto(f"{base}/w/acme/settings/api/keys/{metrics.pk}/")
    ttl = page.get_by_label("Cache TTL (minutes)")
    expect(ttl).to_have_attribute("max", "10080")
    ttl.fill("3")
    page.get_by_role("button", name="Save TTL").click()
    _in_viewport(page, page.locator("#ttl-error"))
    expect(page.locator("#ttl-error")).to_contain_text("at least 5 and at most 10,080 minutes")
    expect(page.get_by_label("Cache TTL (minutes)")).to_be_focused()
    page.get_by_label("Cache TTL (minutes)").fill("10")
    page.get_by_role("button", name="Save TTL").click()
    _in_viewport(page, page.locator("#cache-feedback"))
    expect(page.locator("#cache-feedback")).to_contain_text("cached for 10 minutes")
    api.dispose()
    context.close()


def test_allow_a_refused_event_and_roll_with_each_grace(
    live_server, created, ws_admin, browser_session, settings
):
    """Phone: "Allow this event" from the rejected calls, then every roll grace; axe."""
    playwright, browser = browser_session
    settings.TRUSTED_PROXIES = ["127.0.0.1/32", "::1/128"]
    base = live_server.url
    key = created.keys["writeOnly"].key
    services.api_key_set_allowed_events(key=key, mode="specific", names=["signup"], by=SYSTEM)
    api, ingest = _api(playwright, base, created.secrets()["writeOnly"])
    assert ingest("signup", address=SERVER_A) == 204
    assert ingest("purchase", address=SERVER_A) == 403
    usage.usage_flush()

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    _log_in(page, base, "alice", "alice-password-1")
    _accessible(page, "key list, phone")
    page.get_by_role("link", name="Write-Only key").click()
    _accessible(page, "key page, phone")

    rejected = page.locator("#rejected")
    expect(rejected).to_contain_text("POST /event/ingest")
    rejected.get_by_role("button", name="Allow this event: purchase").click()
    feedback = page.locator("#events-feedback")
    expect(feedback).to_contain_text("may now send “purchase”")
    _in_viewport(page, feedback)
    assert ingest("purchase", address=SERVER_A) == 204

    secrets = page.locator("#secrets")
    said = {
        "none": "every client still using it is refused from this moment",
        "1h": "keeps working for 1 hour, then stops",
        "24h": "keeps working for 24 hours, then stops",
        "7d": "keeps working for 7 days, then stops",
    }
    for number, grace in enumerate(("7d", "24h", "1h", "none")):
        secrets.get_by_label("Old secret key stays valid for").select_option(grace)
        secrets.get_by_role("button", name="Roll secret key…").click()
        question = dialogs[-1]
        assert "Roll the secret key of “Write-Only key” (Write-Only)?" in question
        assert said[grace] in question
        if number:  # an older secret is still in its grace: the dialog says it is cut
            assert "are cut to the new grace" in question
        secret = page.get_by_label("Secret key", exact=True).input_value()
        assert secret.startswith("uf_wo_")
        _in_viewport(page, page.locator(".secret-card .warning"))
        page.get_by_role("link", name=re.compile("^Done")).click()
        expect(secrets.locator(".mask").first).to_have_text(
            re.compile(re.escape(secret[-4:]) + "$")
        )
    # "None" ended every older secret at once: only the newest works.
    assert ingest("signup", address=SERVER_A) == 401
    assert not key.secrets.filter(retires_at__gt=timezone.now()).exists()
    page.screenshot(path=str(ARTIFACTS / "key-page-phone.png"), full_page=True)
    api.dispose()
    context.close()
