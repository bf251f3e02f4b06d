-- The console's figures dataset: 1,000,000 events in 100,000 streams.
-- Seed the domain's history first, then run this file in the same database:
--
--   eventscope seed --db "$DB" --customers 9000 --orders 90000   # 430,950 events, 99,000 streams
--   psql "$DB" -f tui/e2e/testdata/bigdata.sql                   # + customer-whale (100,000 events)
--                                                                  # + 999 audit-NNN streams (469,050 events)
--
-- customer-whale is a Customer aggregate of 100,000 events (registered,
-- then credit reserved and released in turn) for the time-travel figure;
-- the audit streams are a category with no registered aggregate (the
-- generic fold). It inserts rows directly, as a bulk tool would, in one
-- transaction, so it writes no snapshots: the first time-travel visit to
-- customer-whale writes them (lazily, in the domain package).
BEGIN;
INSERT INTO eventscope.events (stream_id, version, event_id, type, data, metadata, recorded_at)
SELECT 'customer-whale', g, gen_random_uuid(),
  CASE WHEN g=0 THEN 'CustomerRegistered' WHEN g%2=1 THEN 'CreditReserved' ELSE 'CreditReleased' END,
  CASE WHEN g=0 THEN '{"name":"Whale Corp","creditLimit":100000000}'::jsonb
       WHEN g%2=1 THEN jsonb_build_object('orderId','w'||((g+1)/2),'amount', 100 + ((g+1)/2)%900)
       ELSE jsonb_build_object('orderId','w'||(g/2),'amount', 100 + (g/2)%900) END,
  '{}'::jsonb, now() - interval '30 days' + g * interval '20 seconds'
FROM generate_series(0, 99999) g ORDER BY g;
INSERT INTO eventscope.streams (stream_id, category, version, event_count, created_at, updated_at)
VALUES ('customer-whale','customer',99999,100000, now()-interval '30 days', now()-interval '30 days' + 99999*interval '20 seconds');
INSERT INTO eventscope.events (stream_id, version, event_id, type, data, metadata, recorded_at)
SELECT 'audit-'||lpad(s::text,3,'0'), v, gen_random_uuid(), (ARRAY['UserLoggedIn','SettingChanged','ReportExported'])[1+v%3],
  jsonb_build_object('user','u'||(v%50),'seq',v), '{}'::jsonb, now() - interval '20 days' + (s*1000+v)*interval '1 second'
FROM generate_series(0,998) s, generate_series(0,468) v ORDER BY s, v;
INSERT INTO eventscope.events (stream_id, version, event_id, type, data, metadata, recorded_at)
SELECT 'audit-000', v, gen_random_uuid(), (ARRAY['UserLoggedIn','SettingChanged','ReportExported'])[1+v%3],
  jsonb_build_object('user','u'||(v%50),'seq',v), '{}'::jsonb, now() - interval '19 days' + v*interval '1 second'
FROM generate_series(469, 987) v ORDER BY v;
INSERT INTO eventscope.streams (stream_id, category, version, event_count, created_at, updated_at)
SELECT stream_id, 'audit', max(version), count(*), min(recorded_at), max(recorded_at) FROM eventscope.events WHERE stream_id LIKE 'audit-%' GROUP BY stream_id;
COMMIT;
ANALYZE;
SELECT (SELECT count(*) FROM eventscope.events) AS events, (SELECT count(*) FROM eventscope.streams) AS streams;
