-- eventscope schema, version 7: filtered reads that cost what they return,
-- and one definition of a category.
--
-- A category is the part of the stream id before the first '-' (the whole id
-- when it has none): eventscope.category(stream_id), the same rule as the Go
-- client's store.Category. read_category used LIKE 'category-%' instead, which
-- missed the stream named just 'acct' and gave 'acct-b' the streams of
-- category 'acct' (acct-b-1). It now compares eventscope.category.
--
-- Reading one category, or one event type, from a checkpoint walked the
-- global log: on 700k events a category of 3 events cost ~190 ms. Two
-- indexes, in global order within each category and each type, let those
-- reads start at the checkpoint and stop after the page, in the no-skip
-- order (transaction id, position) below the horizon, exactly as read_all.
--
-- The category index is an expression index: no stored column, so an event
-- row is no wider; the expression (split_part) is computed once per insert.
-- Each index costs an append one more index insertion; `eventscope bench
-- append` measures it.
CREATE INDEX events_category_idx ON eventscope.events (eventscope.category(stream_id), tx_id, position);
CREATE INDEX events_type_idx ON eventscope.events (type, tx_id, position);

-- eventscope.read_category(category, after_tx, after_position, max_count):
-- the category's events after a checkpoint, only below the oldest running
-- transaction, in global order (the same rule as read_all). The range is
-- two row comparisons on the index's columns, ordered by all three (within
-- one category that is the global order): only events_category_idx serves
-- it, so no plan walks the global log for a rare category.
CREATE OR REPLACE FUNCTION eventscope.read_category(category text, after_tx xid8 DEFAULT '0', after_position bigint DEFAULT 0, max_count int DEFAULT 1000)
RETURNS SETOF eventscope.events
LANGUAGE sql STABLE AS $$
    SELECT * FROM eventscope.events e
     WHERE (eventscope.category(e.stream_id), e.tx_id, e.position) > (read_category.category, after_tx, after_position)
       AND (eventscope.category(e.stream_id), e.tx_id) < (read_category.category, (SELECT pg_snapshot_xmin(pg_current_snapshot())))
     ORDER BY eventscope.category(e.stream_id), e.tx_id, e.position
     LIMIT max_count
$$;

-- eventscope.read_type(type, after_tx, after_position, max_count): one event
-- type's events after a checkpoint, in global order, below the horizon.
CREATE FUNCTION eventscope.read_type(type text, after_tx xid8 DEFAULT '0', after_position bigint DEFAULT 0, max_count int DEFAULT 1000)
RETURNS SETOF eventscope.events
LANGUAGE sql STABLE AS $$
    SELECT * FROM eventscope.events e
     WHERE (e.type, e.tx_id, e.position) > (read_type.type, after_tx, after_position)
       AND (e.type, e.tx_id) < (read_type.type, (SELECT pg_snapshot_xmin(pg_current_snapshot())))
     ORDER BY e.type, e.tx_id, e.position
     LIMIT max_count
$$;
