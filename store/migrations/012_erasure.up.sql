-- eventscope schema, version 12: erasure by crypto-shredding.
--
-- An event object may mark fields of its data as personal:
--   {"type": ..., "data": {...}, "personal": {"subject": "person-7", "fields": ["name", ["address", "street"]]}}
-- A field is a top-level key of data ("name") or a path of keys through
-- nested objects (["address", "street"]). The append stores those values
-- only encrypted (AES-256-CBC, then HMAC-SHA-256, pgcrypto) under a random
-- key per subject; data keeps every other field. The key lives in
-- eventscope.personal_keys, which no role but the schema's owner can read;
-- the functions below run as that owner.
--
-- Every read function puts the values back while the subject's key exists,
-- and adds to the event's metadata the marker
--   "$personal": {"subject": ..., "fields": [...], "erased": false}
-- (the key "$personal" in metadata is reserved: appends refuse it).
-- eventscope.forget(subject) deletes the key and appends an audit event to
-- the stream eventscope-erasure; from then on the fields read as null, the
-- marker says "erased": true, and nothing else of the events changes
-- (positions, versions, ids, the other fields).
--
-- "personal" may also say "erased": true: the fields are recorded as erased
-- already (their values in data must be null or absent) — an import of a
-- log exported after a forget.
--
-- Events without personal fields cost what they did: the fast path is the
-- same statement (its screen sends events holding "personal" to the checked
-- path), and readers only call the decrypting functions for rows whose
-- personal column is set.

-- pgcrypto: installed into this schema when the database has none; when it
-- is installed already (in any schema), the wrappers below call it there.
DO $do$
DECLARE sch text;
BEGIN
    SELECT n.nspname INTO sch FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace
     WHERE x.extname = 'pgcrypto';
    IF sch IS NULL THEN
        CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA eventscope;
        sch := 'eventscope';
    END IF;
    -- sealed = iv (16 bytes) || AES-256-CBC(plain) || HMAC-SHA-256(iv || ciphertext)
    -- key    = 32 bytes of cipher key || 32 bytes of MAC key
    -- Plain SQL (inlined into the owner's functions that call them, which
    -- fix the search_path); they take the key as an argument and read no
    -- table, and nobody else may execute them.
    EXECUTE format($f$
        CREATE FUNCTION eventscope.personal_encrypt(plain bytea, key bytea) RETURNS bytea
        LANGUAGE sql VOLATILE STRICT AS $b$
            SELECT c || %1$I.hmac(c, substring(key FROM 33 FOR 32), 'sha256')
              FROM (SELECT iv || %1$I.encrypt_iv(plain, substring(key FROM 1 FOR 32), iv, 'aes-cbc/pad:pkcs') AS c
                      FROM (SELECT %1$I.gen_random_bytes(16) AS iv) r) e
        $b$$f$, sch);
    EXECUTE format($f$
        CREATE FUNCTION eventscope.personal_decrypt(sealed bytea, key bytea) RETURNS bytea
        LANGUAGE sql IMMUTABLE STRICT AS $b$
            SELECT CASE WHEN length(sealed) >= 64
                         AND substring(sealed FROM length(sealed) - 31) = %1$I.hmac(substring(sealed FROM 1 FOR length(sealed) - 32), substring(key FROM 33 FOR 32), 'sha256')
                        THEN %1$I.decrypt_iv(substring(sealed FROM 17 FOR length(sealed) - 48), substring(key FROM 1 FOR 32), substring(sealed FROM 1 FOR 16), 'aes-cbc/pad:pkcs')
                   END
        $b$$f$, sch);
    EXECUTE format($f$
        CREATE FUNCTION eventscope.personal_new_key() RETURNS bytea
        LANGUAGE sql VOLATILE AS $b$
            SELECT %1$I.gen_random_bytes(64)
        $b$$f$, sch);
