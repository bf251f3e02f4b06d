package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"
)

// ImportOptions bound an import.
type ImportOptions struct {
	// BatchEvents caps the events read ahead, and so the events of one
	// append (consecutive events of one stream go in one atomic append).
	// Default 500.
	BatchEvents int
	// BatchBytes caps the bytes read ahead. Default 4 MiB.
	BatchBytes int
	// MaxLineBytes caps one input line. Default 16 MiB.
	MaxLineBytes int
	// Progress, when set, is called after each batch with the totals so far.
	Progress func(ImportResult)
}

// ImportResult counts what an import did.
type ImportResult struct {
	// Lines is the number of events read.
	Lines int64 `json:"events"`
	// Appended counts the events that were new.
	Appended int64 `json:"appended"`
	// Present counts the events already stored (with the same content).
	Present int64 `json:"already_present"`
	// Streams is the number of distinct streams in the input.
	Streams int `json:"streams"`
}

// ImportLineError names the input line an import stopped at.
type ImportLineError struct {
	Line int64
	Err  error
}

func (e *ImportLineError) Error() string { return fmt.Sprintf("import line %d: %v", e.Line, e.Err) }
func (e *ImportLineError) Unwrap() error { return e.Err }

// importLine is what import reads of each line: the fields of the event
// export (query --json / read --json); others (version, position,
// checkpoint, recorded_at) are ignored: the target store assigns its own.
type importLine struct {
	StreamID *string         `json:"stream_id"`
	EventID  *uuid.UUID      `json:"event_id"`
	Type     *string         `json:"type"`
	Data     json.RawMessage `json:"data"`
	Metadata json.RawMessage `json:"metadata"`
}

// Import appends NDJSON events (the export format: one Event as JSON per
// line, as `eventscope query --json` and `read --json` print them) in input
// order, keeping their event ids, so each stream's events keep their order
// and a re-import is a no-op. Consecutive events of one stream are appended
// together, atomically. An event id stored already with the same content is
// skipped; with other content the import stops with a
// *DuplicateEventError, inside an *ImportLineError naming the line. What
// was appended before the bad line stays.
func (s *Store) Import(ctx context.Context, r io.Reader, o ImportOptions) (ImportResult, error) {
	if o.BatchEvents <= 0 {
		o.BatchEvents = 500
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 4 << 20
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = 16 << 20
	}
	var (
		res     ImportResult
		streams = map[string]bool{}
		window  []importItem
		bytesIn int
	)
	// Lines are read in windows (bounded by count and bytes); one lookup
	// per window finds the ids already stored, then each run of
	// consecutive events of one stream is one append.
	flush := func() error {
		if len(window) == 0 {
			return nil
		}
		defer func() { window, bytesIn = window[:0], 0 }()
		ids := make([]uuid.UUID, len(window))
		for i, it := range window {
			ids[i] = it.ev.ID
		}
		present, err := s.storedIDs(ctx, ids)
		if err != nil {
			return fmt.Errorf("import line %d: %w", window[0].line, err)
		}
		for start := 0; start < len(window); {
			end := start + 1
			for end < len(window) && window[end].stream == window[start].stream && end-start < o.BatchEvents {
				end++
			}
			if err := s.importRun(ctx, window[start:end], present, &res); err != nil {
				return err
			}
			start = end
		}
		if o.Progress != nil {
			o.Progress(res)
		}
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), o.MaxLineBytes)
	var n int64
	for sc.Scan() {
		n++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		ev, sid, err := parseImportLine(text)
		if err != nil {
			if ferr := flush(); ferr != nil {
				return res, ferr
			}
			return res, &ImportLineError{Line: n, Err: err}
		}
		if len(window) >= o.BatchEvents || bytesIn+len(text) > o.BatchBytes {
			if err := flush(); err != nil {
				return res, err
			}
		}
		if !streams[sid] {
			streams[sid] = true
			res.Streams++
		}
		window = append(window, importItem{ev: ev, stream: sid, line: n})
		bytesIn += len(text)
		res.Lines++
	}
	if err := sc.Err(); err != nil {
		if ferr := flush(); ferr != nil {
			return res, ferr
		}
		if errors.Is(err, bufio.ErrTooLong) {
			return res, &ImportLineError{Line: n + 1, Err: &ValidationError{Field: "line", Index: -1, Reason: fmt.Sprintf("is longer than %d bytes", o.MaxLineBytes)}}
		}
		return res, fmt.Errorf("import: read line %d: %w", n+1, err)
	}
	return res, flush()
}

