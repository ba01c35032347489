"""The whole care loop, as shipped: the installed `closeloop` command with a real config.toml, against real
HTTP fakes of X, Reddit, Mastodon and Bluesky, a replay file and a real SMTP server; on SQLite with one
daemon and on PostgreSQL with two of each.

poll (every platform and the replay file) → score → case → draft → `closeloop approve` → `closeloop post`
→ the customer's follow-up in the thread → resolved (confirmed) → a CSAT follow-up drafted, approved in the
console over HTTP, sent by the daemons' post tick → the customer's rating → CSAT recorded → the weekly
digest, by `closeloop digest --send` and by the daemons' digest job → every daemon stops on SIGTERM.

Each step is a module-scoped fixture that acts once and then waits on what the database shows; the tests
after it check every platform on its own, so a product defect on one platform marks just that test as an
expected failure (``defects`` in platforms.py). A new platform or option gets its row in ``platforms()``.
"""

from __future__ import annotations

import email
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default
from typing import Any

import httpx
import pytest

from tests.e2e.browser import log_in, press
from tests.e2e.desk import RECIPIENTS, SIGNATURE, Desk
from tests.e2e.platforms import DEFECTS, PLATFORM_NAMES, SECRETS, Platform
from tests.e2e.story import CSAT_SCORE, REPLAY_ID, seed_answers, seed_follow_ups

pytestmark = pytest.mark.e2e

APPROVER, PASSWORD = "ana", "correct horse battery staple"
POSTERS = {"sqlite": [("desk-post-1", "post,digest")],
           "postgres": [("desk-post-1", "post,digest"), ("desk-post-2", "post,digest")]}


def each_platform(step: str) -> list[Any]:
    """The platforms as parameters; one where ``step`` meets a known product defect is expected to fail."""
    return [pytest.param(name, marks=pytest.mark.xfail(strict=True, raises=AssertionError,
                                                       reason=DEFECTS[(name, step)]))
            if (name, step) in DEFECTS else name for name in PLATFORM_NAMES]


def settle(desk: Desk, step: str, done: Callable[[Platform], bool], *,
           past_it: Callable[[Platform], bool] = lambda p: False, timeout: float = 90) -> None:
    """Wait until ``done`` holds on every platform; one with a known defect at ``step`` only until
    ``past_it`` shows the daemons went past where it would have happened (see ``Desk.settle``)."""
    live = [p for p in desk.platforms if not desk.story[p.name].broken]
    desk.settle(step, lambda: all(done(p) or ((p.name, step) in DEFECTS and past_it(p)) for p in live),
                timeout=timeout)


