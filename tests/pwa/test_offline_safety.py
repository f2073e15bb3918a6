"""The phone fails closed where only the phone can decide: an app older than its data,
an offline hand-off on an old scan, the next person on the same phone, a broken
snapshot, and the sound of a verdict not yet given."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from api.snapshot import Snapshot, SnapshotItem, SnapshotTag
from tests.pwa.conftest import sign_in

pytestmark = pytest.mark.browser


async def _snapshot(page: Any) -> dict[str, Any]:
    snap: dict[str, Any] = await page.evaluate(
        "async () => window.propcheck.snapshots.get(window.propcheck.productionId)"
    )
    assert snap is not None
    return snap


async def _store_snapshot(page: Any, snap: dict[str, Any]) -> None:
    await page.evaluate(
        """async (s) => (await import('/js/db.js')).kv.set(
             'snapshot:' + window.propcheck.productionId, s)""",
        snap,
    )


async def _scan_offline(context: Any, page: Any, base: str, code: str) -> tuple[str, list[str]]:
    """Type ``code`` on the scan screen with the network off: the verdict and reasons."""
    await page.goto(f"{base}/#/scan")
    await page.locator("#code-input").wait_for()
    await context.set_offline(True)
    await page.locator("#code-input").fill(code)
    await page.get_by_role("button", name="Check this code").click()
    word = page.locator("#verdict-word")
    await word.wait_for(timeout=10_000)
    reasons = await page.locator(".reason-list li").evaluate_all(
        "(els) => els.map((e) => e.dataset.code)"
    )
    return await word.inner_text(), reasons


async def _scan_offline_with_snapshot(
    context: Any,
    page: Any,
    base: str,
    world: Any,
    name: str,
    change: Callable[[dict[str, Any], dict[str, Any]], None],
) -> tuple[str, list[str]]:
    """A new item ``name``; signed in as the scanner, the stored snapshot changed by
    ``change(snapshot, item)``; the item's tag scanned offline: verdict and reasons."""
    item = await world.add(name)
    await sign_in(page, base, world.emails["scanner"])
    snap = await _snapshot(page)
    change(snap, item)
    await _store_snapshot(page, snap)
    try:
        return await _scan_offline(context, page, base, item["tag"]["code"])
    finally:
        await context.set_offline(False)


async def _cleared_offline_for_ana(context: Any, page: Any, base: str, code: str) -> None:
    """On the check-out screen, ``code`` scanned with the network off for a hand-off to
    Ana Ruiz and confirmed to match: CLEARED on screen, the network still off."""
    await page.goto(f"{base}/#/custody/out")
    await page.get_by_label("Performer").fill("Ana Ruiz")
    await page.get_by_role("button", name="Scan the item").click()
    await page.locator("#code-input").wait_for()
    await context.set_offline(True)
    await page.locator("#code-input").fill(code)
    await page.get_by_role("button", name="Check this code").click()
    await page.get_by_role("button", name="Matches").click()
    await page.wait_for_function(
        "() => document.querySelector('#verdict-word')?.textContent === 'CLEARED'"
    )


async def test_the_app_knows_every_field_the_server_puts_in_a_snapshot(
    phone_page: Any, static_base_url: str
) -> None:
    # A field the app does not know makes it STOP (below); this keeps the lists in step
    # with api/snapshot.py, so a new fact on the server is a decision in the app too.
    await phone_page.goto(f"{static_base_url}/_test/pwa/vectors.html")
    fields = await phone_page.evaluate(
        "async () => (await import('/js/snapshot.js')).SNAPSHOT_FIELDS"
    )
    assert sorted(fields["item"]) == sorted(SnapshotItem.__struct_fields__)
    assert sorted(fields["tag"]) == sorted(SnapshotTag.__struct_fields__)
    assert sorted(fields["snapshot"]) == sorted([*Snapshot.__struct_fields__, "received_at"])


async def test_a_snapshot_with_a_fact_the_app_does_not_know_is_stop(
    phone_context: Any, phone_page: Any, live_server: str, live_world: Any
) -> None:
    # As a newer server would send it: a fact this app cannot weigh. The item is clear
    # of everything the app knows, so reading past the field would say CHECK THE ITEM.
    def add_unknown_fact(snap: dict[str, Any], item: dict[str, Any]) -> None:
        (mine,) = [i for i in snap["items"] if i["id"] == item["id"]]
        mine["needs_armorer_sign_off"] = True

    word, reasons = await _scan_offline_with_snapshot(
        phone_context, phone_page, live_server, live_world, "Resin carbine", add_unknown_fact
    )
    assert word == "STOP"
    assert reasons == ["offline_app_outdated"]


