package subscriptions

import "fmt"

// Every statement on the package's tables (eventscope.subscriptions and
// eventscope.parked_events, created by store/migrations/002) lives here.
// The events log is read only through the store (ReadAll, FirstAfter,
// EventsByID, Backlogs). State values reach SQL only through the sql*
// constants below, made from the State constants.

// The state column's values, as SQL literals.
const (
	sqlCatchingUp = `'` + string(StateCatchingUp) + `'`
	sqlStopped    = `'` + string(StateStopped) + `'`
)

// rowExistsSQL: $1 name.
const rowExistsSQL = `SELECT EXISTS (SELECT 1 FROM eventscope.subscriptions WHERE name = $1)`

// createRowSQL creates a subscription's row unless it exists.
const createRowSQL = `
INSERT INTO eventscope.subscriptions (name, categories, types, checkpoint_tx, checkpoint_pos)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING`

// rowControlColumns are what activateSQL and reloadSQL return (rowControl).
const rowControlColumns = `lease_epoch, reset_version, control_version, checkpoint_tx, checkpoint_pos, paused, stopped,
       EXISTS (SELECT 1 FROM eventscope.parked_events p WHERE p.subscription = $1 AND p.retry_requested),
       (SELECT count(*) FROM eventscope.parked_events p WHERE p.subscription = $1)`

// activateSQL takes a new lease epoch, only while the lease backend ($7)
// holds the advisory lock (classid $8, objid $9; key $10).
const activateSQL = `
UPDATE eventscope.subscriptions
   SET lease_epoch = nextval('eventscope.subscription_lease_seq'),
       holder_host = $2, holder_pid = $3, holder_instance = $4, heartbeat = now(),
       holder_backend = $7, lease_key = $10,
       state = ` + sqlCatchingUp + `, rate = 0, applied_control_version = control_version,
       categories = $5, types = $6, ` + clearRetry + `, handler_p99_us = NULL, handler_calls = NULL
 WHERE name = $1
   AND EXISTS (SELECT 1 FROM pg_locks l
                WHERE l.locktype = 'advisory' AND l.pid = $7 AND l.granted
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND l.classid::bigint = $8 AND l.objid::bigint = $9 AND l.objsubid = 1)
RETURNING ` + rowControlColumns

// reloadSQL acknowledges control changes and re-reads the control state.
const reloadSQL = `
UPDATE eventscope.subscriptions SET applied_control_version = control_version
 WHERE name = $1 AND lease_epoch = $2
RETURNING ` + rowControlColumns

// verifySQL reads what confirms a lease.
const verifySQL = `SELECT lease_epoch, reset_version, control_version FROM eventscope.subscriptions WHERE name = $1`

// releaseSQL clears the holder columns when a holder stops.
const releaseSQL = `
UPDATE eventscope.subscriptions
   SET holder_host = NULL, holder_pid = NULL, holder_instance = NULL, heartbeat = NULL, rate = 0,
       holder_backend = NULL, ` + clearRetry + `, handler_p99_us = NULL, handler_calls = NULL,
       state = CASE WHEN stopped THEN ` + sqlStopped + ` ELSE ` + sqlCatchingUp + ` END
 WHERE name = $1 AND lease_epoch = $2`

// clearRetry empties the columns naming the event being retried.
const clearRetry = `retry_event = NULL, retry_stream = NULL, retry_version = NULL, retry_attempt = NULL,
       retry_attempts = NULL, retry_next_at = NULL`

// recordFailureSQL counts a failed attempt and keeps its error, and names
// the event being retried ($4 id, $5 stream, $6 version), its failed
// attempts ($7) of $8, and the wait before the next ($9 seconds, NULL when
// this was the last).
const recordFailureSQL = `
UPDATE eventscope.subscriptions SET failures = failures + 1, last_error = $3, last_error_at = now(),
       retry_event = $4, retry_stream = $5, retry_version = $6, retry_attempt = $7, retry_attempts = $8,
       retry_next_at = now() + make_interval(secs => $9::float8)
 WHERE name = $1 AND lease_epoch = $2`

// historyKeep is how many attempts a parked event's history keeps (the
// newest); each error is cut to historyErrorBytes.
const (
	historyKeep       = 20
	historyErrorBytes = 500
)

// appendHistory is the SQL expression of a parked event's history with
// the attempts of the jsonb array new appended, the newest historyKeep kept.
func appendHistory(old, new string) string {
	return `(SELECT coalesce(jsonb_agg(h.x ORDER BY h.i), '[]'::jsonb) FROM (
	            SELECT t.x, t.i FROM jsonb_array_elements(` + old + ` || ` + new + `) WITH ORDINALITY AS t(x, i)
	             ORDER BY t.i DESC LIMIT ` + fmt.Sprint(historyKeep) + `) h)`
}

