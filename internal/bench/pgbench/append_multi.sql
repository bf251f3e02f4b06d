-- eventscope.append_multi from plain SQL: one event to each of 4 streams of
-- the client per call, atomically. Variables: event (the benchmark event, a
-- JSON object), given with -D by `eventscope bench`.
SELECT eventscope.append_multi(jsonb_build_array(
    jsonb_build_object('stream_id', 'pgm-' || :client_id::text || '-a', 'events', jsonb_build_array(:event::jsonb)),
    jsonb_build_object('stream_id', 'pgm-' || :client_id::text || '-b', 'events', jsonb_build_array(:event::jsonb)),
    jsonb_build_object('stream_id', 'pgm-' || :client_id::text || '-c', 'events', jsonb_build_array(:event::jsonb)),
    jsonb_build_object('stream_id', 'pgm-' || :client_id::text || '-d', 'events', jsonb_build_array(:event::jsonb))));