async def test_a_snapshot_from_before_a_fact_existed_is_too_old_to_use(
    phone_context: Any, phone_page: Any, live_server: str, live_world: Any
) -> None:
    # Stored before the server sent returns from use: it cannot say the item was not
    # handed out and taken back uninspected since.
    def drop_returns(snap: dict[str, Any], item: dict[str, Any]) -> None:
        for entry in snap["items"]:
            del entry["last_returned_at"]

    word, reasons = await _scan_offline_with_snapshot(
        phone_context, phone_page, live_server, live_world, "Cast Peacemaker", drop_returns
    )
    assert word == "STOP"
    assert reasons == ["offline_snapshot_stale"]


async def test_a_damaged_snapshot_is_stop_not_a_screen_left_checking(
    phone_context: Any, phone_page: Any, live_server: str, live_world: Any
) -> None:
    def damage(snap: dict[str, Any], item: dict[str, Any]) -> None:
        snap["tags"] = "not a list"  # the offline facts cannot be built from this

    word, reasons = await _scan_offline_with_snapshot(
        phone_context, phone_page, live_server, live_world, "Foam sabre-pistol", damage
    )
    assert word == "STOP"
    assert reasons == ["internal_error"]


async def test_an_offline_hand_off_on_a_scan_past_its_window_is_not_recorded(
    phone_context: Any, phone_page: Any, live_server: str, live_world: Any
) -> None:
    item = await live_world.add("Cast derringer")
    page = phone_page
    await sign_in(page, live_server, live_world.emails["prop_master"])
    try:
        await _cleared_offline_for_ana(phone_context, page, live_server, item["tag"]["code"])
        before = len(await page.evaluate("() => window.propcheck.outbox.entries()"))
        # The CLEARED screen left open past the hand-off window (10 minutes): the phone's
        # clock moves on 11 minutes before the button is pressed.
        await page.evaluate(
            """() => { const real = Date.now.bind(Date);
                       Date.now = () => real() + 11 * 60 * 1000; }"""
        )
        await page.get_by_role("button", name="Hand over to Ana Ruiz — record it").click()
        await page.get_by_text("That scan is too old for a hand-off").wait_for()
        assert await page.locator("h1").first.inner_text() == "Not recorded"
        after = await page.evaluate("() => window.propcheck.outbox.entries()")
        assert len(after) == before
        assert not any(e["path"].endswith("/checkouts") for e in after)
    finally:
        await phone_context.set_offline(False)


async def test_an_offline_hand_off_right_after_its_scan_is_queued_on_a_slow_phone(
    phone_context: Any, phone_page: Any, live_server: str, live_world: Any
) -> None:
    # The phone's clock 12 minutes behind the server's at the sync: the scan's age is
    # measured on the phone's own clock, so a hand-off right after it is not "too old".
    item = await live_world.add("Cast Colt Navy")
    page = phone_page
    await sign_in(page, live_server, live_world.emails["prop_master"])
    snap = await _snapshot(page)
    taken = await page.evaluate("(t) => Date.parse(t)", snap["taken_at"][:23] + "Z")
    snap["received_at"] = await page.evaluate(
        "(ms) => new Date(ms).toISOString()", taken - 12 * 60 * 1000
    )
    await _store_snapshot(page, snap)
    try:
        await _cleared_offline_for_ana(phone_context, page, live_server, item["tag"]["code"])
        await page.get_by_role("button", name="Hand over to Ana Ruiz — record it").click()
        await page.get_by_text("saved on this phone").wait_for()
    finally:
        await phone_context.set_offline(False)


async def test_an_offline_verdict_needs_a_role_that_may_verify(
    phone_context: Any, phone_page: Any, live_server: str, live_world: Any
) -> None:
    # Roles as last known on the phone: one that may only read gets no verdict offline,
    # whatever snapshot is still stored.
    item = await live_world.add("Foam Tommy gun")
    page = phone_page
    await sign_in(page, live_server, live_world.emails["scanner"])
    await page.evaluate(
        """async () => { const s = window.propcheck.session;
             await s.save({ ...s.data, me: { ...s.data.me,
               production_roles: { [s.productionId]: ['auditor'] } } }); }"""
    )
    try:
        word, _ = await _scan_offline(phone_context, page, live_server, item["tag"]["code"])
    finally:
        await phone_context.set_offline(False)
    assert word == "STOP"
    assert "may not verify" in await page.locator(".reason-list").inner_text()
    assert await page.evaluate("() => window.propcheck.outbox.count()") == 0


