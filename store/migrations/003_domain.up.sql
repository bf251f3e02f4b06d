-- eventscope schema, version 3: the demo domain's tables (owned by domain/).
--
-- snapshots: an aggregate's folded state after the event at `version`, kept
-- every N events of registered aggregates. A snapshot is only used while its
-- schema_version equals the aggregate's current one, so changing an
-- aggregate's fold (and bumping its schema version) silently retires every
-- old snapshot; they are rebuilt as streams are loaded again.
CREATE TABLE eventscope.snapshots (
    stream_id      text        NOT NULL,
    schema_version int         NOT NULL,
    version        bigint      NOT NULL,
    aggregate      text        NOT NULL,
    state          jsonb       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream_id, schema_version, version)
);

-- order-summary read model, kept exactly once by a transactional handler
-- (the rows change in the same transaction as the subscription checkpoint).
-- version is the order stream's version last applied: an event at or below
-- it is a replay and changes nothing.
CREATE TABLE eventscope.order_summary (
    order_id    text        PRIMARY KEY,
    customer_id text        NOT NULL,
    status      text        NOT NULL,
    total       bigint      NOT NULL,   -- cents
    lines       int         NOT NULL,
    reason      text        NOT NULL DEFAULT '',
    version     bigint      NOT NULL,
    placed_at   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX order_summary_status_idx   ON eventscope.order_summary (status);
CREATE INDEX order_summary_customer_idx ON eventscope.order_summary (customer_id);

-- Totals per customer, derived from the same events in the same transaction.
CREATE TABLE eventscope.customer_totals (
    customer_id     text   PRIMARY KEY,
    orders          bigint NOT NULL DEFAULT 0,
    pending         bigint NOT NULL DEFAULT 0,
    approved        bigint NOT NULL DEFAULT 0,
    rejected        bigint NOT NULL DEFAULT 0,
    cancelled       bigint NOT NULL DEFAULT 0,
    shipped         bigint NOT NULL DEFAULT 0,
    placed_total    bigint NOT NULL DEFAULT 0,   -- cents, every order placed
    approved_total  bigint NOT NULL DEFAULT 0,   -- cents, approved and not cancelled (shipped included)
    shipped_total   bigint NOT NULL DEFAULT 0    -- cents
);

-- Orders by state, for dashboards: SELECT * FROM eventscope.orders_by_status.
CREATE VIEW eventscope.orders_by_status AS
    SELECT status, count(*) AS orders, sum(total)::bigint AS total
      FROM eventscope.order_summary GROUP BY status;
