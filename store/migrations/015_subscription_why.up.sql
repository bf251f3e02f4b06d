-- eventscope schema, version 15: why a subscription is behind (owned by
-- subscriptions/).
--
-- What the console's one-line "why is it behind" and `subs show` need beside
-- the checkpoint and the lag: since when an operator paused it, which event
-- its holder is retrying now (and when it tries next), how long its handler
-- takes (the 99th percentile of recent calls), and, for each parked event,
-- its first failure and its attempts (bounded: the last 20, each error cut
-- to 500 bytes).
ALTER TABLE eventscope.subscriptions
    ADD COLUMN paused_at      timestamptz,  -- set by the pause that paused it, cleared by resume
    -- the event the holder is retrying now (NULL when none), written with
    -- each failure and by the heartbeat
    ADD COLUMN retry_event    uuid,
    ADD COLUMN retry_stream   text,
    ADD COLUMN retry_version  bigint,
    ADD COLUMN retry_attempt  integer,      -- failed attempts so far
    ADD COLUMN retry_attempts integer,      -- attempts before it is parked
    ADD COLUMN retry_next_at  timestamptz,  -- the next attempt (NULL: the last failed)
    -- the holder's handler time over its last calls (heartbeat)
    ADD COLUMN handler_p99_us bigint,
    ADD COLUMN handler_calls  integer;      -- calls the percentile is over

ALTER TABLE eventscope.parked_events
    ADD COLUMN first_failed_at timestamptz,
    ADD COLUMN history         jsonb NOT NULL DEFAULT '[]';  -- [{"at": timestamptz, "attempt": n, "error": text}], oldest first