def week_of(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


# -- the steps --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def drafted(desk: Desk) -> Desk:
    """The watching daemons poll every platform and the replay file, score, open cases and draft replies."""
    def drafted_on(p: Platform) -> bool:
        story = desk.story[p.name]
        complaint, praise = desk.mention(p.name, story.complaint), desk.mention(p.name, story.praise)
        if complaint is None or complaint.case_id is None or praise is None or praise.triaged_at is None:
            return False
        story.case_id = complaint.case_id
        return bool(desk.drafts(story.case_id, "reply"))

    def replay_drafted() -> bool:
        mention = desk.mention("reddit", REPLAY_ID)
        return mention is not None and mention.case_id is not None and bool(desk.drafts(mention.case_id))

    settle(desk, "drafted", drafted_on)
    desk.settle("last week's replayed complaint to be drafted", replay_drafted, timeout=30)
    return desk


@pytest.fixture(scope="module")
def approved_by_cli(drafted: Desk) -> dict[str, Any]:
    """`closeloop approve CASE --as maria` for each platform's case."""
    return {name: drafted.closeloop("approve", str(story.case_id), "--as", "maria")
            for name, story in drafted.story.items() if story.case_id}


@pytest.fixture(scope="module")
def posted_by_cli(approved_by_cli: dict[str, Any], drafted: Desk) -> Any:
    """`closeloop post`: every approved reply goes out now (the watching daemons do not post)."""
    return drafted.closeloop("post")


@pytest.fixture(scope="module")
def resolved(posted_by_cli: Any, drafted: Desk) -> Desk:
    """Each customer writes in the thread that it arrived; the thread poll finds it and the case resolves."""
    desk = drafted
    seed_follow_ups(desk)

    def resolved_on(p: Platform) -> bool:
        case = desk.case(desk.story[p.name].case_id)
        return case is not None and case.state == "resolved" and bool(desk.drafts(case.id, "csat"))

    settle(desk, "resolved", resolved_on)
    return desk


@pytest.fixture(scope="module")
def approved_in_console(resolved: Desk) -> dict[str, httpx.Response | AssertionError]:
    """An approver made with `closeloop users add` logs in to the daemon's console and, on each case's page,
    presses "Approve & send" under the satisfaction follow-up."""
    desk = resolved
    desk.ok("users", "add", APPROVER, "--role", "approver", stdin=PASSWORD + "\n")
    browser = log_in(desk.console, APPROVER, PASSWORD)
    answers: dict[str, httpx.Response | AssertionError] = {}
    try:
        for name, story in desk.story.items():
            try:
                answers[name] = press(browser, f"/cases/{story.case_id}", form="editor", button="approve")
            except AssertionError as exc:  # the button is missing: that platform's test says so
                answers[name] = exc
    finally:
        browser.close()
    return answers


@pytest.fixture(scope="module")
def csat_posted(approved_in_console: dict[str, Any], resolved: Desk) -> Desk:
    """The posting daemons start (two on PostgreSQL) and their post tick sends the approved follow-ups."""
    desk = resolved
    for node_id, roles in POSTERS[desk.backend]:
        desk.start_daemon(node_id, roles)

    def sent_on(p: Platform) -> bool:
        return [d.status for d in desk.drafts(desk.story[p.name].case_id, "csat")] == ["sent"]

    settle(desk, "csat_posted", sent_on)
    return desk


@pytest.fixture(scope="module")
def csat_recorded(csat_posted: Desk) -> Desk:
    """Each customer rates the help in reply to our follow-up; the poll finds it and the case records it."""
    desk = csat_posted
    seed_answers(desk)
    # A poll running as the ratings went up may have missed them; the one after it cannot have.
    at_seeding = {p.name: desk.source(f"acme-{p.name}") for p in desk.platforms}
    finished: dict[str, set[datetime]] = {p.name: set() for p in desk.platforms}

    def recorded_on(p: Platform) -> bool:
        case = desk.case(desk.story[p.name].case_id)
        return case is not None and case.csat is not None

    def polled_past_it(p: Platform) -> bool:
        before, now = at_seeding[p.name], desk.source(f"acme-{p.name}")
        if now.last_success_at is not None and (before.last_success_at is None
                                                or now.last_success_at > before.last_success_at):
            finished[p.name].add(now.last_success_at)
        return len(finished[p.name]) >= (2 if before.lease_owner else 1) and desk.untriaged() == 0

    settle(desk, "csat_recorded", recorded_on, past_it=polled_past_it)
    return desk


# -- the checks, step by step -----------------------------------------------------------------------------------

@pytest.mark.parametrize("platform", each_platform("drafted"))
def test_each_platform_is_polled_scored_and_its_complaint_drafted(drafted: Desk, platform: str) -> None:
    desk, story = drafted, drafted.story[platform]
    complaint = desk.mention(platform, story.complaint)
    assert complaint is not None, f"the {platform} complaint was never stored\n{desk.notes}"
    assert complaint.label == "negative" and complaint.case_id, complaint
    praise = desk.mention(platform, story.praise)
    assert praise is not None and praise.label == "positive", praise
    assert praise.case_id is None or desk.case(praise.case_id).lane == "praise", "praise never opens a complaint case"
    case = desk.case(complaint.case_id)
    assert (case.state, case.platform) == ("open", platform), case
    [draft] = desk.drafts(case.id, "reply")
    assert draft.status == "draft" and SIGNATURE in draft.text, draft
    source = desk.source(f"acme-{platform}")
    assert source.last_success_at is not None and source.last_error is None, source


def test_the_replay_file_is_ingested_into_a_drafted_case(drafted: Desk) -> None:
    mention = drafted.mention("reddit", REPLAY_ID)
    assert mention is not None and mention.label == "negative" and mention.case_id, mention
    assert [(d.kind, d.status) for d in drafted.drafts(mention.case_id)] == [("reply", "draft")]


@pytest.mark.parametrize("platform", each_platform("approved_cli"))
def test_closeloop_approve_approves_the_cases_draft(approved_by_cli: dict[str, Any], drafted: Desk,
                                                    platform: str) -> None:
    done = approved_by_cli.get(platform)
    assert done is not None, f"no case on {platform} to approve"
    assert (done.returncode, "Traceback" in done.stderr) == (0, False), done.stdout + done.stderr
    [draft] = drafted.drafts(drafted.story[platform].case_id, "reply")
    assert (draft.status, draft.approved_by) == ("approved", "maria"), draft


def test_closeloop_post_exits_0(posted_by_cli: Any) -> None:
    assert (posted_by_cli.returncode, "Traceback" in posted_by_cli.stderr) == (0, False), \
        posted_by_cli.stdout + posted_by_cli.stderr


@pytest.mark.parametrize("platform", each_platform("posted_cli"))
def test_closeloop_post_lands_exactly_one_reply_on_the_platform(posted_by_cli: Any, drafted: Desk,
                                                                platform: str) -> None:
    desk, story = drafted, drafted.story[platform]
    replies = desk.platform(platform).our_replies()
    assert [parent for _reply, parent in replies] == [story.complaint], replies
    [draft] = desk.drafts(story.case_id, "reply")
    assert (draft.status, draft.platform_reply_id) == ("sent", replies[0][0]), draft
    case = desk.case(story.case_id)
    assert case.state == "responded" and case.first_response_at is not None, case


@pytest.mark.parametrize("platform", each_platform("resolved"))
def test_the_customers_follow_up_in_the_thread_resolves_the_case(resolved: Desk, platform: str) -> None:
    desk, story = resolved, resolved.story[platform]
    assert not story.broken, story.broken
    follow_up = desk.mention(platform, story.follow_up)
    assert follow_up is not None and follow_up.case_id == story.case_id, (follow_up, desk.notes)
    case = desk.case(story.case_id)
    assert (case.state, case.resolution) == ("resolved", "confirmed"), case
    [csat] = desk.drafts(story.case_id, "csat")
    assert csat.status == "draft" and csat.mention_id == follow_up.id and SIGNATURE in csat.text, csat


@pytest.mark.parametrize("platform", each_platform("approved_console"))
def test_an_approver_approves_the_csat_follow_up_in_the_console(approved_in_console: dict[str, Any],
                                                                resolved: Desk, platform: str) -> None:
    answer = approved_in_console[platform]
    if isinstance(answer, AssertionError):
        raise answer
    case_id = resolved.story[platform].case_id
    [csat] = resolved.drafts(case_id, "csat")
    # approve and next: on to the next case in the lane (or this one when none is left), with an undo offer
    location = answer.headers.get("location") or ""
    assert answer.status_code == 303 and re.fullmatch(rf"/cases/\d+\?(lane=\w+&)?done=approved&undo={case_id}",
                                                      location), (location, answer.text[:2000])
    assert csat.approved_by == APPROVER and csat.status in ("approved", "sending", "sent"), csat


@pytest.mark.parametrize("platform", each_platform("csat_posted"))
def test_the_daemons_post_tick_sends_each_csat_follow_up_exactly_once(csat_posted: Desk, platform: str) -> None:
    desk, story = csat_posted, csat_posted.story[platform]
    [csat] = desk.drafts(story.case_id, "csat")
    assert csat.status == "sent", (csat, desk.notes)
    replies = desk.platform(platform).our_replies()
    assert sorted(parent for _reply, parent in replies) == sorted([story.complaint, story.follow_up]), replies
    assert csat.platform_reply_id == next(reply for reply, parent in replies if parent == story.follow_up)


@pytest.mark.parametrize("platform", each_platform("csat_recorded"))
def test_the_customers_rating_is_recorded_on_the_case(csat_recorded: Desk, platform: str) -> None:
    desk, story = csat_recorded, csat_recorded.story[platform]
    assert not story.broken, story.broken
    answer = desk.mention(platform, story.answer)
    assert answer is not None, f"the {platform} rating was never stored {desk.notes}"
    case = desk.case(story.case_id)
    assert (case.state, case.csat) == ("resolved", CSAT_SCORE), (
        f"case {case.id} ({case.state}, csat {case.csat}) is the thread {case.conversation_id}; the rating was "
        f"stored in the thread {answer.conversation_id}, in reply to {answer.in_reply_to_id}, case {answer.case_id}")


def test_every_customer_post_is_stored_once_and_none_of_ours(csat_recorded: Desk) -> None:
    desk = csat_recorded
    for name, story in desk.story.items():
        stored = desk.platform_ids(name)
        assert len(stored) == len(set(stored)), f"{name}: stored twice: {stored}"
        required = {story.complaint, story.praise, story.follow_up}
        seeded = required | {story.answer} | ({REPLAY_ID} if name == "reddit" else set())
        assert required <= set(stored) <= seeded, (name, stored, seeded)


def _digests(desk: Desk, week: str) -> list[EmailMessage]:
    messages = [email.message_from_bytes(raw, policy=default) for _to, raw in desk.inbox.messages]
    return [m for m in messages if m["X-Closeloop-Week"] == week]


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, message
    return str(part.get_content())


def _week_bounds(week: str) -> tuple[datetime, datetime]:
    start = datetime.fromisocalendar(int(week[:4]), int(week[6:]), 1).replace(tzinfo=UTC)
    return start, start + timedelta(days=7)


def test_closeloop_digest_send_mails_this_weeks_numbers(csat_recorded: Desk) -> None:
    desk = csat_recorded
    week = week_of(desk.mention("x", desk.story["x"].complaint).created_at)
    out = desk.ok("digest", "--send", "--week", week)
    assert f"digest {week} sent to {len(RECIPIENTS)} recipient(s)" in out, out
    messages = _digests(desk, week)
    assert sorted(m["To"] for m in messages) == sorted(RECIPIENTS)
    text = _text(messages[0])
    complaints = len(desk.story)
    rated = sum(1 for story in desk.story.values() if getattr(desk.case(story.case_id), "csat", None) is not None)
    assert rated >= sum(1 for p in PLATFORM_NAMES if (p, "csat_recorded") not in DEFECTS)
    mentions = desk.mentions_between(*_week_bounds(week))
    for line in (f"{complaints} complaints, {complaints} resolved, 0 answered but not fixed.",
                 "Answered within the hour: 100%", "Resolved: 100%", f"CSAT: {CSAT_SCORE:.1f}/5",
                 f"Mentions: {mentions} (last week 1)", f"Complaints: {complaints} (last week 1)",
                 f"CSAT answers / asked: {rated} / {complaints}"):
        assert line in text, f"{line!r} not in the digest:\n{text}"
    again = desk.ok("digest", "--send", "--week", week)
    assert f"digest {week} sent to 0 recipient(s)" in again and len(_digests(desk, week)) == len(RECIPIENTS)


def test_the_daemons_digest_job_mails_last_weeks_digest_once(csat_recorded: Desk) -> None:
    desk = csat_recorded
    week = week_of(desk.mention("reddit", REPLAY_ID).created_at)
    desk.wait("the digest job to mail last week's digest", lambda: len(_digests(desk, week)) >= len(RECIPIENTS),
              timeout=30)
    messages = _digests(desk, week)
    assert sorted(m["To"] for m in messages) == sorted(RECIPIENTS), "one each, however many daemons run"
    assert "1 complaints, 0 resolved, 0 answered but not fixed." in _text(messages[0]), _text(messages[0])
    assert "Mentions: 1 (last week 0)" in _text(messages[0]), _text(messages[0])


def test_every_daemon_stops_on_sigterm_and_exits_0_with_no_traceback_logged(csat_recorded: Desk) -> None:
    desk = csat_recorded
    codes = desk.stop_daemons()
    assert len(codes) == len(desk.daemons) and set(codes.values()) == {0}, f"{codes}\n{desk.logs()}"
    for daemon in desk.daemons:
        log = daemon.output()
        assert f"daemon_stopped owner={daemon.node_id}" in log and "forced" not in log, log[-3000:]
        assert "Traceback" not in log, f"{daemon.node_id}:\n{log[-6000:]}"


def test_each_recipient_got_each_weeks_digest_exactly_once(csat_recorded: Desk) -> None:
    sent = [(m["X-Closeloop-Week"], m["To"]) for m in
            (email.message_from_bytes(raw, policy=default) for _to, raw in csat_recorded.inbox.messages)]
    assert len(sent) == 2 * len(RECIPIENTS) and len(set(sent)) == len(sent), sent


def test_no_secret_reaches_the_config_a_log_or_a_commands_output(csat_recorded: Desk) -> None:
    desk = csat_recorded
    texts = {"config.toml": desk.config.read_text("utf-8"), "commands": "\n".join(desk.transcript),
             **{d.node_id: d.output() for d in desk.daemons}}
    assert len(desk.transcript) >= 8, desk.transcript
    for where, text in texts.items():
        leaked = [secret for secret in SECRETS if secret in text]
        assert not leaked, f"{where} shows {leaked}"
