"""One reply for many: a spike's cases answered by one approved text adapted per customer, each case once;
the spike page and banner in the console; the status update; `closeloop spikes` from the command line."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from models.alerts import list_spikes
from models.spike_groups import GroupMember, group_members, group_progress, status_updates
from models.tables import AuditEntry, Draft
from models.types import utcnow
from monitor.radar.tick import radar_tick
from responders.spike_reply import (
    GroupReplyError,
    adapt,
    approve_spike_group,
    fill,
    plan_group,
    post_status_updates,
    safe_name,
    variants_from,
)
from tests.radar_support import REPO, ingest, post, radar_settings
from tests.web_support import add_users, client, login

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
BURST = T0 + timedelta(hours=26)
EVIL_NAME = '<script>alert(1)</script> @everyone #win https://evil.example'
TEXT = "Hi {name}, we are sorry: logins fail for everyone right now and we are on it. – Maria, Acme care"


def _member(*, case_id: int = 1, platform: str = "x", language: str | None = "en", name: str | None = "Jane Doe",
            handle: str = "jane_doe", draft_status: str | None = "draft", answered: bool = False, state: str = "open",
            lane: str = "complaint") -> GroupMember:
    return GroupMember(case_id, state, "Acme", platform, language, "outage", 10 + case_id, "@acme login broken",
                       handle, name, 100 + case_id if draft_status else None, draft_status, answered, False, lane)


@pytest.mark.parametrize(("name", "handle", "expected"), [
    ("Jane Doe", "jane_doe", "Jane Doe"),
    ("  Jane\u202e\u0000 Doe 🎉 ", "jane_doe", "Jane Doe"),
    (EVIL_NAME, "x", "script alert 1 script everyone win https"),
    ("@@@ ###", "jane_doe", "jane_doe"),
    (None, "@jane_doe", "jane_doe"),
    ("김민지", "minji.bsky.social", "김민지"),
    ("O'Brien-Smith", "ob", "O'Brien-Smith"),
])
def test_a_customer_name_reaches_a_reply_without_mentions_tags_or_links(name: str | None, handle: str,
                                                                       expected: str) -> None:
    assert safe_name(name, handle) == expected[:40].strip()


def test_placeholders_are_filled_and_an_unknown_one_is_refused() -> None:
    assert fill("Hi {name} ({handle})", name="Jane", handle="jane_doe") == "Hi Jane (@jane_doe)"
    with pytest.raises(GroupReplyError, match=r"unknown placeholder '\{order\}'"):
        variants_from("Hi {name}, your {order}", {})
    with pytest.raises(GroupReplyError, match="empty"):
        variants_from("  ", {"da": ""})
    with pytest.raises(GroupReplyError, match="not a language code"):
        variants_from("Hi", {"zzz-!": "x"})


def test_each_case_gets_its_language_variant_else_the_text_for_every_language() -> None:
    variants = variants_from("Hi {name}, we are on it. – Maria", {"da": "Hej {name}, vi arbejder på det. – Maria"})
    assert adapt(_member(language="da"), variants) == ("da", "Hej Jane Doe, vi arbejder på det. – Maria")
    assert adapt(_member(language="fi"), variants) == ("fi", "Hi Jane Doe, we are on it. – Maria")
    only_danish = variants_from(None, {"da": "Hej {name}"})
    assert adapt(_member(language="en"), only_danish) == "no text in en and no text for every language"


def test_a_long_name_gives_way_to_the_first_name_then_the_handle_within_the_platform_limit() -> None:
    text = "Hi {name}, " + "x" * 255  # 260 besides the name; X allows 280: a name of at most 20 fits
    assert adapt(_member(name="Bartholomew Fitzgerald"), variants_from(text, {}))[1].startswith("Hi Bartholomew, ")
    assert adapt(_member(name="Bartholomewwwwwwwwwwwww Fitz", handle="bf"), variants_from(text, {}))[1].startswith("Hi bf, ")
    over = adapt(_member(handle="bf"), variants_from("y" * 281, {}))
    assert over == "281 characters; x allows 280"
    assert adapt(_member(platform="reddit", handle="bf"), variants_from("y" * 281, {}))[1] == "y" * 281


def test_the_plan_skips_answered_resolved_and_praise_cases_and_replies_already_on_their_way() -> None:
    planned = plan_group([_member(case_id=1), _member(case_id=2, answered=True),
                          _member(case_id=3, draft_status="sending"), _member(case_id=4, draft_status=None),
                          _member(case_id=5, lane="praise"), _member(case_id=6, state="resolved")],
                         variants_from(TEXT, {}))
    assert [(r.case_id, r.draft_id) for r in planned.replies] == [(1, 101), (4, None)]
    assert planned.skipped == {2: "already answered by this group", 3: "its reply is already sending",
                               5: "a praise case: answer it on its own", 6: "already resolved"}


def _burst(count: int) -> list[dict]:
    posts = [post(1_000 + n, BURST + timedelta(seconds=20 * n), "@acme login outage again, cannot log in at all",
                  author=f"worried{n}", followers=10 * n) for n in range(count)]
    posts[0]["author"]["name"] = EVIL_NAME
    return posts


def _ordinary() -> list[dict]:
    texts = ("@acme my order is late again", "@acme love the new kettle", "@acme billing question about my invoice")
    return [post(n, T0 + timedelta(minutes=30 * n), texts[n % 3], author=f"regular{n % 20}") for n in range(52)]


@pytest.fixture
def spiked(engine: Engine) -> Engine:
    settings = radar_settings(warmup_hours=24)
    ingest(engine, settings, _ordinary() + _burst(15))
    radar_tick(engine, settings, now=None)
    assert len(list_spikes(engine)) == 1
    return engine


def test_approving_the_group_approves_one_adapted_reply_per_case_once(spiked: Engine) -> None:
    (spike,) = list_spikes(spiked)
    members = group_members(spiked, spike_id=spike.id)
    assert len(members) == 15
    planned = approve_spike_group(spiked, spike=spike, variants=variants_from(TEXT, {}), approver="maria",
                                  now=utcnow(), address="127.0.0.1")
    assert len(planned.replies) == 15 and planned.skipped == {}
    with spiked.connect() as connection:
        drafts = connection.execute(select(Draft.case_id, Draft.status, Draft.text, Draft.approved_by, Draft.text_hash)
                                    .where(Draft.status == "approved")).all()  # type: ignore[arg-type]
        audits = connection.execute(select(AuditEntry.action, AuditEntry.detail)).all()  # type: ignore[arg-type]
    assert sorted(d.case_id for d in drafts) == sorted(m.case_id for m in members)
    by_case = {d.case_id: d.text for d in drafts}
    for member in members:
        assert by_case[member.case_id].startswith(f"Hi {safe_name(member.author_name, member.author_handle)}, ")
        assert "<script>" not in by_case[member.case_id] and "@everyone" not in by_case[member.case_id]
    assert all(d.approved_by == "maria" and d.text_hash for d in drafts)
    assert sum(a.action == "approve" for a in audits) == 15
    assert [a.detail for a in audits if a.action == "group_approve"] == [
        f"spike {spike.id}: 15 replies approved, 0 left as they were"]
    assert group_progress(spiked, spike_id=spike.id) == {"approved": 15}

    again = approve_spike_group(spiked, spike=spike, variants=variants_from("Another text – Maria", {}),
                                approver="lee", now=utcnow())
    assert again.replies == [] and set(again.skipped.values()) == {"already answered by this group"}
    with spiked.connect() as connection:
        assert connection.execute(select(Draft.id).where(Draft.approved_by == "lee")).all() == []  # type: ignore[arg-type]


class _ReplyOnlyPoster:
    platform = "x"


def test_a_status_update_is_recorded_not_supported_where_the_poster_cannot_post_one_and_never_twice(
        spiked: Engine) -> None:
    (spike,) = list_spikes(spiked)
    outcomes = post_status_updates(spiked, spike=spike, text="Logins are failing; we are on it.", actor="maria",
                                   posters={("Acme", "x"): _ReplyOnlyPoster()}, now=utcnow())
    assert outcomes == {"x": "not supported: the x poster cannot publish a top-level post"}
    again = post_status_updates(spiked, spike=spike, text="Again", actor="maria", posters={}, now=utcnow())
    assert again == {"x": "already posted (a status update is posted once per platform)"}
    (update,) = status_updates(spiked, spike_id=spike.id)
    assert (update.status, update.created_by) == ("not_supported", "maria")
    with pytest.raises(GroupReplyError):
        post_status_updates(spiked, spike=spike, text=" ", actor="maria", posters={}, now=utcnow())


def test_the_console_shows_the_banner_and_the_group_and_approves_it_escaped(spiked: Engine) -> None:
    settings = radar_settings(warmup_hours=24)
    add_users(spiked, ("viewer", "approver"))
    (spike,) = list_spikes(spiked)
    with client(spiked, settings) as viewer:
        login(viewer, "viewer")
        queue = viewer.get("/")
        assert f'<a href="/spikes/{spike.id}">' in queue.text and "mentions by 15 authors" in queue.text
        assert "outage" in queue.text.split('class="alert spike-banner"')[1].split("</div>")[0]
        page = viewer.get(f"/spikes/{spike.id}")
        assert page.status_code == 200 and page.text.count('<tr data-case-id=') == 15
        assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert 'id="group-reply"' not in page.text, "a viewer cannot approve"
        assert viewer.get("/spikes/999999").status_code == 404
        assert viewer.get(f"/spikes/{2**70}").status_code == 404
    with client(spiked, settings) as approver:
        csrf = login(approver, "approver")
        assert 'id="group-reply"' in approver.get(f"/spikes/{spike.id}").text
        assert approver.post(f"/spikes/{spike.id}/approve", data={"text": TEXT}).status_code == 403, "no CSRF token"
        bad = approver.post(f"/spikes/{spike.id}/approve", data={"text": "Hi {nme}", "csrf": csrf})
        assert bad.status_code == 422 and "unknown placeholder" in bad.text
        done = approver.post(f"/spikes/{spike.id}/approve", data={"text": TEXT, "text_da": "", "csrf": csrf})
        assert done.status_code == 303 and "15+replies+approved" in done.headers["location"]
        shown = approver.get(done.headers["location"]).text
        assert "15 approved" in shown and re.search(r"Done: 15 replies approved, 0 cases", shown)
        status = approver.post(f"/spikes/{spike.id}/status", data={"status_text": "We are on it", "csrf": csrf})
        assert status.status_code == 303
        assert "not supported" in approver.get(status.headers["location"]).text


def test_the_command_line_approves_the_group_once_and_says_what_is_wrong_in_one_line(tmp_path: Path, spiked: Engine) -> None:
    if spiked.dialect.name != "sqlite":
        pytest.skip("the command line's database here is the SQLite file")
    command = [str(Path(sys.executable).with_name("closeloop")), "--config", str(REPO / "config.toml")]
    env = {"PATH": "/usr/bin:/bin", "CLOSELOOP_DATABASE_URL": spiked.url.render_as_string(hide_password=False)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)

    (spike,) = list_spikes(spiked)
    bad = run("spikes", "approve", str(spike.id), "--text", "Hi {order}")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "unknown placeholder" in bad.stderr
    assert run("spikes", "approve", "999", "--text", TEXT).returncode == 1
    for bad_id in ("0", "x", "99999999999999999999999"):
        refused = run("spikes", "show", bad_id)
        assert refused.returncode == 2 and "ID" in refused.stderr and "Traceback" not in refused.stderr
    empty = run("spikes", "status", str(spike.id), "--text", " ")
    assert empty.returncode == 2 and empty.stderr.count("\n") == 1 and "empty" in empty.stderr
    assert run("spikes", "approve", str(spike.id), "--text-for", "da").returncode == 2
    done = run("spikes", "approve", str(spike.id), "--text", TEXT, "--text-for", "da=Hej {name} – Maria", "--as", "maria")
    assert done.returncode == 0 and "15 replies approved by maria" in done.stdout, done.stderr
    again = run("spikes", "approve", str(spike.id), "--text", TEXT)
    assert again.returncode == 1 and again.stdout.count("already answered by this group") == 15
    shown = run("spikes", "show", str(spike.id))
    assert shown.returncode == 0 and shown.stdout.count("reply=approved (group)") == 15


def test_each_adapted_reply_carries_the_style_guides_findings_as_one_reply_would() -> None:
    signed = plan_group([_member(case_id=1), _member(case_id=2, language="da")],
                        variants_from(TEXT, {"da": "Hej {name}, vi arbejder på det."}), signatures=["– Maria, Acme care"])
    assert signed.replies[0].style_issues == ()
    codes = {issue["code"] for issue in signed.replies[1].style_issues}
    assert {"no_signature", "no_apology"} <= codes
    assert signed.style_summary() == {code: 1 for code in codes}
