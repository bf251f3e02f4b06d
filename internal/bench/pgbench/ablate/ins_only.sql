\set n :n + 1
SELECT abl.ins_only(:prefix || 'c' || :client_id || '-1', :n, :events);
