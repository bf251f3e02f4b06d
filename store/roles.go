package store

import (
	"context"
	"fmt"
)

// Capabilities is what the connected role may do, by the privilege model
// of store/migrations/privileges.sql (the group roles RoleReader,
// RoleWriter, RoleAdmin, or the schema's owner, who may do everything).
type Capabilities struct {
	User  string `json:"user"`  // the connected role (current_user)
	Read  bool   `json:"read"`  // read the log, streams, stats, subscriptions (reader)
	Write bool   `json:"write"` // append, close, run subscribers, store snapshots (writer)
	// Admin is subscription administration: pause, resume, reset, retry,
	// skip, delete (admin).
	Admin bool `json:"admin"`
	// Forget erases a subject's personal data (admin; false while the
	// schema has no eventscope.forget).
	Forget bool `json:"forget"`
}

// Missing names the group role that grants what Capabilities lacks for
// want ("read", "write", "admin"), "" when nothing is missing.
func (c Capabilities) Missing(want string) string {
	switch {
	case want == "read" && !c.Read:
		return RoleReader
	case want == "write" && !c.Write:
		return RoleWriter
	case want == "admin" && !c.Admin:
		return RoleAdmin
	}
	return ""
}

// Capabilities finds out, in one query, what the connected role may do:
// each flag is the privilege that the operation needs first (the append
// function for writing, the subscriptions' paused column for
// administration), so it holds for owners and superusers as for members of
// the group roles.
func (s *Store) Capabilities(ctx context.Context) (Capabilities, error) {
	var c Capabilities
	// Without USAGE on the schema, naming its objects is itself refused:
	// CASE keeps the other checks from running.
	err := s.pool.QueryRow(ctx, `SELECT u, r, r AND w, r AND w AND a, r AND w AND f FROM (SELECT current_user::text AS u,
		has_schema_privilege('eventscope', 'USAGE') AS usage) x,
		LATERAL (SELECT
		  CASE WHEN x.usage THEN has_table_privilege('eventscope.events', 'SELECT')
		    AND has_function_privilege('eventscope.log_blocker()', 'EXECUTE') ELSE false END AS r,
		  CASE WHEN x.usage THEN has_function_privilege('eventscope.append(text, bigint, jsonb)', 'EXECUTE')
		    AND has_column_privilege('eventscope.subscriptions', 'checkpoint_pos', 'UPDATE')
		    AND has_table_privilege('eventscope.snapshots', 'INSERT') ELSE false END AS w,
		  CASE WHEN x.usage THEN has_column_privilege('eventscope.subscriptions', 'paused', 'UPDATE')
		    AND has_table_privilege('eventscope.subscriptions', 'DELETE') ELSE false END AS a,
		  CASE WHEN x.usage THEN coalesce((SELECT bool_and(has_function_privilege(p.oid, 'EXECUTE')) FROM pg_proc p
		    WHERE p.pronamespace = 'eventscope'::regnamespace AND p.proname = 'forget'), false) ELSE false END AS f) y`).
		Scan(&c.User, &c.Read, &c.Write, &c.Admin, &c.Forget)
	if err != nil {
		return c, fmt.Errorf("find out what role may do: %w", err)
	}
	return c, nil
}