// checkpointSQL moves the checkpoint, fenced by the lease epoch and the
// reset version.
const checkpointSQL = `
UPDATE eventscope.subscriptions
   SET checkpoint_tx = $3, checkpoint_pos = $4, processed = processed + $5
 WHERE name = $1 AND lease_epoch = $2 AND reset_version = $6
RETURNING 1`

// asyncCheckpointSQL is checkpointSQL for a Handler's checkpoint, written
// in an autocommit statement with synchronous_commit off: the write is
// visible (and fenced) at once, but its WAL is flushed in the background
// (within about 0.6 s) instead of before the reply, which halves its cost.
// Only an unclean crash of the server itself can lose such a write, and
// that redelivers the events after the previous checkpoint: still
// at least once. A TxHandler's transaction keeps the server's setting.
// It bounds its wait for the row's lock itself ($7, lock_timeout: set
// while the row is scanned, before the update waits for the lock), the
// hot path's one statement instead of lockBound's two.
const asyncCheckpointSQL = `
UPDATE eventscope.subscriptions
   SET checkpoint_tx = $3, checkpoint_pos = $4, processed = processed + $5
 WHERE name = $1 AND lease_epoch = $2 AND reset_version = $6
   AND set_config('synchronous_commit', 'off', true) IS NOT NULL
   AND set_config('lock_timeout', $7, true) IS NOT NULL
RETURNING 1`

// parkSQL moves the checkpoint past the event (with n events processed
// before it) and parks it, in one fenced statement, with its first failure
// ($10) and its attempts ($11, a jsonb array).
var parkSQL = `
WITH u AS (
    UPDATE eventscope.subscriptions
       SET checkpoint_tx = $3, checkpoint_pos = $4, processed = processed + $5, ` + clearRetry + `
     WHERE name = $1 AND lease_epoch = $2 AND reset_version = $6
 RETURNING name)
INSERT INTO eventscope.parked_events AS p (subscription, event_id, tx_id, position, attempts, last_error, first_failed_at, history)
SELECT u.name, $7, $3, $4, $8, $9, $10, ` + appendHistory(`'[]'::jsonb`, `$11::jsonb`) + ` FROM u
ON CONFLICT (subscription, event_id) DO UPDATE
   SET attempts = p.attempts + EXCLUDED.attempts, last_error = EXCLUDED.last_error,
       parked_at = now(), retry_requested = false,
       first_failed_at = coalesce(p.first_failed_at, EXCLUDED.first_failed_at),
       history = ` + appendHistory(`p.history`, `EXCLUDED.history`) + `
RETURNING 1`

// stopAtSQL stops the subscription before a failing event (StopOnFailure).
const stopAtSQL = `
UPDATE eventscope.subscriptions
   SET stopped = true, state = ` + sqlStopped + `, checkpoint_tx = $3, checkpoint_pos = $4,
       processed = processed + $5, last_error = $7, last_error_at = now()
 WHERE name = $1 AND lease_epoch = $2 AND reset_version = $6`

// retryBatch is how many parked events a holder redelivers per read.
const retryBatch = 100

// parkedForRetrySQL lists parked events an operator asked to retry.
const parkedForRetrySQL = `
SELECT p.event_id, p.attempts
  FROM eventscope.parked_events p
 WHERE p.subscription = $1 AND p.retry_requested
 ORDER BY p.tx_id, p.position
 LIMIT $2`

// unparkSQL deletes a parked event that was delivered again, fenced, and
// counts it as processed.
const unparkSQL = `
WITH d AS (
    DELETE FROM eventscope.parked_events p USING eventscope.subscriptions s
     WHERE p.subscription = $1 AND p.event_id = $3 AND s.name = $1 AND s.lease_epoch = $2
 RETURNING 1)
UPDATE eventscope.subscriptions SET processed = processed + (SELECT count(*) FROM d)
 WHERE name = $1 AND lease_epoch = $2
RETURNING (SELECT count(*) FROM d)`

// reparkSQL records another failed retry of a parked event, its attempts
// ($5, a jsonb array) appended to its history.
var reparkSQL = `
UPDATE eventscope.parked_events p SET attempts = attempts + $3, last_error = $4, parked_at = now(), retry_requested = false,
       first_failed_at = coalesce(first_failed_at, $6), history = ` + appendHistory(`p.history`, `$5::jsonb`) + `
 WHERE subscription = $1 AND event_id = $2`

