-- eventscope.append from plain SQL, default settings, expected version any
-- (NULL), one event per call, each client its own stream.
SELECT eventscope.append(:prefix || 'c' || :client_id || '-1', NULL, :events);