type importItem struct {
	ev     NewEvent
	stream string
	line   int64
}

func parseImportLine(text []byte) (NewEvent, string, error) {
	var l importLine
	if err := json.Unmarshal(text, &l); err != nil {
		return NewEvent{}, "", &ValidationError{Field: "line", Index: -1, Reason: "is not an exported event (JSON object): " + err.Error()}
	}
	switch {
	case l.StreamID == nil:
		return NewEvent{}, "", &ValidationError{Field: "stream_id", Index: -1, Reason: "is missing"}
	case l.EventID == nil || *l.EventID == uuid.Nil:
		return NewEvent{}, "", &ValidationError{Field: "event_id", Index: -1, Reason: "is missing (the import keeps event ids, so a re-import is a no-op)"}
	case l.Type == nil:
		return NewEvent{}, "", &ValidationError{Field: "type", Index: -1, Reason: "is missing"}
	case len(l.Data) == 0 || string(l.Data) == "null":
		return NewEvent{}, "", &ValidationError{Field: "data", Index: -1, Reason: "is missing (a JSON object)"}
	}
	if err := ValidateStreamID(*l.StreamID); err != nil {
		return NewEvent{}, "", err
	}
	ev := NewEvent{ID: *l.EventID, Type: *l.Type, Data: l.Data, Metadata: l.Metadata}
	if err := importPersonal(&ev); err != nil {
		return NewEvent{}, "", err
	}
	return ev, *l.StreamID, nil
}

// importPersonal turns the readers' "$personal" marker back into the
// marking it came from: the fields are personal data of the subject again
// (sealed under the target store's key for it), or, when the export was
// taken after a forget, recorded as erased (their nulls are not data).
func importPersonal(ev *NewEvent) error {
	if !bytes.Contains(ev.Metadata, []byte(`"`+personalKey+`"`)) {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(ev.Metadata, &m); err != nil {
		return nil // the append names what is wrong with it
	}
	raw, ok := m[personalKey]
	if !ok {
		return nil
	}
	var p Personal
	if err := json.Unmarshal(raw, &p); err != nil {
		return &ValidationError{Field: "metadata", Index: -1, Reason: `"$personal" is not a personal-data marker: ` + err.Error()}
	}
	delete(m, personalKey)
	md, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ev.Metadata, ev.Personal = md, &p
	return nil
}

// importRun appends one stream's consecutive events. Events already
// stored are checked by the append itself (same content: a no-op); a run
// that mixes stored and new events goes one event at a time.
func (s *Store) importRun(ctx context.Context, run []importItem, present map[uuid.UUID]bool, res *ImportResult) error {
	stream := run[0].stream
	have := 0
	evs := make([]NewEvent, len(run))
	for i, it := range run {
		evs[i] = it.ev
		if present[it.ev.ID] {
			have++
		}
	}
	if have == 0 || have == len(run) {
		if _, err := s.Append(ctx, stream, Any, evs...); err != nil {
			return &ImportLineError{Line: run[0].line, Err: err}
		}
		if have == 0 {
			res.Appended += int64(len(run))
		} else {
			res.Present += int64(len(run))
		}
		return nil
	}
	for _, it := range run {
		if _, err := s.Append(ctx, stream, Any, it.ev); err != nil {
			return &ImportLineError{Line: it.line, Err: err}
		}
		if present[it.ev.ID] {
			res.Present++
		} else {
			res.Appended++
		}
	}
	return nil
}

// storedIDs reports which of ids are stored.
func (s *Store) storedIDs(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT e.event_id FROM eventscope.events e WHERE e.event_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("look up event ids: %w", err)
	}
	defer rows.Close()
	out := map[uuid.UUID]bool{}
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}