// heartbeatSQL writes every held subscription's heartbeat in one statement,
// with the event it is retrying ($8..$13, NULL elements when none) and its
// handler time ($14 p99 in µs, $15 calls, NULL when none was timed).
const heartbeatSQL = `
UPDATE eventscope.subscriptions s
   SET heartbeat = now(), state = v.state, rate = v.rate,
       retry_event = v.r_event::uuid, retry_stream = v.r_stream, retry_version = v.r_version,
       retry_attempt = v.r_attempt, retry_attempts = v.r_attempts, retry_next_at = v.r_next,
       handler_p99_us = v.p99, handler_calls = v.calls,
       checkpoint_tx  = CASE WHEN s.reset_version = v.rv AND (v.tx, v.pos) > (s.checkpoint_tx, s.checkpoint_pos) THEN v.tx  ELSE s.checkpoint_tx END,
       checkpoint_pos = CASE WHEN s.reset_version = v.rv AND (v.tx, v.pos) > (s.checkpoint_tx, s.checkpoint_pos) THEN v.pos ELSE s.checkpoint_pos END
  FROM unnest($1::text[], $2::bigint[], $3::text[], $4::float8[], $5::bigint[], $6::xid8[], $7::bigint[],
              $8::text[], $9::text[], $10::bigint[], $11::int[], $12::int[], $13::timestamptz[], $14::bigint[], $15::int[])
       AS v(name, epoch, state, rate, rv, tx, pos, r_event, r_stream, r_version, r_attempt, r_attempts, r_next, p99, calls)
 WHERE s.name = v.name AND s.lease_epoch = v.epoch
   AND set_config('synchronous_commit', 'off', true) IS NOT NULL -- monitoring data: no need to wait for the flush
RETURNING s.name, s.control_version`

// statusSQL reads every subscription's row (or one, $1) for monitoring;
// $2 is the age in seconds beyond which a heartbeat is stale. The last
// column tells whether the recorded holder's lease backend still holds the
// lease's advisory lock. The lag comes from the store (Backlogs).
const statusSQL = `
WITH adv AS MATERIALIZED (
    SELECT l.pid, (l.classid::bigint << 32) | l.objid::bigint AS key FROM pg_locks l
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
SELECT s.name, s.categories, s.types, s.checkpoint_tx, s.checkpoint_pos,
       s.paused, s.stopped, s.control_version <> s.applied_control_version,
       s.holder_host, s.holder_pid, s.holder_instance, s.heartbeat,
       coalesce(s.heartbeat > now() - make_interval(secs => $2), false),
       s.state, s.rate, s.processed, s.failures, s.last_error, s.last_error_at,
       (SELECT count(*) FROM eventscope.parked_events p WHERE p.subscription = s.name),
       EXISTS (SELECT 1 FROM adv WHERE adv.pid = s.holder_backend AND adv.key = s.lease_key),
       s.group_name, s.partition, s.partitions,
       s.paused_at, s.retry_event, coalesce(s.retry_stream, ''), coalesce(s.retry_version, 0),
       coalesce(s.retry_attempt, 0), coalesce(s.retry_attempts, 0), s.retry_next_at,
       s.handler_p99_us, coalesce(s.handler_calls, 0), now()
  FROM eventscope.subscriptions s
 WHERE $1::text IS NULL OR s.name = $1 OR s.group_name = $1
 ORDER BY coalesce(s.group_name, s.name), s.partition NULLS FIRST`

