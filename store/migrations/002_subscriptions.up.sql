-- eventscope schema, version 2: durable subscriptions (owned by subscriptions/).
--
-- One row per subscription: its checkpoint in the global log, its control
-- state (written by admin operations), its lease fence, and what its holder
-- reports for monitoring. Parked events reference the events they hold back.
--
-- Fencing: a holder bumps lease_epoch when it acquires the subscription's
-- lease (a session advisory lock) and every checkpoint write it makes checks
-- lease_epoch and reset_version, so a stale holder, or one that missed an
-- admin reset, can never move the checkpoint.
-- Lease epochs come from a sequence, so they never repeat, even for a
-- subscription deleted and created again.
CREATE SEQUENCE eventscope.subscription_lease_seq AS bigint;

CREATE TABLE eventscope.subscriptions (
    name                    text        PRIMARY KEY,
    categories              text[]      NOT NULL DEFAULT '{}',   -- filter; empty = all
    types                   text[]      NOT NULL DEFAULT '{}',   -- filter; empty = all
    checkpoint_tx           xid8        NOT NULL DEFAULT '0',    -- (checkpoint_tx, checkpoint_pos): the
    checkpoint_pos          bigint      NOT NULL DEFAULT 0,      -- last event processed or scanned past
    -- control, written by admin operations
    paused                  boolean     NOT NULL DEFAULT false,
    stopped                 boolean     NOT NULL DEFAULT false,  -- StopOnFailure halted at a failing event
    control_version         bigint      NOT NULL DEFAULT 0,      -- bumped by every admin operation
    applied_control_version bigint      NOT NULL DEFAULT 0,      -- the holder has acted on changes up to here
    reset_version           bigint      NOT NULL DEFAULT 0,      -- bumped when an admin moves the checkpoint
    -- lease and holder
    lease_epoch             bigint      NOT NULL DEFAULT 0,      -- set from the sequence by each new holder
    holder_host             text,
    holder_pid              integer,
    holder_instance         text,
    heartbeat               timestamptz,
    -- monitoring, written by the holder (at most about once a second)
    state                   text        NOT NULL DEFAULT 'catching-up', -- catching-up, live, failing, stopped
    rate                    double precision NOT NULL DEFAULT 0,        -- events/s over the last minute
    processed               bigint      NOT NULL DEFAULT 0,
    failures                bigint      NOT NULL DEFAULT 0,      -- failed handler attempts
    last_error              text,
    last_error_at           timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now()
);

-- Events a subscription gave up on after its last attempt. The event itself
-- stays in eventscope.events (found by event_id); (tx_id, position) is its
-- checkpoint, for ordering.
CREATE TABLE eventscope.parked_events (
    subscription    text        NOT NULL REFERENCES eventscope.subscriptions (name) ON DELETE CASCADE,
    event_id        uuid        NOT NULL,
    tx_id           xid8        NOT NULL,
    position        bigint      NOT NULL,
    attempts        integer     NOT NULL,
    last_error      text        NOT NULL,
    parked_at       timestamptz NOT NULL DEFAULT now(),
    retry_requested boolean     NOT NULL DEFAULT false,  -- an admin asked the holder to deliver it again
    PRIMARY KEY (subscription, event_id)
);
CREATE INDEX parked_events_order_idx ON eventscope.parked_events (subscription, tx_id, position);
