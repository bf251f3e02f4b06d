package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// StreamInfo describes one stream.
type StreamInfo struct {
	StreamID   string     `json:"stream_id"`
	Category   string     `json:"category"`
	Version    int64      `json:"version"` // version of the last event
	EventCount int64      `json:"event_count"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
}

// Closed reports whether the stream is tombstoned.
func (i StreamInfo) Closed() bool { return i.ClosedAt != nil }

// StreamOrder is the order of ListStreams.
type StreamOrder int

const (
	// ByID orders streams by id.
	ByID StreamOrder = iota
	// ByUpdated orders streams by their last append, newest first.
	ByUpdated
)

// ListStreamsOptions filter and page the stream list.
type ListStreamsOptions struct {
	// Prefix keeps stream ids that start with it. Default none.
	Prefix string
	// Category keeps one category's streams. Default all.
	Category string
	// Match keeps stream ids that contain Match's characters in order,
	// case-insensitively (the candidates of a fuzzy match, narrowed on the
	// server before ranking). Default none.
	Match string
	// Exclude drops the streams it matches (an inverted filter: the
	// console's "!"). Default: drops nothing.
	Exclude StreamMatch
	// Order is ByID (ascending) or ByUpdated (newest first). Default ByID.
	Order StreamOrder
	// Reverse turns Order around (ids descending, the oldest update
	// first); After pages on in that order. The first page reversed is
	// the last page of Order: a list's end without reading what is
	// before it.
	Reverse bool
	// After is the cursor from the previous page's Next. Default: first page.
	After string
	// Limit caps the page. Default 100.
	Limit int
}

// StreamMatch selects streams: those of Category (when set) whose ids
// contain Match's characters in order, case-insensitively (when set).
// The zero StreamMatch selects none.
type StreamMatch struct {
	Category string
	Match    string
}

// StreamList is one page of streams.
type StreamList struct {
	Streams []StreamInfo
	// Next is the cursor for the following page, empty on the last page.
	Next string
}

const streamColumns = `s.stream_id, s.category, s.version, s.event_count, s.created_at, s.updated_at, s.closed_at`

func scanStream(row pgx.CollectableRow) (StreamInfo, error) {
	var i StreamInfo
	err := row.Scan(&i.StreamID, &i.Category, &i.Version, &i.EventCount, &i.CreatedAt, &i.UpdatedAt, &i.ClosedAt)
	return i, err
}

// likeEscape escapes LIKE's wildcards (the escape character is \).
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// subsequencePattern turns "ord42" into "%o%r%d%4%2%".
func subsequencePattern(m string) string {
	var b strings.Builder
	b.WriteByte('%')
	for _, r := range m {
		b.WriteString(likeEscape(string(r)))
		b.WriteByte('%')
	}
	return b.String()
}

// ListStreams pages through streams with keyset pagination (never OFFSET).
func (s *Store) ListStreams(ctx context.Context, o ListStreamsOptions) (StreamList, error) {
	if o.Limit <= 0 {
		o.Limit = 100
	}
	var (
		conds []string
		args  []any
	)
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if o.Prefix != "" {
		conds = append(conds, `s.stream_id LIKE `+arg(likeEscape(o.Prefix)+"%"))
	}
	if o.Category != "" {
		conds = append(conds, `s.category = `+arg(o.Category))
	}
	if o.Match != "" {
		conds = append(conds, `s.stream_id ILIKE `+arg(subsequencePattern(o.Match)))
	}
	if x := o.Exclude; x.Category != "" || x.Match != "" {
		var in []string
		if x.Category != "" {
			in = append(in, `s.category = `+arg(x.Category))
		}
		if x.Match != "" {
			in = append(in, `s.stream_id ILIKE `+arg(subsequencePattern(x.Match)))
		}
		conds = append(conds, `NOT (`+strings.Join(in, ` AND `)+`)`)
	}
	// Each order ascends or descends; the cursor compares the same way.
	desc := o.Order == ByUpdated
	if o.Reverse {
		desc = !desc
	}
	dir, cmp := ``, `>`
	if desc {
		dir, cmp = ` DESC`, `<`
	}
	order := `s.stream_id` + dir
	if o.Order == ByUpdated {
		order = `s.updated_at` + dir + `, s.stream_id` + dir
		if o.After != "" {
			ts, id, ok := strings.Cut(o.After, "|")
			t, err := time.Parse(time.RFC3339Nano, ts)
			if !ok || err != nil {
				return StreamList{}, &ValidationError{Field: "cursor", Index: -1, Reason: fmt.Sprintf("%q is not a cursor from a previous page", o.After)}
			}
			conds = append(conds, `(s.updated_at, s.stream_id) `+cmp+` (`+arg(t)+`, `+arg(id)+`)`)
		}
	} else if o.After != "" {
		conds = append(conds, `s.stream_id `+cmp+` `+arg(o.After))
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	sql := `SELECT ` + streamColumns + ` FROM eventscope.streams s` + where + ` ORDER BY ` + order + ` LIMIT ` + arg(o.Limit+1)
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return StreamList{}, fmt.Errorf("list streams: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanStream)
	if err != nil {
		return StreamList{}, fmt.Errorf("list streams: %w", err)
	}
	out := StreamList{Streams: list}
	if len(list) > o.Limit {
		out.Streams = list[:o.Limit]
		last := out.Streams[o.Limit-1]
		if o.Order == ByUpdated {
			out.Next = last.UpdatedAt.UTC().Format(time.RFC3339Nano) + "|" + last.StreamID
		} else {
			out.Next = last.StreamID
		}
	}
	return out, nil
}

// StreamInfo describes a stream; ErrNotFound when it does not exist.
func (s *Store) StreamInfo(ctx context.Context, stream string) (StreamInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+streamColumns+` FROM eventscope.streams s WHERE s.stream_id = $1`, stream)
	if err != nil {
		return StreamInfo{}, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := pgx.CollectExactlyOneRow(rows, scanStream)
	if err == pgx.ErrNoRows {
		return StreamInfo{}, &NotFoundError{What: "stream " + stream}
	}
	if err != nil {
		return StreamInfo{}, fmt.Errorf("stream %s: %w", stream, err)
	}
	return info, nil
}

// CloseStream tombstones a stream: it stays readable, and every further
// append fails with ErrStreamClosed. Closing a closed stream is a no-op.
func (s *Store) CloseStream(ctx context.Context, stream string) error {
	var found bool
	if err := s.pool.QueryRow(ctx, `SELECT eventscope.close($1)`, stream).Scan(&found); err != nil {
		return AsPermission(fmt.Errorf("close %s: %w", stream, err), "close "+stream, RoleWriter)
	}
	if !found {
		return &NotFoundError{What: "stream " + stream}
	}
	return nil
}