// Admin statements. Each runs in the transaction of Admin.control, after
// lockRowSQL, unless noted. A name is a subscription's, or a group's: then
// the statement applies to every partition row of the group (adminRows).
const (
	adminRows      = `(name = $1 OR group_name = $1)`
	adminRowNames  = `(SELECT name FROM eventscope.subscriptions WHERE ` + adminRows + `)`
	adminExistsSQL = `SELECT EXISTS (SELECT 1 FROM eventscope.subscriptions WHERE ` + adminRows + `)`
	lockRowSQL     = `SELECT count(*) > 0 FROM (SELECT 1 FROM eventscope.subscriptions WHERE ` + adminRows + ` FOR UPDATE) l`
	bumpControlSQL = `UPDATE eventscope.subscriptions SET control_version = control_version + 1 WHERE ` + adminRows
	notifySQL      = `SELECT pg_notify($1, $2)`
	pauseSQL       = `UPDATE eventscope.subscriptions SET paused = true, paused_at = CASE WHEN paused THEN paused_at ELSE now() END WHERE ` + adminRows
	resumeSQL      = `
UPDATE eventscope.subscriptions SET paused = false, paused_at = NULL, stopped = false,
       state = CASE WHEN state = ` + sqlStopped + ` THEN ` + sqlCatchingUp + ` ELSE state END
 WHERE ` + adminRows
	resetSQL = `
UPDATE eventscope.subscriptions
   SET checkpoint_tx = $2, checkpoint_pos = $3, reset_version = reset_version + 1,
       stopped = false, state = CASE WHEN state = ` + sqlStopped + ` THEN ` + sqlCatchingUp + ` ELSE state END
 WHERE ` + adminRows
	retrySQL    = `UPDATE eventscope.parked_events SET retry_requested = true WHERE subscription IN ` + adminRowNames + ` AND event_id = $2`
	retryAllSQL = `UPDATE eventscope.parked_events SET retry_requested = true WHERE subscription IN ` + adminRowNames
	skipSQL     = `DELETE FROM eventscope.parked_events WHERE subscription IN ` + adminRowNames + ` AND event_id = $2`
	// deleteSQL runs in a transaction of its own (with deleteMembersSQL and
	// notifySQL).
	deleteSQL        = `DELETE FROM eventscope.subscriptions WHERE ` + adminRows
	deleteMembersSQL = `DELETE FROM eventscope.subscription_members WHERE group_name = $1`
	// parkedSQL lists a subscription's parked events in global order.
	parkedSQL = `
SELECT p.event_id, p.attempts, p.last_error, p.parked_at, p.retry_requested, p.first_failed_at, p.history
  FROM eventscope.parked_events p
 WHERE p.subscription IN ` + adminRowNames + `
 ORDER BY p.tx_id, p.position`
)

// Lease connection statements (on the lease loop's own connection).
const (
	unlockSQL  = `SELECT pg_advisory_unlock(k) FROM unnest($1::bigint[]) AS k`
	tryLockSQL = `SELECT pg_try_advisory_lock(k) FROM unnest($1::bigint[]) WITH ORDINALITY AS t(k, i) ORDER BY i`
	pingSQL    = `SELECT 1`
)

// Groups (competing consumers, group.go; store/migrations/014).
const (
	// createPartitionRowSQL creates a group's partition row unless it exists
	// ($1 row name, $6 group, $7 partition, $8 partitions).
	createPartitionRowSQL = `
INSERT INTO eventscope.subscriptions (name, categories, types, checkpoint_tx, checkpoint_pos, group_name, partition, partitions)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO NOTHING`
	// groupShapeSQL: the partition count the group's rows were created
	// with (0: none yet), and whether a plain subscription has its name.
	groupShapeSQL = `
SELECT coalesce((SELECT max(partitions) FROM eventscope.subscriptions WHERE group_name = $1), 0),
       EXISTS (SELECT 1 FROM eventscope.subscriptions WHERE name = $1)`
	// joinGroupSQL records (or renews) a member; it also forgets members
	// whose backend is gone and that sent nothing for a minute.
	joinGroupSQL = `
WITH gone AS (
    DELETE FROM eventscope.subscription_members m
     WHERE m.group_name = $1 AND m.instance <> $2 AND m.heartbeat < now() - interval '1 minute'
       AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = m.backend))
INSERT INTO eventscope.subscription_members AS m (group_name, instance, host, pid, backend)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (group_name, instance) DO UPDATE
   SET host = EXCLUDED.host, pid = EXCLUDED.pid, backend = EXCLUDED.backend, heartbeat = now()
 WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL`
	// liveMembersSQL lists the members whose lease backend exists, by instance.
	liveMembersSQL = `
SELECT m.instance FROM eventscope.subscription_members m
 WHERE m.group_name = $1 AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = m.backend)
 ORDER BY m.instance`
	leaveGroupSQL = `DELETE FROM eventscope.subscription_members WHERE group_name = $1 AND instance = $2`
	// membersSQL lists every group's members (or one group's, $1) for
	// monitoring, with whether each is live.
	membersSQL = `
SELECT m.group_name, m.instance, m.host, m.pid, m.joined_at, m.heartbeat,
       EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = m.backend)
  FROM eventscope.subscription_members m
 WHERE $1::text IS NULL OR m.group_name = $1
 ORDER BY m.group_name, m.instance`
)

// parkedOfEventSQL: the parked rows of one event ($2) for some
// subscriptions ($1), through the primary key.
const parkedOfEventSQL = `
SELECT p.subscription, p.attempts, p.last_error, p.parked_at, p.retry_requested
  FROM eventscope.parked_events p
 WHERE p.subscription = ANY ($1::text[]) AND p.event_id = $2`
