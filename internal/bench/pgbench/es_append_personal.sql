-- eventscope.append from plain SQL, expected version any, one event per
-- call, each client its own stream and subject, with two fields of the
-- event marked personal (a top-level key and a nested path): they are
-- sealed under the subject's key (migration 012). The marking is added to
-- the benchmark event here, in SQL (a few microseconds of the call).
SELECT eventscope.append(:prefix || 'c' || :client_id || '-1', NULL,
    jsonb_build_array((:events::jsonb -> 0) || jsonb_build_object('personal',
        jsonb_build_object('subject', :prefix || 'person-' || :client_id, 'fields', '["customerId", ["shipping", "street"]]'::jsonb))));