async def test_signing_out_forgets_the_data_and_the_next_person_sends_none_of_the_outbox(
    phone_context: Any, phone_page: Any, live_server: str, live_world: Any, database: str
) -> None:
    item = await live_world.add("Rubber Winchester")
    page = phone_page
    await sign_in(page, live_server, live_world.emails["scanner"])
    word, _ = await _scan_offline(phone_context, page, live_server, item["tag"]["code"])
    assert word == "CHECK THE ITEM"
    assert len(await page.evaluate("() => window.propcheck.outbox.entries()")) == 1
    await page.evaluate("() => window.propcheck.signOut()")
    await page.locator("#offline-banner").wait_for(state="detached")
    await page.locator("#code-input, input[type=email]").first.wait_for()
    # Nothing of the production stays for the next person to verify from.
    keys = await page.evaluate(
        """async () => { const { withStore, idbRequest } = await import('/js/db.js');
             return withStore('kv', 'readonly', (s) => idbRequest(s.getAllKeys())); }"""
    )
    assert not [k for k in keys if str(k).startswith("snapshot:")]
    await phone_context.set_offline(False)

    # The prop master signs in on the same phone: the scanner's offline scan is not sent
    # under the prop master's name; it waits for the scanner.
    await sign_in(page, live_server, live_world.emails["prop_master"])
    result = await page.evaluate("() => window.propcheck.replay()")
    assert result["sent"] == 0 and result["left"] == 1, result
    # Not theirs to send: the banner counts only this person's records.
    assert await page.locator("#outbox-count").count() == 0
    conn = await asyncpg.connect(database)
    try:
        stored = await conn.fetchval(
            "SELECT count(*) FROM verifications WHERE item_id = $1 AND offline", item["id"]
        )
        assert stored == 0
        await page.goto(f"{live_server}/#/outbox")
        await page.get_by_text("to sign in").wait_for()

        await page.evaluate("() => window.propcheck.signOut()")
        await sign_in(page, live_server, live_world.emails["scanner"])  # replays its own
        await page.locator("#outbox-count").wait_for(state="detached", timeout=15_000)
        actor = await conn.fetchval(
            "SELECT v.actor FROM verifications v WHERE v.item_id = $1 AND v.offline",
            item["id"],
        )
        scanner = await conn.fetchval(
            "SELECT id FROM users WHERE email = $1", live_world.emails["scanner"]
        )
        assert actor == f"user:{scanner}"
    finally:
        await conn.close()


async def test_check_the_item_does_not_sound_like_cleared(
    phone_page: Any, live_server: str, live_world: Any
) -> None:
    item = await live_world.add("Resin Luger")
    page = phone_page
    await sign_in(page, live_server, live_world.emails["scanner"])
    await page.evaluate(
        """() => { window.buzzes = [];
                   navigator.vibrate = (p) => { window.buzzes.push(p); return true; }; }"""
    )
    await page.goto(f"{live_server}/#/scan")
    await page.locator("#code-input").fill(item["tag"]["code"])
    await page.get_by_role("button", name="Check this code").click()
    await page.locator("#verdict-word").wait_for()
    assert await page.locator("#verdict-word").inner_text() == "CHECK THE ITEM"
    await page.get_by_role("button", name="Matches").click()
    await page.wait_for_function(
        "() => document.querySelector('#verdict-word')?.textContent === 'CLEARED'"
    )
    check, cleared = await page.evaluate("() => window.buzzes")
    assert cleared == 120  # CLEARED's one short buzz
    assert check != cleared and check != [300, 120, 300, 120, 300]


async def test_a_clock_set_back_after_a_quiet_spell_is_caught(
    phone_page: Any, live_server: str, live_world: Any
) -> None:
    # Synced, then hours with no scan: the status bar notes the clock every minute, so
    # a clock then set back to just after the sync (which would make an old snapshot
    # look fresh) is caught.
    page = phone_page
    await page.clock.install()
    await sign_in(page, live_server, live_world.emails["scanner"])
    synced = await page.evaluate(
        """async () => Date.parse((await window.propcheck.snapshots.get(
             window.propcheck.productionId)).received_at)"""
    )
    # No sync in the quiet hours (a sync notes the clock too, and under the fake clock
    # its request times out and the phone counts itself offline): what is left is the
    # status bar's minute.
    await page.evaluate("() => { window.propcheck.syncSnapshot = async () => null; }")
    await page.clock.run_for(3 * 3600 * 1000)  # three quiet hours of the app's timers
    got = await page.evaluate(
        """async (synced) => {
             const s = await import('/js/snapshot.js');
             const snap = await window.propcheck.snapshots.get(window.propcheck.productionId);
             const setBack = await s.trustedNow(snap, synced + 30 * 60 * 1000);
             const honest = await s.trustedNow(snap, Date.now());
             return [setBack, honest !== null];
           }""",
        synced,
    )
    assert got == [None, True]
