"""Getting papers to people: the outbox worker, pacing, rendering, daily posts."""
