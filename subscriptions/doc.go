// Package subscriptions delivers the store's global log to durable,
// named subscribers: each keeps its checkpoint in PostgreSQL, catches up in
// batches, then follows live, woken by LISTEN/NOTIFY on one dedicated
// connection per process and by polling as a fallback.
//
// # Delivery
//
// Delivery rests on store.ReadAll's no-skip guarantee: a subscription's
// checkpoint is a store.Checkpoint (transaction id, position) and every read
// resumes from the previous page's Next, so every committed event that
// matches the filter reaches the handler, in global order, and rolled-back
// events never do.
//
// A Runner reads the head of the log once for all its live subscriptions
// (the shared log: the newest events, kept in memory, read with ReadAll
// whenever a wake-up, the poll or the held-back watcher says there may be
// more); a subscription behind it catches up with its own reads, a page of
// up to ten batches ahead. When a read has caught up while committed events
// are still held back behind an older open transaction (whose end may send
// no wake-up), the held-back watcher checks the oldest running transaction
// after 1 ms, 2 ms, 4 ms ... up to every 50 ms, and reads again as soon as
// it has ended.
//
// A Handler is called at least once per event: its checkpoint moves after
// the handler returned, at the latest every BatchSize events (while live,
// also after at most 250 ms), so a crash redelivers at most one batch. A
// Handler's checkpoint is written with synchronous_commit off (visible and
// fenced at once, flushed to disk within about 0.6 s): only an unclean crash
// of the server itself can lose one, and that redelivers events. A TxHandler
// runs in the transaction that moves the checkpoint, so its effects on the
// same database happen exactly once.
//
// # Leases
//
// At most one process holds a subscription: the holder owns a session
// advisory lock (on one dedicated connection per process) and sets the
// row's lease_epoch (from a sequence) when it takes the lease; every
// checkpoint write checks the epoch, so a holder that lost its lease
// cannot move the checkpoint, and it stops delivering as soon as it
// notices (its lease connection fails, a fenced write is refused, or the
// lease check it makes before a batch when its last confirmation is older
// than 250 ms finds another epoch). Standbys try to take unheld leases
// every second, so a standby takes over about a second after the holder's
// connection dies. The lease and LISTEN connections ask the server for
// short TCP keepalives (2-3 s), so a holder whose host dies or is cut off
// loses its locks in seconds too. A new epoch is taken only while the
// lease connection's backend holds the lock.
//
// A holder that is alive to the network but stops working (its process
// frozen by SIGSTOP or a debugger, or starved) loses its leases after
// RunnerOptions.LeaseTimeout (5 s): the server ends its lease connection
// once it has sent nothing for that long (idle_session_timeout; a working
// runner uses it every second). Its TxHandler transaction, which would hold
// back the global log of the whole cluster, ends after TxIdleTimeout
// (10 s) idle. Monitoring shows such a holder as "unresponsive", naming it,
// for as long as it still holds the lock (monitoring looks the lock up in
// pg_locks), then the standby that took over.
//
// No operation waits unboundedly for a lock another session can take:
// the runner's statements, TxHandler transactions and admin operations run
// under lock_timeout (RunnerOptions.LockTimeout, AdminOptions.LockTimeout,
// 5 s) and fail with a retryable *LockTimeoutError naming what they waited
// for; the runner retries by itself.
//
// # Failures
//
// A failing event is retried with exponential backoff; after the last
// attempt it is parked (recorded with its error) and the subscription moves
// on, or, with StopOnFailure, the subscription stops at it until an
// operator resumes or resets it. A TxHandler's error that is the
// database's rather than the handler's (its connection closed, SQLSTATE
// class 08 or 57, a serialization failure or deadlock, a context or
// network error) is no failure: the delivery is retried later without
// counting an attempt, and the event is never parked for it.
//
// # Administration and monitoring
//
// Admin operations write the subscription's row and NOTIFY the holder on
// the eventscope_control channel; the holder acts within a second (it also
// compares the row's control version with its heartbeat). Monitor reads
// every subscription's status in two queries per tick (the rows, then the
// lags from the store's Backlogs); the holder writes
// heartbeats, states and rates of all its subscriptions in one statement
// per second.
//
// # Competing consumers
//
// A Subscription with Partitions > 0 is a group: its streams are split
// over that many partitions (PartitionOf), each a row of its own (GROUP#K)
// with its own checkpoint, lease and epoch, and the partitions are shared
// among the Runners that run the group, its live members (group.go). A
// partition moves when a member joins, leaves or dies, and resumes at its
// fenced checkpoint; Status shows a group as one entry with its Members and
// Partitions (groupstatus.go).
//
// Follow is a plain reader of the live log (no row, no lease), for
// `eventscope tail` and the console.
//
// # Layout
//
// The package reads the events log only through the store (ReadAll,
// FirstAfter, EventsByID, Backlogs); every statement on its own tables is
// in sql.go. Public types: subscription.go (Subscription, Status, errors),
// state.go (State). The Runner: runner.go (options, lease loop,
// heartbeats, polls), shared.go (the shared log), listener.go and
// watcher.go (wake-ups). One subscription (sub.go) is split by concern:
// lease.go, delivery.go, handlertx.go (the one TxHandler transaction
// path), checkpoint.go, parking.go, publish.go. Operators: admin.go,
// monitor.go, metrics.go; readers: follow.go; groups: group.go,
// groupstatus.go.
package subscriptions
