SELECT abl.nostreams(:prefix || 'c' || :client_id || '-1', NULL, :events);
