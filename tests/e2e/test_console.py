"""The web console in a real browser (Debian's chromium driven by Playwright) against a real
gateway, PostgreSQL and a local receiver: the journeys of a connector's owner and of a reader.

Every page is saved as a screenshot under test-artifacts/console/.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright, expect

from gateway.api import auth
from gateway.api.console import console_url
from gateway.app import create_app
from gateway.config import Settings
from tests.harness import Account, Gateway

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
# The delivery log, :test and :replay are in the build when their routes are served.
DELIVERY_LOG = "/v2/projects/{project}/dataconnectors/{connector}/deliveries" in {
    resource.canonical
    for resource in create_app(Settings(database_url="postgresql://unused/unused")).router.resources()
}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
WAIT_MS = 10_000  # the longest a page may take to show what the server holds (logs: 5 s)
expect.set_options(timeout=WAIT_MS)


@dataclass
class Receiver:
    """A local HTTP receiver whose answer the test changes; it records every event id."""

    status: int = 200
    text: str = "OK"
    event_ids: list[str] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.event_ids.append(body["event"]["eventId"])
        return web.Response(status=self.status, text=self.text)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    found.url = str(server.make_url("/hook"))
    try:
        yield found
    finally:
        await server.close()


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM.exists(), "the console tests need Debian's chromium: apt-get install chromium"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield launched
        finally:
            await launched.close()


async def new_page(browser: Browser, width: int = 1280, height: int = 900) -> Page:
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and
            "Failed to load resource" not in m.text else None)
    page.errors = errors  # type: ignore[attr-defined]
    return page


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def assert_no_script_errors(page: Page) -> None:
    """No script failed and no Content-Security-Policy violation was reported."""
    assert page.errors == [], page.errors  # type: ignore[attr-defined]


async def sign_in(page: Page, gateway: Gateway, account: Account) -> None:
    await page.goto(console_url(str(gateway.client.make_url("/"))))
    await page.get_by_label("Key id").fill(account.key_id)
    await page.get_by_label("Secret", exact=True).fill(account.secret)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Projects")).to_be_visible()


async def connector_status(gateway: Gateway, account: Account, name: str) -> str:
    answer = await gateway.call("GET", f"/v2/{name}", account)
    return str(answer["status"])


async def test_a_developer_creates_a_connector_sees_it_fail_disables_it_and_signs_out(
    gateway: Gateway, receiver: Receiver, browser: Browser
) -> None:
    owner = await gateway.project(auth.DEVELOPER)
    device = await gateway.device(owner, "temperature", room="lab")
    page = await new_page(browser)
    await page.goto(console_url(str(gateway.client.make_url("/"))))
    await screenshot(page, "sign-in")
    await sign_in(page, gateway, owner)
    await screenshot(page, "projects")

    await page.get_by_role("link", name="test").click()
    await page.get_by_role("link", name="Create connector").click()
    await page.get_by_label("Display name").fill("Lab hook")
    await page.get_by_label("Endpoint URL").fill("ftp://example.com/hook")
    await page.get_by_label("temperature", exact=True).check()
    await page.get_by_role("button", name="Create connector").click()
    url_error = page.locator(".field-error").filter(has_text="httpConfig.url")
    await expect(url_error).to_have_text("httpConfig.url must be an https:// URL")
    await screenshot(page, "create-connector-error")
    listed = await gateway.call("GET", f"/v2/projects/{owner.project_id}/dataconnectors", owner)
    assert listed["dataConnectors"] == []  # nothing half-saved

    await page.get_by_label("Endpoint URL").fill(receiver.url)
    await page.get_by_role("button", name="Add header").click()
    await page.get_by_label("Header name").fill("x-api-key")
    await page.get_by_label("Header value").fill("k-123")
    await page.get_by_label("Signature secret").fill("a-signing-secret")
    await page.get_by_role("button", name="Create connector").click()
    await expect(page.get_by_role("heading", name="Lab hook")).to_be_visible()
    connector = (await gateway.call(
        "GET", f"/v2/projects/{owner.project_id}/dataconnectors", owner
    ))["dataConnectors"][0]
    assert connector["httpConfig"]["headers"] == {"x-api-key": "k-123"}
    assert connector["httpConfig"]["signatureSecret"] == "a-signing-secret"
    assert connector["events"] == ["temperature"]
    name = connector["name"]

    # One push arrives, the next one fails: the overview shows both, and since when it fails.
    first = await gateway.publish(owner, device, {"temperature": {"value": 21.5}})
    await gateway.deliver()
    assert receiver.event_ids == [first["eventId"]]
    receiver.status, receiver.text = 503, "down for maintenance"
    await gateway.publish(owner, device, {"temperature": {"value": 22.5}})
    await gateway.deliver()
    await page.get_by_role("link", name="Connectors").click()
    row = page.locator("tr", has_text="Lab hook")
    await expect(row).to_contain_text("failing since")
    await expect(row.locator("td").nth(2)).to_have_text("1")
    await expect(row.locator("td").nth(3)).to_have_text("1")
    await expect(row.locator("svg.chart rect.bar-ok")).to_have_count(1)
    await expect(row.locator("svg.chart rect.bar-error")).to_have_count(1)
    await screenshot(page, "connectors")

    # Disable and enable again.
    await row.get_by_role("link", name="Lab hook").click()
    await page.get_by_role("button", name="Disable").click()
    await expect(page.locator(".heading .badge")).to_have_text(re.compile("USER_DISABLED"))
    assert await connector_status(gateway, owner, name) == "USER_DISABLED"
    await page.get_by_role("button", name="Enable").click()
    await expect(page.locator(".heading .badge")).to_have_text(re.compile("ACTIVE"))
    assert await connector_status(gateway, owner, name) == "ACTIVE"
    await screenshot(page, "connector")

    # Devices: labels edited in place; live events shows what was published.
    await page.get_by_role("link", name="Devices").click()
    await page.get_by_role("button", name=f"Edit labels of {device}").click()
    await page.get_by_role("button", name="Add label").click()
    await page.get_by_label("Label key").last.fill("floor")
    await page.get_by_label("Label value").last.fill("3")
    await page.get_by_role("button", name="Save labels").click()
    await expect(page.locator(f"tr[data-device='{device}']")).to_contain_text("floor=3")
    found = await gateway.call("GET", f"/v2/projects/{owner.project_id}/devices/{device}", owner)
    assert found["labels"] == {"room": "lab", "floor": "3"}
    await screenshot(page, "devices")

    gateway.clock.advance(1)  # a history ends at the server's now: let a second pass
    await page.get_by_role("link", name="Live events").click()
    await expect(page.get_by_role("status")).to_contain_text(re.compile("stream|polling"))
    live = await gateway.publish(owner, device, {"temperature": {"value": 23.5}})
    gateway.clock.advance(1)
    await expect(page.locator(f"tr[data-event='{live['eventId']}']")).to_contain_text("23.5")
    await screenshot(page, "live-events")

    # Sign out: the cookie no longer opens the API.
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    answer = await page.request.get(str(gateway.client.make_url(f"/v2/{name}")))
    assert answer.status == 401
    assert_no_script_errors(page)


@pytest.mark.skipif(not DELIVERY_LOG, reason="this build has no delivery log routes")
async def test_the_log_shows_each_attempt_and_a_replay_brings_the_events_back(
    gateway: Gateway, receiver: Receiver, browser: Browser
) -> None:
    owner = await gateway.project(auth.DEVELOPER)
    device = await gateway.device(owner, "temperature")
    connector = await gateway.connector(owner, receiver.url, displayName="Logged hook")
    page = await new_page(browser)
    await sign_in(page, gateway, owner)
    await page.goto(console_url(str(gateway.client.make_url("/"))) + f"#/{connector['name']}")
    await expect(page.get_by_role("heading", name="Logged hook")).to_be_visible()

    # A delivery arrives; the log shows it without a reload.
    first = await gateway.publish(owner, device, {"temperature": {"value": 21.5}})
    await gateway.deliver()
    log = page.locator(".delivery")
    await expect(log.filter(has_text=first["eventId"])).to_contain_text("DELIVERED")
    await expect(log.filter(has_text=first["eventId"])).to_contain_text("HTTP 200")

    # The receiver fails: the failure, its status code and its response are in the log.
    receiver.status, receiver.text = 503, "down for maintenance"
    second = await gateway.publish(owner, device, {"temperature": {"value": 22.5}})
    await gateway.deliver()
    await page.get_by_role("button", name="Apply filters").click()
    failed = log.filter(has_text=second["eventId"])
    await expect(failed).to_contain_text("RETRYING")
    await failed.locator("summary").click()
    attempts = failed.locator("table.attempts")
    await expect(attempts).to_contain_text("503")
    await expect(attempts).to_contain_text("down for maintenance")
    await page.get_by_label("Status", exact=True).select_option("RETRYING")
    await page.get_by_role("button", name="Apply filters").click()
    await expect(log).to_have_count(1)
    await screenshot(page, "connector-failing")

    # A test push shows what the receiver answered.
    await page.get_by_role("button", name="Send test event").click()
    await expect(page.locator("dl.pairs").first).to_contain_text("503")

    # Replay the window of both events, to a receiver that answers again.
    receiver.status, receiver.text = 200, "OK"
    replay = page.locator("form.inline-form")
    start = gateway.clock() - timedelta(minutes=5)
    end = gateway.clock() + timedelta(minutes=5)
    await replay.get_by_label("From").fill(start.astimezone().strftime("%Y-%m-%dT%H:%M"))
    await replay.get_by_label("To").fill(end.astimezone().strftime("%Y-%m-%dT%H:%M"))
    await replay.get_by_role("button", name="Replay window").click()
    await expect(replay.get_by_role("status")).to_have_text("2 events queued again.")
    receiver.event_ids.clear()
    # The failing connector's queue waits for its next probe; let that time pass.
    gateway.clock.advance(gateway.settings.retry_max)
    await gateway.deliver()
    assert set(receiver.event_ids) == {first["eventId"], second["eventId"]}
    await page.get_by_label("Status", exact=True).select_option("")
    await page.get_by_role("button", name="Apply filters").click()
    await expect(log.filter(has_text=second["eventId"]).first).to_contain_text("DELIVERED")
    await screenshot(page, "connector-log")
    assert_no_script_errors(page)


async def test_a_project_user_sees_masked_secrets_and_cannot_edit(
    gateway: Gateway, browser: Browser
) -> None:
    owner = await gateway.project(auth.DEVELOPER)
    reader = await gateway.account(owner.project_id, auth.USER)
    connector = await gateway.connector(
        owner, "https://example.com/hook", displayName="Shared hook",
        http={"signatureSecret": "owner-only-secret", "headers": {"x-api-key": "k"}},
    )
    page = await new_page(browser)
    await sign_in(page, gateway, reader)
    await page.get_by_role("link", name="test").click()
    await expect(page.get_by_role("link", name="Create connector")).to_have_count(0)
    await page.get_by_role("link", name="Shared hook").click()
    await expect(page.get_by_text("Read-only: your role")).to_be_visible()
    secret = page.get_by_label("Signature secret")
    await expect(secret).to_have_value("********")
    await expect(secret).to_be_disabled()
    assert "owner-only-secret" not in await page.content()
    for control in ("Save changes", "Disable", "Sync", "Delete…", "Reveal"):
        await expect(page.get_by_role("button", name=control)).to_be_disabled()
    await expect(page.get_by_label("Display name")).to_be_disabled()
    await screenshot(page, "connector-read-only")
    # The server refuses too: the page's own credentials cannot change the connector.
    status = await page.evaluate(
        """async (path) => {
            const session = await (await fetch("/console/session")).json();
            const answer = await fetch(path, {method: "PATCH", body: '{"status":"USER_DISABLED"}',
              headers: {"Content-Type": "application/json", "X-CSRF-Token": session.csrfToken}});
            return answer.status;
        }""",
        f"/v2/{connector['name']}",
    )
    assert status == 403
    assert await connector_status(gateway, owner, connector["name"]) == "ACTIVE"
    await page.get_by_role("link", name="Devices").click()
    await expect(page.get_by_role("button", name=re.compile("Edit labels"))).to_have_count(0)
    assert_no_script_errors(page)


async def test_an_expired_session_signs_in_again_without_losing_the_form(
    gateway: Gateway, browser: Browser
) -> None:
    owner = await gateway.project(auth.DEVELOPER)
    page = await new_page(browser, width=390, height=844)  # a phone's width
    await sign_in(page, gateway, owner)
    await page.get_by_role("link", name="test").click()
    await screenshot(page, "connectors-phone")
    await page.get_by_role("link", name="Create connector").click()
    await page.get_by_label("Display name").fill("Typed before expiry")
    await page.get_by_label("Endpoint URL").fill("https://example.com/typed")
    gateway.clock.advance(gateway.settings.console_session_lifetime + 1)
    await page.get_by_role("button", name="Create connector").click()
    await expect(page.get_by_text("Your session has ended")).to_be_visible()
    await page.get_by_label("Key id").fill(owner.key_id)
    await page.get_by_label("Secret", exact=True).fill(owner.secret)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_label("Display name")).to_have_value("Typed before expiry")
    await page.get_by_role("button", name="Create connector").click()
    await expect(page.get_by_role("heading", name="Typed before expiry")).to_be_visible()
    listed = await gateway.call("GET", f"/v2/projects/{owner.project_id}/dataconnectors", owner)
    assert [c["httpConfig"]["url"] for c in listed["dataConnectors"]] == [
        "https://example.com/typed"
    ]
    await screenshot(page, "connector-phone")
    assert_no_script_errors(page)
