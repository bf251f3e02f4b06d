-- eventscope.append with the exact expected version, in one call: the client
-- keeps the version the previous call returned (start with -D ver=-1, so the
-- first call creates the stream; every later call appends to an existing one).
SELECT eventscope.append(:prefix || 'c' || :client_id || '-1', :ver, :events) AS ver \gset
