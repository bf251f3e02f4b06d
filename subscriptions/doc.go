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
// A Handler is called at least once per event: the checkpoint moves after
// the handler returned, once per batch, so a crash redelivers at most the
// unfinished batch. A TxHandler runs in the transaction that moves the
// checkpoint, so its effects on the same database happen exactly once.
//
// # Leases
//
// At most one process holds a subscription: the holder owns a session
// advisory lock (on one dedicated connection per process) and bumps the
// row's lease_epoch when it takes the lease; every checkpoint write checks
// the epoch, so a holder that lost its lease cannot move the checkpoint, and
// it stops delivering as soon as it notices (at its next write, or at the
// lease check it makes before a batch when its last confirmation is older
// than 250 ms). Standbys try to take unheld leases every second, so a
// standby takes over about a second after the holder's connection dies.
//
// # Failures
//
// A failing event is retried with exponential backoff; after the last
// attempt it is parked (recorded with its error) and the subscription moves
// on, or, with StopOnFailure, the subscription stops at it until an
// operator resumes or resets it.
//
// # Administration and monitoring
//
// Admin operations write the subscription's row and NOTIFY the holder on
// the eventscope_control channel; the holder acts within a second (it also
// polls the row's control version with its heartbeat). Monitor reads every
// subscription's status in one query per tick.
package subscriptions
