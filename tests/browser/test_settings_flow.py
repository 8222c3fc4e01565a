"""The API settings page in a real browser: an admin's whole flow, then proof that the APIs obey it.

Drives Debian's chromium (nothing is downloaded by Playwright) against pytest-django's live server.
"""

import re
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from apikeys.models import ApiKey
from core.rejections import rejections_reset
from ingest.models import EventName

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


def _log_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/w/acme/settings/api/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/w/acme/settings/api/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="API settings", level=1)).to_be_visible()


def test_admin_flow_and_the_apis_obey_it(
    live_server, created, ws_admin, ws_member, playwright_browser
):
    playwright, browser = playwright_browser
    rejections_reset()
    workspace = created.workspace
    now = timezone.now()
    for name in ("signup", "page_view", "purchase"):
        EventName.objects.create(
            workspace=workspace, name=name, first_seen=now, last_seen=now, count=1
        )
    write_only = created.keys["writeOnly"].key
    metrics = created.keys["metrics"].key
    old_secret = created.secrets()["writeOnly"]
    base = live_server.url
    settings_url = f"{base}/w/acme/settings/api/"
    ARTIFACTS.mkdir(exist_ok=True)

    context = browser.new_context(viewport={"width": 1280, "height": 900}, reduced_motion="reduce")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    status = page.locator(".messages")
    card = page.locator(f"#key-{write_only.pk}")

    _log_in(page, base, "alice", "alice-password-1")

    # An address with a description, seen in the table; then removed.
    card.get_by_label("IP address or network").fill("203.0.113.0/24")
    card.get_by_label("Description").fill("Office VPN")
    card.get_by_role("button", name="Save", exact=True).click()
    expect(status).to_contain_text("Added 203.0.113.0/24")
    expect(card.get_by_role("cell", name="Office VPN")).to_be_visible()
    card.get_by_role("button", name="Remove 203.0.113.0/24").click()
    expect(status).to_contain_text("Removed 203.0.113.0/24")
    expect(card.get_by_role("cell", name="Office VPN")).to_have_count(0)

    # Specific locations with no address: the service's refusal, next to the field.
    card.get_by_label("Specific locations").check()
    card.get_by_role("button", name="Save access").click()
    expect(card.get_by_role("alert")).to_contain_text("Add at least one IP address")
    expect(card.get_by_label("Specific locations")).to_be_checked()
    expect(card.get_by_label("Specific locations")).to_be_focused()

    # Chips: toggled by mouse and by keyboard, plus a name never seen; saved.
    card.get_by_label("Specific profile events").check()
    card.get_by_role("button", name="signup", exact=True, pressed=False).click()
    expect(card.get_by_role("button", name="signup", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    card.get_by_role("button", name="page_view", exact=True).focus()
    page.keyboard.press("Space")
    expect(card.get_by_role("button", name="page_view", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    card.get_by_label("Add an event name not seen yet").fill("checkout")
    card.get_by_role("button", name="Save events").click()
    expect(status).to_contain_text("now accepts only these events")
    for name, pressed in (("signup", True), ("page_view", True), ("checkout", True)):
        expect(card.get_by_role("button", name=name, exact=True, pressed=pressed)).to_be_visible()
    expect(card.get_by_role("button", name="purchase", exact=True, pressed=False)).to_be_visible()

    # Metrics cache TTL: 3 is refused with a clear message and kept in the field; 10 is saved.
    metrics_card = page.locator(f"#key-{metrics.pk}")
    metrics_card.get_by_label("Cache TTL (minutes)").fill("3")
    metrics_card.get_by_role("button", name="Save TTL").click()
    expect(metrics_card.get_by_role("alert")).to_contain_text("at least 5")
    expect(metrics_card.get_by_label("Cache TTL (minutes)")).to_have_value("3")
    metrics_card.get_by_label("Cache TTL (minutes)").fill("10")
    metrics_card.get_by_role("button", name="Save TTL").click()
    expect(status).to_contain_text("cached for 10 minutes")
    expect(metrics_card.get_by_label("Cache TTL (minutes)")).to_have_value("10")

    # Roll with no grace: the new secret is shown once, copied, and gone after a reload.
    card.get_by_label("Old secret key stays valid for").select_option("none")
    card.get_by_role("button", name="Roll secret key").click()
    secret_field = page.get_by_label("Secret key", exact=True)
    new_secret = secret_field.input_value()
    assert new_secret.startswith("uf_wo_")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("status")).to_contain_text("copied")
    assert page.evaluate("navigator.clipboard.readText()") == new_secret
    page.reload()  # chromium sends the POST again: the roll form's `current` makes it a no-op
    expect(page.get_by_role("heading", name="API settings", level=1)).to_be_visible()
    expect(status).to_contain_text("already rolled")
    assert new_secret not in page.content()
    expect(card.locator(".mask").first).to_have_text(re.compile(re.escape(new_secret[-4:]) + "$"))

    # The page tells the truth: the Integration API obeys the roll and the events...
    api = playwright.request.new_context(base_url=base)

    def ingest(secret: str, name: str):
        return api.post(
            "/event/ingest",
            headers={"Authorization": f"Bearer {secret}"},
            data={"name": name, "userId": "u1"},
        )

    assert ingest(old_secret, "signup").status == 401
    assert ingest(new_secret, "signup").status == 204
    refused = ingest(new_secret, "purchase")
    assert (refused.status, refused.json()["code"]) == (403, "event_not_allowed")

    # ... and the address list: Specific with a rule that excludes 127.0.0.1 refuses the call.
    page.goto(settings_url)
    card.get_by_label("IP address or network").fill("203.0.113.0/24")
    card.get_by_role("button", name="Save", exact=True).click()
    expect(status).to_contain_text("Added 203.0.113.0/24")
    card.get_by_label("Specific locations").check()
    card.get_by_role("button", name="Save access").click()
    expect(status).to_contain_text("only from the addresses on its list")
    refused = ingest(new_secret, "signup")
    assert (refused.status, refused.json()["code"]) == (403, "ip_not_allowed")

    # The refusal is listed; "Allow this address" lets the next call through.
    page.reload()
    card.get_by_role("button", name=re.compile(r"^Allow this address: (127\.0\.0\.1|::1)$")).click()
    expect(status).to_contain_text("Added")
    assert ingest(new_secret, "signup").status == 204
    api.dispose()

    write_only.refresh_from_db()
    assert write_only.access_mode == ApiKey.AccessMode.SPECIFIC
    page.screenshot(path=str(ARTIFACTS / "settings-page.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "settings-page-phone.png"), full_page=True)
    context.close()

    # A member sees the page, the masks and the rules, and no control that changes anything.
    member = browser.new_context(viewport={"width": 1280, "height": 900})
    member_page = member.new_page()
    _log_in(member_page, base, "bob", "bob-password-1")
    main = member_page.locator("main")
    expect(main.locator("form")).to_have_count(0)
    expect(main.locator("input, select, textarea")).to_have_count(0)
    expect(main.get_by_role("button")).to_have_count(0)
    expect(main).to_contain_text(new_secret[-4:])
    expect(main).to_contain_text("203.0.113.0/24")
    member.close()
