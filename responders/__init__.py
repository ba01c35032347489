"""Replying to complaints: drafts, the care style guide, the outbox, resolution tracking and the digest."""
