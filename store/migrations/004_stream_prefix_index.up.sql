-- Prefix search over stream ids (eventscope streams --prefix, the console's
-- filter): LIKE 'order-4%' can use the primary key only under the C
-- collation. A text_pattern_ops index serves it under any collation. The
-- stream id never changes, so the per-append streams update stays HOT.
CREATE INDEX streams_id_pattern_idx ON eventscope.streams (stream_id text_pattern_ops);
