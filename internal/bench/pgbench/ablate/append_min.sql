-- abl.append_min: try-lock and the statement in PL/pgSQL, no screen, no definer.
SELECT abl.append_min('ablmin' || 'c' || :client_id || '-1', NULL, :events);
