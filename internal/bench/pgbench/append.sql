-- eventscope.append from plain SQL, one event per call, each client on a
-- stream of its own, any expected version. Variables: events (a JSON array
-- holding the benchmark event), given with -D by `eventscope bench`.
SELECT eventscope.append('pgb-' || :client_id::text, NULL, :events::jsonb);
