-- eventscope schema, version 6: causation traces and the event-type catalog.
--
-- Correlation and causation ids live in an event's metadata under the keys
-- "correlationId" (the conversation the event belongs to: the id of the
-- command or event that started it) and "causationId" (the command or event
-- that caused this one). Both are indexed, partially, so that an append
-- pays for at most one of them:
--   - the correlation index holds every event that has a correlationId:
--     a conversation is one index range, causes and effects alike;
--   - the causation index holds only the events that have a causationId
--     but no correlationId (writers that link causes only), which a trace
--     follows from their causes. Events that follow the convention are
--     reached through their correlation and cost this index nothing.
-- Queries must repeat the partial predicates for the planner to use them.
CREATE INDEX events_correlation_idx ON eventscope.events ((metadata->>'correlationId'))
    WHERE metadata ? 'correlationId';
CREATE INDEX events_causation_idx ON eventscope.events ((metadata->>'causationId'))
    WHERE metadata ? 'causationId' AND NOT metadata ? 'correlationId';

-- The event-type catalog: one row per event type with its counts and the
-- shape of its data, kept by store.Catalog. It is advanced through the
-- global log's no-skip reads, in bounded batches, from its own checkpoint
-- (one row). Nothing on the append path touches these tables.
CREATE TABLE eventscope.catalog_state (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    tx_id       xid8        NOT NULL DEFAULT '0',
    position    bigint      NOT NULL DEFAULT 0,
    events      bigint      NOT NULL DEFAULT 0,   -- events folded into the catalog
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO eventscope.catalog_state DEFAULT VALUES;

CREATE TABLE eventscope.catalog_types (
    type        text        PRIMARY KEY,
    count       bigint      NOT NULL,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    profile     jsonb       NOT NULL   -- categories, fields, drift (store/catalog.go)
);

-- Expression statistics: without them the planner guesses that a
-- correlation holds thousands of events, and a trace's recursive query
-- looks expensive enough to JIT-compile (half a second for five rows).
CREATE STATISTICS eventscope.events_correlation_stats ON ((metadata->>'correlationId')) FROM eventscope.events;
CREATE STATISTICS eventscope.events_causation_stats ON ((metadata->>'causationId')) FROM eventscope.events;
