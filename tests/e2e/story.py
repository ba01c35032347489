"""One customer per platform and what they write, step by step, and the platform ids it produced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.e2e.desk import Desk

COMPLAINT = "my order #4411 never arrived and nobody answers. I want a refund, this is terrible"
PRAISE = "thanks, the new app is lovely and checkout was so quick"
FOLLOW_UP = "Thanks, it arrived today! All good now."
CSAT_ANSWER = "5/5, thank you for the help"
CSAT_SCORE = 5
REPLAY_ID = "t3_replayed1"  # last week's complaint, in the replay file


@dataclass
class Story:
    """A customer's thread on one platform, as platform ids (``mention.platform_id``)."""

    platform: str
    complaint: str = ""
    praise: str = ""
    case_id: int = 0
    reply: str = ""  # ours, to the complaint
    follow_up: str = ""
    csat_reply: str = ""  # ours, to the follow-up
    answer: str = ""
    broken: str = ""  # why the story could not go on (an earlier step failed here); later steps skip it


def seed_complaints(desk: Desk) -> None:
    """Each platform's customer complains, and also posts something happy (stored and scored, no case)."""
    for platform in desk.platforms:
        desk.story[platform.name] = Story(platform.name, complaint=platform.complain(COMPLAINT),
                                          praise=platform.praise(PRAISE))


def reply_to(desk: Desk, story: Story, parent: str) -> str:
    """Our one reply to ``parent`` on the fake; "" (and the story marked broken) when there is not one."""
    ours = [reply for reply, replied_to in desk.platform(story.platform).our_replies() if replied_to == parent]
    if len(ours) != 1 and not story.broken:
        story.broken = f"{len(ours)} replies of ours to {parent} on {story.platform}, expected exactly one"
    return ours[0] if len(ours) == 1 else ""


def seed_follow_ups(desk: Desk) -> None:
    """Each customer answers our reply: it arrived, thanks."""
    for story in desk.story.values():
        story.reply = reply_to(desk, story, story.complaint)
        if not story.broken:
            story.follow_up = desk.platform(story.platform).follow_up(
                our_reply=story.reply, own_post=story.complaint, text=FOLLOW_UP)


def seed_answers(desk: Desk) -> None:
    """Each customer rates the help in reply to our satisfaction follow-up."""
    for story in desk.story.values():
        story.csat_reply = reply_to(desk, story, story.follow_up)
        if not story.broken:
            story.answer = desk.platform(story.platform).answer(our_reply=story.csat_reply, text=CSAT_ANSWER)