END $do$;
REVOKE ALL ON FUNCTION eventscope.personal_encrypt(bytea, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventscope.personal_decrypt(bytea, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventscope.personal_new_key() FROM PUBLIC;

-- One key per subject. Nobody but the owner reads or changes this table;
-- forget deletes a row, and with it every value sealed under it.
CREATE TABLE eventscope.personal_keys (
    subject    text        PRIMARY KEY,
    key        bytea       NOT NULL CHECK (length(key) = 64),
    created_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON eventscope.personal_keys FROM PUBLIC;

-- The sealed personal values of an event: {"subject", "fields", "sealed"}
-- (base64), or {"subject", "fields", "erased": true}. NULL for events
-- without personal fields (nearly all): no column value, no index entry.
ALTER TABLE eventscope.events ADD COLUMN personal jsonb;
CREATE INDEX events_personal_subject_idx ON eventscope.events ((personal ->> 'subject'), stream_id)
    WHERE personal IS NOT NULL;

-- Snapshots of aggregates whose state holds personal values are sealed the
-- same way (domain/tables.go writes them through personal_seal).
ALTER TABLE eventscope.snapshots ADD COLUMN personal jsonb;
CREATE INDEX snapshots_personal_subject_idx ON eventscope.snapshots ((personal ->> 'subject'))
    WHERE personal IS NOT NULL;

-- Snapshots are sealed on the way in: a row whose personal column holds a
-- marking ({"subject", "fields"} of its state) has those values sealed
-- before it is stored, so a COPY of snapshots (the seed) stores no plain
-- text either. Only snapshot rows with a marking pay for the trigger.
CREATE FUNCTION eventscope.snapshots_seal() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, eventscope, pg_temp AS $$
BEGIN
    SELECT s.sealed_doc, s.sealed_personal INTO NEW.state, NEW.personal
      FROM eventscope.personal_seal(NEW.state, NEW.personal) s;
    RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION eventscope.snapshots_seal() FROM PUBLIC;

-- The pure helpers below (personal_path, personal_paths, personal_problem)
-- read no table and are called per field: they are neither SECURITY DEFINER
-- nor SET (either costs ~40 µs a call and stops SQL functions from being
-- inlined). Every name in them is qualified, and the functions that call
-- them with the owner's rights pass their own fixed search_path on.

-- The path of a field: "name" is {name}, ["address","street"] {address,street}.
CREATE FUNCTION eventscope.personal_path(field jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE jsonb_typeof(field) WHEN 'string' THEN ARRAY[field #>> '{}']
                ELSE ARRAY(SELECT jsonb_array_elements_text(field)) END
$$;

-- The fields as paths ("name" and ["name"] are one field), for comparing.
CREATE FUNCTION eventscope.personal_paths(fields jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_agg(to_jsonb(eventscope.personal_path(f.v)) ORDER BY f.ord), '[]')
      FROM jsonb_array_elements(CASE jsonb_typeof(fields) WHEN 'array' THEN fields ELSE '[]' END) WITH ORDINALITY AS f(v, ord)
$$;

-- eventscope.personal_problem(personal, data): NULL when personal is a valid
-- marking of data's fields, else 'field|reason' for the first thing wrong.
CREATE FUNCTION eventscope.personal_problem(personal jsonb, data jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    k      text;
    s      text;
    f      jsonb;
    p      text[];
    q      text[];
    seen   jsonb := '[]';
    i      int := 0;
    erased boolean;
    shown  text;
BEGIN
    IF jsonb_typeof(personal) IS DISTINCT FROM 'object' THEN
        RETURN 'personal|must be a JSON object {"subject": ..., "fields": [...]}';
    END IF;
    SELECT key INTO k FROM jsonb_object_keys(personal) AS key
     WHERE key NOT IN ('subject', 'fields', 'erased') ORDER BY key LIMIT 1;
    IF k IS NOT NULL THEN
        RETURN format('personal|holds %s, which is not one of subject, fields, erased', to_jsonb(left(k, 64))::text);
    END IF;
    IF jsonb_typeof(personal -> 'subject') IS DISTINCT FROM 'string' OR personal ->> 'subject' = '' THEN
        RETURN 'personal.subject|must be a non-empty string';
    END IF;
    s := personal ->> 'subject';
    IF octet_length(s) > 200 THEN
        RETURN format('personal.subject|is %s bytes, at most 200 allowed', octet_length(s));
    ELSIF s ~ eventscope.stream_id_refused_chars() THEN
        RETURN format('personal.subject|must not contain whitespace, control or format characters (found %s)',
                      eventscope.first_refused(s, eventscope.stream_id_refused_chars()));
    END IF;
    IF personal ? 'erased' AND jsonb_typeof(personal -> 'erased') IS DISTINCT FROM 'boolean' THEN
        RETURN 'personal.erased|must be true or false';
    END IF;
    erased := coalesce((personal ->> 'erased')::boolean, false);
    IF jsonb_typeof(personal -> 'fields') IS DISTINCT FROM 'array' OR jsonb_array_length(personal -> 'fields') = 0 THEN
        RETURN 'personal.fields|must be a non-empty array of field names or paths';
    ELSIF jsonb_array_length(personal -> 'fields') > 100 THEN
        RETURN format('personal.fields|holds %s fields, at most 100 allowed', jsonb_array_length(personal -> 'fields'));
    END IF;
    FOR f IN SELECT v FROM jsonb_array_elements(personal -> 'fields') AS v LOOP
        IF NOT (jsonb_typeof(f) = 'string'
                OR (jsonb_typeof(f) = 'array' AND jsonb_array_length(f) BETWEEN 1 AND 32
                    AND NOT f @? '$[*] ? (@.type() != "string")')) THEN
            RETURN format('personal.fields[%s]|must be a field name or a path (an array of 1 to 32 field names)', i);
        END IF;
        IF jsonb_typeof(f) = 'string' THEN
            p := ARRAY[f #>> '{}'];
        ELSE
            p := ARRAY(SELECT jsonb_array_elements_text(f));
        END IF;
        shown := to_jsonb(left(array_to_string(p, '.'), 100))::text;
        IF '' = ANY (p) THEN
            RETURN format('personal.fields[%s]|must not be empty', i);
        END IF;
        FOR q IN SELECT ARRAY(SELECT jsonb_array_elements_text(x)) FROM jsonb_array_elements(seen) AS x LOOP
            IF q[1:cardinality(p)] = p OR p[1:cardinality(q)] = q THEN
                RETURN format('personal.fields[%s]|%s overlaps an earlier field', i, shown);
            END IF;
        END LOOP;
        FOR j IN 1 .. cardinality(p) - 1 LOOP
            IF jsonb_typeof(data #> p[1:j]) IS DISTINCT FROM 'object' THEN
                RETURN format('personal.fields[%s]|%s is not in data (%s is not an object)', i, shown,
                              to_jsonb(left(array_to_string(p[1:j], '.'), 100))::text);
            END IF;
        END LOOP;
        IF erased THEN
            IF coalesce(jsonb_typeof(data #> p), 'null') <> 'null' THEN
                RETURN format('personal.fields[%s]|%s holds a value, but personal says the fields are erased', i, shown);
            END IF;
        ELSIF (data #> p) IS NULL THEN
            RETURN format('personal.fields[%s]|%s is not in data', i, shown);
        END IF;
        seen := seen || jsonb_build_array(to_jsonb(p));
        i := i + 1;
    END LOOP;
    RETURN NULL;
END $$;

-- The subject's key, created on first use. Under READ COMMITTED a
-- concurrent first use waits on the primary key, then reads the winner's.
CREATE FUNCTION eventscope.personal_key(subject text) RETURNS bytea
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, eventscope, pg_temp AS $$
DECLARE
    p_subject ALIAS FOR subject;
    k bytea;
BEGIN
    SELECT pk.key INTO k FROM eventscope.personal_keys pk WHERE pk.subject = p_subject;
    IF k IS NULL THEN
        INSERT INTO eventscope.personal_keys AS pk (subject, key) VALUES (p_subject, eventscope.personal_new_key())
        ON CONFLICT ON CONSTRAINT personal_keys_pkey DO NOTHING RETURNING pk.key INTO k;
        IF k IS NULL THEN
            SELECT pk.key INTO k FROM eventscope.personal_keys pk WHERE pk.subject = p_subject;
        END IF;
    END IF;
    RETURN k;
END $$;
REVOKE ALL ON FUNCTION eventscope.personal_key(text) FROM PUBLIC;

-- eventscope.personal_seal(doc, personal, checked): doc without the
-- personal fields, and the sealed marking that holds their values. Raises
-- ES400 for a bad marking (unless checked: the caller validated it, as the
-- append's append_check does). The one step every write of personal values
-- goes through (the append, the bulk load, the domain's snapshots).
CREATE FUNCTION eventscope.personal_seal(doc jsonb, personal jsonb, checked boolean DEFAULT false,
                                         OUT sealed_doc jsonb, OUT sealed_personal jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, eventscope, pg_temp AS $$
DECLARE
    prob text := CASE WHEN checked THEN NULL ELSE eventscope.personal_problem(personal, doc) END;
    vals jsonb := '[]';
    f    jsonb;
    p    text[];
BEGIN
    IF prob IS NOT NULL THEN
        PERFORM eventscope.invalid(split_part(prob, '|', 1), NULL, substr(prob, strpos(prob, '|') + 1));
    END IF;
    FOR f IN SELECT v FROM jsonb_array_elements(personal -> 'fields') AS v LOOP
        IF jsonb_typeof(f) = 'string' THEN
            p := ARRAY[f #>> '{}'];
        ELSE
            p := ARRAY(SELECT jsonb_array_elements_text(f));
        END IF;
        vals := vals || jsonb_build_array(doc #> p);
        doc := doc #- p;
    END LOOP;
    sealed_doc := doc;
    IF coalesce((personal ->> 'erased')::boolean, false) THEN
        sealed_personal := jsonb_build_object('subject', personal -> 'subject', 'fields', personal -> 'fields', 'erased', true);
    ELSE
        sealed_personal := jsonb_build_object('subject', personal -> 'subject', 'fields', personal -> 'fields',
            'sealed', translate(encode(eventscope.personal_encrypt(convert_to(vals::text, 'UTF8'),
                                                                   eventscope.personal_key(personal ->> 'subject')), 'base64'), E'\n', ''));
    END IF;
END $$;

CREATE TRIGGER snapshots_seal BEFORE INSERT ON eventscope.snapshots
    FOR EACH ROW WHEN (NEW.personal IS NOT NULL) EXECUTE FUNCTION eventscope.snapshots_seal();

-- eventscope.personal_seal_events(events): the events array with each
-- event's personal fields sealed (the append's per-event step; the append
-- validated the markings with append_check first).
CREATE FUNCTION eventscope.personal_seal_events(events jsonb) RETURNS jsonb
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, eventscope, pg_temp AS $$
    SELECT jsonb_agg(CASE WHEN jsonb_typeof(e.v -> 'personal') = 'object'
                          THEN e.v || (SELECT jsonb_build_object('data', s.sealed_doc, 'personal', s.sealed_personal)
                                         FROM eventscope.personal_seal(e.v -> 'data', e.v -> 'personal', true) s)
                          ELSE e.v - 'personal' END ORDER BY e.ord)
      FROM jsonb_array_elements(events) WITH ORDINALITY AS e(v, ord)
$$;

-- eventscope.personal_data(doc, sealed): doc with the personal values put
-- back, or null in their place when the subject's key is gone.
CREATE FUNCTION eventscope.personal_data(doc jsonb, sealed jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, eventscope, pg_temp AS $$
DECLARE
    k    bytea;
    vals jsonb;
    f    jsonb;
    i    int := 0;
BEGIN
    IF sealed IS NULL THEN
        RETURN doc;
    END IF;
    IF sealed ? 'sealed' THEN
        SELECT pk.key INTO k FROM eventscope.personal_keys pk WHERE pk.subject = sealed ->> 'subject';
        IF k IS NOT NULL THEN
            vals := convert_from(eventscope.personal_decrypt(decode(sealed ->> 'sealed', 'base64'), k), 'UTF8')::jsonb;
        END IF;
    END IF;
    FOR f IN SELECT v FROM jsonb_array_elements(sealed -> 'fields') AS v LOOP
        doc := jsonb_set(doc, CASE WHEN jsonb_typeof(f) = 'string' THEN ARRAY[f #>> '{}'] ELSE ARRAY(SELECT jsonb_array_elements_text(f)) END,
                         coalesce(vals -> i, 'null'::jsonb), true);
        i := i + 1;
    END LOOP;
    RETURN doc;
END $$;

-- eventscope.personal_marker(sealed): {"subject", "fields", "erased"}.
CREATE FUNCTION eventscope.personal_marker(sealed jsonb) RETURNS jsonb
LANGUAGE sql STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, eventscope, pg_temp AS $$
    SELECT jsonb_build_object('subject', sealed -> 'subject', 'fields', sealed -> 'fields',
                              'erased', NOT (sealed ? 'sealed')
                                        OR NOT EXISTS (SELECT 1 FROM eventscope.personal_keys pk WHERE pk.subject = sealed ->> 'subject'))
$$;

-- eventscope.personal_metadata(metadata, sealed): metadata with the marker.
CREATE FUNCTION eventscope.personal_metadata(metadata jsonb, sealed jsonb) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, eventscope, pg_temp AS $$
    SELECT CASE WHEN sealed IS NULL THEN metadata
                ELSE metadata || jsonb_build_object('$personal', eventscope.personal_marker(sealed)) END
$$;

-- The screen (see 005) also sends metadata holding the reserved key
-- "$personal" to the detailed check. It stays a plain inlined SQL
-- expression (no SECURITY DEFINER, no SET): the append's fast path folds it
-- into its own plan, and a SET clause would forbid that.
CREATE OR REPLACE FUNCTION eventscope.event_screen(ev jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(CASE WHEN jsonb_typeof(ev) = 'object' THEN
                (ev - '{type,data,metadata}'::text[]) = '{}'::jsonb
            AND jsonb_typeof(ev -> 'type') = 'string'
            AND octet_length(ev ->> 'type') BETWEEN 1 AND 200
            AND (ev ->> 'type') !~ eventscope.type_refused_chars()
            AND jsonb_typeof(ev -> 'data') = 'object'
            AND coalesce(jsonb_typeof(ev -> 'metadata') IN ('object', 'null'), true)
            AND NOT coalesce((ev -> 'metadata') ? '$personal', false)
           ELSE false END, false)
$$;

CREATE OR REPLACE FUNCTION eventscope.append_check(events jsonb, max_bytes bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, eventscope, pg_temp AS $$
DECLARE
    n      int := jsonb_array_length(events);
    ev     jsonb;
    k      text;
    t      text;
    prob   text;
    depth  int := eventscope.max_json_depth();
    deep   jsonpath := format('strict $.**{%s} ? (@.type() == "object" || @.type() == "array")', depth)::jsonpath;
    dupidx int;
BEGIN
    FOR i IN 0 .. n - 1 LOOP
        ev := events -> i;
        IF jsonb_typeof(ev) <> 'object' THEN
            PERFORM eventscope.invalid('event', i, 'must be a JSON object');
        END IF;
        SELECT key INTO k FROM jsonb_object_keys(ev) AS key
         WHERE key NOT IN ('id', 'type', 'data', 'metadata', 'personal') ORDER BY key LIMIT 1;
        IF k = '' THEN
            PERFORM eventscope.invalid('event', i, 'holds a field with an empty name; event fields are id, type, data, metadata, personal');
        ELSIF k IS NOT NULL THEN
            PERFORM eventscope.invalid(k, i, 'is not an event field (id, type, data, metadata, personal)');
        END IF;
        IF jsonb_typeof(ev -> 'type') IS DISTINCT FROM 'string' OR ev ->> 'type' = '' THEN
            PERFORM eventscope.invalid('type', i, 'must be a non-empty string');
        END IF;
        t := ev ->> 'type';
        IF octet_length(t) > 200 THEN
            PERFORM eventscope.invalid('type', i, 'is longer than 200 bytes');
        ELSIF t ~ eventscope.type_refused_chars() THEN
            PERFORM eventscope.invalid('type', i, format('must not contain control or format characters (found %s)',
                                                         eventscope.first_refused(t, eventscope.type_refused_chars())));
        END IF;
        IF jsonb_typeof(ev -> 'data') IS DISTINCT FROM 'object' THEN
            PERFORM eventscope.invalid('data', i, 'must be a JSON object');
        ELSIF (ev -> 'data') @? deep THEN
            PERFORM eventscope.invalid('data', i, format('nests deeper than %s levels', depth));
        END IF;
        IF jsonb_typeof(ev -> 'metadata') NOT IN ('object', 'null') THEN
            PERFORM eventscope.invalid('metadata', i, 'must be a JSON object');
        ELSIF (ev -> 'metadata') @? deep THEN
            PERFORM eventscope.invalid('metadata', i, format('nests deeper than %s levels', depth));
        ELSIF coalesce((ev -> 'metadata') ? '$personal', false) THEN
            PERFORM eventscope.invalid('metadata', i, '"$personal" is reserved (readers add it); mark personal fields with "personal": {"subject": ..., "fields": [...]}');
        END IF;
        IF jsonb_typeof(ev -> 'personal') NOT IN ('null') THEN
            prob := eventscope.personal_problem(ev -> 'personal', ev -> 'data');
            IF prob IS NOT NULL THEN
                PERFORM eventscope.invalid(split_part(prob, '|', 1), i, substr(prob, strpos(prob, '|') + 1));
            END IF;
        END IF;
        IF jsonb_typeof(ev -> 'id') NOT IN ('string', 'null') THEN
            PERFORM eventscope.invalid('id', i, 'must be a UUID string');
        ELSIF jsonb_typeof(ev -> 'id') = 'string'
              AND ev ->> 'id' !~* '^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$' THEN
            PERFORM eventscope.invalid('id', i, 'is not a UUID');
        END IF;
        IF octet_length(ev::text) > max_bytes THEN
            PERFORM eventscope.invalid('event', i, format('is %s bytes, at most %s allowed', octet_length(ev::text), max_bytes));
        END IF;
    END LOOP;
    IF events @? '$[*].id ? (@.type() == "string")' THEN
        SELECT min(e.ord) - 1 INTO dupidx
          FROM jsonb_array_elements(events) WITH ORDINALITY AS e(v, ord)
         WHERE jsonb_typeof(e.v -> 'id') = 'string'
         GROUP BY (e.v ->> 'id')::uuid HAVING count(*) > 1
         ORDER BY 1 LIMIT 1;
        IF dupidx IS NOT NULL THEN
            PERFORM eventscope.invalid('id', dupidx, 'appears more than once in the batch');
        END IF;
    END IF;
END $$;

-- Idempotency compares what a reader would read: the stored data with its
-- personal values put back, and the same marking. (After a forget, a replay
-- of an event that held the subject's values is "other content".)
CREATE OR REPLACE FUNCTION eventscope.append_replayed(stream_id text, events jsonb, n int) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, eventscope, pg_temp AS $$
DECLARE
    p_stream ALIAS FOR stream_id;
    dup      record;
BEGIN
    SELECT count(*) AS matched,
           count(*) FILTER (WHERE x.differs) AS differing,
           max(x.version) AS last_version,
           (array_agg(x.event_id::text) FILTER (WHERE x.differs))[1] AS bad_id,
           (array_agg(x.event_id::text))[1] AS some_id
      INTO dup
      FROM (SELECT s.version, s.event_id,
                   s.stream_id IS DISTINCT FROM p_stream
                OR s.type IS DISTINCT FROM e.v->>'type'
                OR CASE WHEN s.personal IS NULL THEN s.data ELSE eventscope.personal_data(s.data, s.personal) END IS DISTINCT FROM e.v->'data'
                OR s.metadata IS DISTINCT FROM coalesce(nullif(e.v->'metadata', 'null'::jsonb), '{}'::jsonb)
                OR (s.personal IS NULL) <> (jsonb_typeof(e.v->'personal') IS DISTINCT FROM 'object')
                OR s.personal->'subject' IS DISTINCT FROM e.v->'personal'->'subject'
                OR eventscope.personal_paths(s.personal->'fields') IS DISTINCT FROM eventscope.personal_paths(e.v->'personal'->'fields')
                OR coalesce((s.personal->>'erased')::boolean, false) IS DISTINCT FROM coalesce((e.v->'personal'->>'erased')::boolean, false)
                   AS differs
              FROM jsonb_array_elements(events) AS e(v)
              JOIN eventscope.events s ON s.event_id = (e.v->>'id')::uuid
             WHERE jsonb_typeof(e.v->'id') = 'string') x;
    IF dup.matched = 0 THEN
        RETURN NULL;
    ELSIF dup.differing > 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'ES422',
            MESSAGE = format('event id %s is already stored with other content', dup.bad_id),
            DETAIL = json_build_object('event_id', dup.bad_id, 'stream_id', p_stream)::text;
    ELSIF dup.matched < n THEN
        RAISE EXCEPTION USING ERRCODE = 'ES422',
            MESSAGE = format('event id %s is already stored but the batch holds new events too', dup.some_id),
            DETAIL = json_build_object('event_id', dup.some_id, 'stream_id', p_stream)::text;
    END IF;
    RETURN dup.last_version;
END $$;

-- The append, as in migration 005, with one step added: events that mark
-- personal fields have them sealed (personal_seal_events) before the insert.
-- The fast path is unchanged (its screen never clears such an event).
CREATE OR REPLACE FUNCTION eventscope.append(stream_id text, expected_version bigint, events jsonb)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, eventscope, pg_temp AS $fn$
DECLARE
    p_stream  ALIAS FOR stream_id;
    n         int;
    new_ver   bigint;
    at        timestamptz;
    cur       record;
    max_bytes bigint;
    checked   boolean;
    screened  boolean;
BEGIN
    -- The fast path, for the common call: one plain event (no id) that is
    -- small, on an existing stream. Every statement of a PL/pgSQL function
    -- costs, so one expression clears the call (it implies every rule the
    -- full validation below checks: the depth walk is skipped because every
    -- level of jsonb nesting takes at least 8 bytes, so an array smaller
    -- than 8 * (depth + 2) bytes cannot nest too deep), one takes the lock,
    -- and one statement reserves the version and inserts the event.
    IF p_stream <> '' AND octet_length(p_stream) <= 200 AND p_stream !~ eventscope.stream_id_refused_chars()
       AND (expected_version IS NULL OR expected_version >= -2)
       AND jsonb_typeof(events) = 'array' AND jsonb_array_length(events) = 1
       AND eventscope.event_screen(events -> 0)
       AND pg_column_size(events) < 8 * (eventscope.max_json_depth() + 2)
       AND octet_length(events::text) <= eventscope.max_event_bytes()
       AND (expected_version IS NULL OR expected_version <> -1) THEN
        -- the stream's lock: see below
        IF NOT pg_try_advisory_xact_lock(1702064754, hashtext(p_stream)) THEN
            PERFORM eventscope.lock_stream(p_stream);
        END IF;
        -- reserve the version on the streams row (the recorded time is the
        -- wall clock now, under the lock, never below the stream's last
        -- event) and insert the event
        WITH s AS (
            UPDATE eventscope.streams AS s
               SET version = s.version + 1, event_count = s.event_count + 1,
                   updated_at = greatest(clock_timestamp(), s.updated_at), last_tx = pg_current_xact_id()
             WHERE s.stream_id = p_stream AND s.closed_at IS NULL
               AND (expected_version IS NULL OR expected_version = -2 OR s.version = expected_version)
               AND s.last_tx <= pg_current_xact_id()
            RETURNING s.version, s.updated_at)
        INSERT INTO eventscope.events (stream_id, version, event_id, type, data, metadata, recorded_at)
        SELECT p_stream, s.version, gen_random_uuid(), events -> 0 ->> 'type', events -> 0 -> 'data',
               coalesce(nullif(events -> 0 -> 'metadata', 'null'::jsonb), '{}'::jsonb), s.updated_at
          FROM s
        RETURNING version INTO new_ver;
        IF new_ver IS NOT NULL THEN
            -- Wake-ups: only for sessions that opt in (SET eventscope.notify = 'on').
            IF current_setting('eventscope.notify', true) = 'on' THEN
                PERFORM pg_notify('eventscope', eventscope.category(p_stream));
            END IF;
            RETURN new_ver;
        END IF;
        -- a new stream, a conflict, a closed stream: the general path
    END IF;

    -- validation: every failure names the field
    max_bytes := eventscope.max_event_bytes();
    checked := false;
    IF p_stream IS NULL OR p_stream = '' THEN
        PERFORM eventscope.invalid('stream_id', NULL, 'must not be empty');
    ELSIF octet_length(p_stream) > 200 THEN
        PERFORM eventscope.invalid('stream_id', NULL, format('is %s bytes, at most 200 allowed', octet_length(p_stream)));
    ELSIF p_stream ~ eventscope.stream_id_refused_chars() THEN
        PERFORM eventscope.invalid('stream_id', NULL, format('must not contain whitespace, control or format characters (found %s)',
                                                              eventscope.first_refused(p_stream, eventscope.stream_id_refused_chars())));
    END IF;
    IF expected_version < -2 THEN
        PERFORM eventscope.invalid('expected_version', NULL, format('%s is not NULL, -1, -2 or a version >= 0', expected_version));
    END IF;
    IF jsonb_typeof(events) IS DISTINCT FROM 'array' THEN
        PERFORM eventscope.invalid('events', NULL, 'must be a JSON array');
    END IF;
    n := jsonb_array_length(events);
    IF n = 0 THEN
        PERFORM eventscope.invalid('events', NULL, 'must hold at least one event');
    END IF;

    -- The screen clears plain events cheaply; anything it does not clear
    -- (explicit ids, an unknown field, a bad or long type, ...) gets the
    -- detailed check, which names the first bad field exactly.
    IF n = 1 THEN
        screened := eventscope.event_screen(events -> 0);
    ELSE
        SELECT bool_and(eventscope.event_screen(e.v)) INTO screened FROM jsonb_array_elements(events) AS e(v);
    END IF;
    IF NOT screened
       OR (pg_column_size(events) >= 8 * (eventscope.max_json_depth() + 2)
           AND events @? 'strict $.**{102} ? (@.type() == "object" || @.type() == "array")')
       OR octet_length(events::text) > max_bytes THEN
        PERFORM eventscope.append_check(events, max_bytes);
        checked := true;
    END IF;

    -- Serialise appends to this stream on a transaction advisory lock, taken
    -- before anything assigns this transaction an id. The global log is
    -- ordered by transaction id: a writer that waits for the stream must get
    -- its id after the previous writer's, or its later versions would sort
    -- before that writer's events. (A row lock does not do: an UPDATE's
    -- qualification runs, and assigns the id, before it waits for the row.)
    -- Appends to different streams take different locks. The wait is
    -- bounded (append_lock_timeout_ms, then ES423). Taking it twice (the
    -- fast path fell through) is harmless.
    IF NOT pg_try_advisory_xact_lock(1702064754, hashtext(p_stream)) THEN
        PERFORM eventscope.lock_stream(p_stream);
    END IF;

    -- idempotency: ids already stored are a no-op when they match exactly
    IF checked AND events @? '$[*].id ? (@.type() == "string")' THEN
        new_ver := eventscope.append_replayed(p_stream, events, n);
        IF new_ver IS NOT NULL THEN
            RETURN new_ver; -- the whole batch was stored before: a no-op
        END IF;
    END IF;

    -- reserve the versions: the streams row is the per-stream state
    IF expected_version IS NULL OR expected_version <> -1 THEN
        UPDATE eventscope.streams AS s
           SET version = s.version + n, event_count = s.event_count + n,
               updated_at = greatest(clock_timestamp(), s.updated_at), last_tx = pg_current_xact_id()
         WHERE s.stream_id = p_stream AND s.closed_at IS NULL
           AND (expected_version IS NULL OR expected_version = -2 OR s.version = expected_version)
           AND s.last_tx <= pg_current_xact_id()
        RETURNING s.version, s.updated_at INTO new_ver, at;
    END IF;
    IF new_ver IS NULL AND (expected_version IS NULL OR expected_version = -1) THEN
        -- a new stream (under the lock nobody else creates it meanwhile)
        INSERT INTO eventscope.streams AS s (stream_id, category, version, event_count, updated_at)
        VALUES (p_stream, eventscope.category(p_stream), n - 1, n, clock_timestamp())
        ON CONFLICT ON CONSTRAINT streams_pkey DO NOTHING
        RETURNING s.version, s.updated_at INTO new_ver, at;
    END IF;

    IF new_ver IS NULL THEN
        SELECT s.version, s.closed_at, s.last_tx INTO cur FROM eventscope.streams s WHERE s.stream_id = p_stream;
        IF FOUND AND cur.closed_at IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'ES410',
                MESSAGE = format('stream %s is closed', p_stream),
                DETAIL = json_build_object('stream_id', p_stream)::text;
        ELSIF FOUND AND cur.last_tx > pg_current_xact_id()
              AND (expected_version IS NULL OR expected_version = -2 OR cur.version = expected_version) THEN
            RAISE EXCEPTION USING ERRCODE = '40001',
                MESSAGE = format('stream %s was written by a newer transaction; retry the transaction', p_stream),
                HINT = 'this transaction wrote before appending, and a concurrent append to the stream committed meanwhile; appending now would break the global order';
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'ES409',
            MESSAGE = format('append to %s: expected version %s, stream is at %s', p_stream,
                             CASE expected_version WHEN -1 THEN 'no-stream' WHEN -2 THEN 'exists' ELSE expected_version::text END,
                             CASE WHEN FOUND THEN cur.version::text ELSE 'no-stream' END),
            DETAIL = json_build_object('stream_id', p_stream, 'expected', expected_version,
                                       'actual', CASE WHEN FOUND THEN cur.version ELSE -1 END)::text;
    END IF;

    -- Personal fields (only checked events can hold them): the values are
    -- sealed under the subject's key and leave data (migration 012).
    IF checked AND events @? '$[*].personal ? (@.type() == "object")' THEN
        events := eventscope.personal_seal_events(events);
    END IF;

    IF n = 1 THEN
        INSERT INTO eventscope.events (stream_id, version, event_id, type, data, metadata, recorded_at, personal)
        VALUES (p_stream, new_ver, coalesce((events -> 0 ->> 'id')::uuid, gen_random_uuid()),
                events -> 0 ->> 'type', events -> 0 -> 'data',
                coalesce(nullif(events -> 0 -> 'metadata', 'null'::jsonb), '{}'::jsonb), at,
                nullif(events -> 0 -> 'personal', 'null'::jsonb));
    ELSE
        INSERT INTO eventscope.events (stream_id, version, event_id, type, data, metadata, recorded_at, personal)
        SELECT p_stream, new_ver - n + e.ord,
               coalesce((e.v ->> 'id')::uuid, gen_random_uuid()),
               e.v ->> 'type', e.v -> 'data', coalesce(nullif(e.v -> 'metadata', 'null'::jsonb), '{}'::jsonb), at,
               nullif(e.v -> 'personal', 'null'::jsonb)
          FROM jsonb_array_elements(events) WITH ORDINALITY AS e(v, ord)
         ORDER BY e.ord;
    END IF;

    -- Wake-ups: only for sessions that opt in (SET eventscope.notify = 'on').
    IF current_setting('eventscope.notify', true) = 'on' THEN
        PERFORM pg_notify('eventscope', eventscope.category(p_stream));
    END IF;
    RETURN new_ver;
END
$fn$;

-- The SQL reads return what readers may see: personal values put back while
-- the key exists (null after a forget), the marker in metadata, and in the
-- personal column the marker (never the sealed bytes). They stay plain SQL
-- functions, neither SECURITY DEFINER nor SET (either stops the planner
-- from inlining them, and then a filtered read no longer uses its index:
-- store's TestFilteredReadUsesItsIndex); every name is qualified, and the
-- decrypting functions they call run as the owner.
CREATE OR REPLACE FUNCTION eventscope.read_stream(stream_id text, from_version bigint DEFAULT 0,
                                                  max_count int DEFAULT 1000, backward boolean DEFAULT false)
RETURNS SETOF eventscope.events
LANGUAGE sql STABLE AS $$
    SELECT e.stream_id, e.version, e.position, e.tx_id, e.event_id, e.type,
           CASE WHEN e.personal IS NULL THEN e.data ELSE eventscope.personal_data(e.data, e.personal) END,
           CASE WHEN e.personal IS NULL THEN e.metadata ELSE eventscope.personal_metadata(e.metadata, e.personal) END,
           e.recorded_at, eventscope.personal_marker(e.personal)
      FROM ((SELECT * FROM eventscope.events e
              WHERE NOT backward AND e.stream_id = read_stream.stream_id AND e.version >= from_version
              ORDER BY e.version LIMIT max_count)
            UNION ALL
            (SELECT * FROM eventscope.events e
              WHERE backward AND e.stream_id = read_stream.stream_id AND e.version <= from_version
              ORDER BY e.version DESC LIMIT max_count)) e
$$;

CREATE OR REPLACE FUNCTION eventscope.read_all(after_tx xid8 DEFAULT '0', after_position bigint DEFAULT 0, max_count int DEFAULT 1000)
RETURNS SETOF eventscope.events
LANGUAGE sql STABLE AS $$
    SELECT e.stream_id, e.version, e.position, e.tx_id, e.event_id, e.type,
           CASE WHEN e.personal IS NULL THEN e.data ELSE eventscope.personal_data(e.data, e.personal) END,
           CASE WHEN e.personal IS NULL THEN e.metadata ELSE eventscope.personal_metadata(e.metadata, e.personal) END,
           e.recorded_at, eventscope.personal_marker(e.personal)
      FROM eventscope.events e
     WHERE (e.tx_id, e.position) > (after_tx, after_position)
       AND e.tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))
     ORDER BY e.tx_id, e.position
     LIMIT max_count
$$;

CREATE OR REPLACE FUNCTION eventscope.read_category(category text, after_tx xid8 DEFAULT '0', after_position bigint DEFAULT 0, max_count int DEFAULT 1000)
RETURNS SETOF eventscope.events
LANGUAGE sql STABLE AS $$
    SELECT e.stream_id, e.version, e.position, e.tx_id, e.event_id, e.type,
           CASE WHEN e.personal IS NULL THEN e.data ELSE eventscope.personal_data(e.data, e.personal) END,
           CASE WHEN e.personal IS NULL THEN e.metadata ELSE eventscope.personal_metadata(e.metadata, e.personal) END,
           e.recorded_at, eventscope.personal_marker(e.personal)
      FROM eventscope.events e
     WHERE (eventscope.category(e.stream_id), e.tx_id, e.position) > (read_category.category, after_tx, after_position)
       AND (eventscope.category(e.stream_id), e.tx_id) < (read_category.category, (SELECT pg_snapshot_xmin(pg_current_snapshot())))
     ORDER BY eventscope.category(e.stream_id), e.tx_id, e.position
     LIMIT max_count
$$;

CREATE OR REPLACE FUNCTION eventscope.read_type(type text, after_tx xid8 DEFAULT '0', after_position bigint DEFAULT 0, max_count int DEFAULT 1000)
RETURNS SETOF eventscope.events
LANGUAGE sql STABLE AS $$
    SELECT e.stream_id, e.version, e.position, e.tx_id, e.event_id, e.type,
           CASE WHEN e.personal IS NULL THEN e.data ELSE eventscope.personal_data(e.data, e.personal) END,
           CASE WHEN e.personal IS NULL THEN e.metadata ELSE eventscope.personal_metadata(e.metadata, e.personal) END,
           e.recorded_at, eventscope.personal_marker(e.personal)
      FROM eventscope.events e
     WHERE (e.type, e.tx_id, e.position) > (read_type.type, after_tx, after_position)
       AND (e.type, e.tx_id) < (read_type.type, (SELECT pg_snapshot_xmin(pg_current_snapshot())))
     ORDER BY e.type, e.tx_id, e.position
     LIMIT max_count
$$;

-- eventscope.forget(subject): crypto-shredding. Deletes the subject's key,
-- so every value sealed under it reads as null from now on, and appends an
-- audit event (SubjectForgotten, to the stream eventscope-erasure: the
-- subject, how many events and streams held its values, who asked; no
-- personal value). Returns whether a key existed, those counts, the streams
-- (for callers that rebuild derived state such as snapshots) and the audit
-- event's version (NULL when there was no key: nothing was erased, nothing
-- recorded). Events appended for the subject later get a new key.
CREATE FUNCTION eventscope.forget(subject text,
                                  OUT had_key boolean, OUT events bigint, OUT streams text[], OUT audit_version bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, eventscope, pg_temp AS $$
DECLARE
    p_subject ALIAS FOR subject;
    prob text := eventscope.personal_problem(jsonb_build_object('subject', p_subject, 'fields', '["x"]'::jsonb), '{"x":0}');
BEGIN
    IF p_subject IS NULL THEN
        PERFORM eventscope.invalid('subject', NULL, 'must be a non-empty string');
    ELSIF prob IS NOT NULL THEN
        PERFORM eventscope.invalid('subject', NULL, substr(prob, strpos(prob, '|') + 1));
    END IF;
    DELETE FROM eventscope.personal_keys pk WHERE pk.subject = p_subject;
    had_key := FOUND;
    SELECT count(*), coalesce(array_agg(DISTINCT e.stream_id ORDER BY e.stream_id), '{}')
      INTO events, streams
      FROM eventscope.events e
     WHERE e.personal IS NOT NULL AND e.personal ->> 'subject' = p_subject;
    IF had_key THEN
        audit_version := eventscope.append('eventscope-erasure', NULL, jsonb_build_array(jsonb_build_object(
            'type', 'SubjectForgotten',
            'data', jsonb_build_object('subject', p_subject, 'events', events, 'streams', cardinality(streams)),
            'metadata', jsonb_build_object('requestedBy', session_user::text))));
    END IF;
END $$;
REVOKE ALL ON FUNCTION eventscope.forget(text) FROM PUBLIC;

-- Sealing creates keys and encrypts under them: for the append (which runs
-- as the owner), the bulk load and the snapshots' trigger, not for anyone
-- with a connection. Reading (personal_data, personal_metadata,
-- personal_marker) stays open: it needs the sealed value, which only a
-- reader of the events has.
REVOKE ALL ON FUNCTION eventscope.personal_seal(jsonb, jsonb, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION eventscope.personal_seal_events(jsonb) FROM PUBLIC;
