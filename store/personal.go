package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Personal marks fields of an event's data as personal data of a subject
// (a person, pseudonymously named: "customer-7", not an e-mail address).
// The store keeps those values only encrypted under a key of the subject's
// own (migration 012); Forget deletes the key, and from then on the fields
// read as null everywhere. On the SQL API it is the event object's
// "personal": {"subject": ..., "fields": ["name", ["address", "street"]]}.
type Personal struct {
	// Subject names whose data the fields are: 1 to 200 bytes, no
	// whitespace, control or format characters (the stream-id rules).
	Subject string
	// Fields are paths of keys into data: {"name"} is data's top-level
	// "name", {"address", "street"} the "street" of the object
	// data.address. At least one, at most 100; each must be present in
	// data; no path may be a prefix of another.
	Fields [][]string
	// Erased records the fields as erased already: their values in data
	// must be null or absent, and nothing is encrypted. Import uses it for
	// events exported after a forget. On read: the subject was forgotten.
	Erased bool
}

// PersonalFields marks top-level fields of data as subject's personal data.
func PersonalFields(subject string, fields ...string) *Personal {
	p := &Personal{Subject: subject}
	for _, f := range fields {
		p.Fields = append(p.Fields, []string{f})
	}
	return p
}

// MaxPersonalFields bounds the fields one event marks personal.
const MaxPersonalFields = 100

// maxPersonalDepth bounds a field's path.
const maxPersonalDepth = 32

// personalKey is the metadata key under which readers find the marking.
const personalKey = "$personal"

type personalJSON struct {
	Subject string            `json:"subject"`
	Fields  []json.RawMessage `json:"fields"`
	Erased  bool              `json:"erased,omitempty"`
}

// MarshalJSON writes the SQL API's form: a one-key path as a string.
func (p Personal) MarshalJSON() ([]byte, error) {
	out := personalJSON{Subject: p.Subject, Erased: p.Erased, Fields: make([]json.RawMessage, len(p.Fields))}
	for i, f := range p.Fields {
		var b []byte
		var err error
		if len(f) == 1 {
			b, err = json.Marshal(f[0])
		} else {
			b, err = json.Marshal(f)
		}
		if err != nil {
			return nil, err
		}
		out.Fields[i] = b
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the SQL API's form (and the readers' marker).
func (p *Personal) UnmarshalJSON(b []byte) error {
	var in personalJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*p = Personal{Subject: in.Subject, Erased: in.Erased}
	for _, f := range in.Fields {
		var s string
		if err := json.Unmarshal(f, &s); err == nil {
			p.Fields = append(p.Fields, []string{s})
			continue
		}
		var path []string
		if err := json.Unmarshal(f, &path); err != nil {
			return fmt.Errorf("personal field %s: must be a name or a path of names", f)
		}
		p.Fields = append(p.Fields, path)
	}
	return nil
}

// FieldNames are the fields as text: "name", "address.street".
func (p *Personal) FieldNames() []string {
	out := make([]string, len(p.Fields))
	for i, f := range p.Fields {
		out[i] = strings.Join(f, ".")
	}
	return out
}

// Personal is the event's personal-data marking as readers see it (the
// reserved metadata key "$personal"): which fields are personal data of
// which subject, and whether they were erased (then they read as null).
// ok is false for events without personal fields.
func (e Event) Personal() (p *Personal, ok bool) {
	if !bytes.Contains(e.Metadata, []byte(`"`+personalKey+`"`)) {
		return nil, false
	}
	var m struct {
		P *Personal `json:"$personal"`
	}
	if err := json.Unmarshal(e.Metadata, &m); err != nil || m.P == nil {
		return nil, false
	}
	return m.P, true
}

// ValidateSubject checks a subject the way the SQL API does.
func ValidateSubject(subject string) error {
	if reason := subjectProblem(subject); reason != "" {
		return &ValidationError{Field: "subject", Index: -1, Reason: reason}
	}
	return nil
}

func subjectProblem(s string) string {
	switch {
	case s == "":
		return "must be a non-empty string"
	case len(s) > MaxNameBytes:
		return fmt.Sprintf("is %d bytes, at most %d allowed", len(s), MaxNameBytes)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if StreamIDRefused(r) {
			return fmt.Sprintf("must not contain whitespace, control or format characters (found %s)", runeName(r))
		}
	}
	return ""
}

// validatePersonal checks event i's marking against its data with the
// rules of eventscope.personal_problem.
func validatePersonal(i int, p *Personal, data json.RawMessage) error {
	bad := func(field, reason string) error { return &ValidationError{Field: field, Index: i, Reason: reason} }
	if r := subjectProblem(p.Subject); r != "" {
		return bad("personal.subject", r)
	}
	switch {
	case len(p.Fields) == 0:
		return bad("personal.fields", "must be a non-empty array of field names or paths")
	case len(p.Fields) > MaxPersonalFields:
		return bad("personal.fields", fmt.Sprintf("holds %d fields, at most %d allowed", len(p.Fields), MaxPersonalFields))
	}
	for j, f := range p.Fields {
		field := fmt.Sprintf("personal.fields[%d]", j)
		if len(f) == 0 || len(f) > maxPersonalDepth {
			return bad(field, "must be a field name or a path (an array of 1 to 32 field names)")
		}
		shown, _ := json.Marshal(truncate(strings.Join(f, "."), 100))
		for _, k := range f {
			if k == "" {
				return bad(field, "must not be empty")
			}
			if !utf8.ValidString(k) || strings.ContainsRune(k, 0) {
				return bad(field, "is not valid UTF-8 text")
			}
		}
		for _, q := range p.Fields[:j] {
			n := min(len(q), len(f))
			if equalPath(q[:n], f[:n]) {
				return bad(field, fmt.Sprintf("%s overlaps an earlier field", shown))
			}
		}
		v, parent, ok := lookupPath(data, f)
		if !ok {
			prefix, _ := json.Marshal(truncate(strings.Join(f[:parent], "."), 100))
			return bad(field, fmt.Sprintf("%s is not in data (%s is not an object)", shown, prefix))
		}
		switch {
		case p.Erased && v != nil && string(bytes.TrimSpace(v)) != "null":
			return bad(field, fmt.Sprintf("%s holds a value, but personal says the fields are erased", shown))
		case !p.Erased && v == nil:
			return bad(field, fmt.Sprintf("%s is not in data", shown))
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func equalPath(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// lookupPath finds path in the JSON object data: the value (nil when the
// last key is absent) and ok; when a key before the last does not lead to
// an object, ok is false and parent is how many keys do.
func lookupPath(data json.RawMessage, path []string) (v json.RawMessage, parent int, ok bool) {
	cur := data
	for i, k := range path {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(cur, &obj); err != nil || obj == nil {
			return nil, i, false
		}
		next, found := obj[k]
		if !found {
			if i == len(path)-1 {
				return nil, i, true
			}
			return nil, i + 1, false
		}
		cur = next
	}
	return cur, len(path), true
}

// ForgetResult is what Forget did.
type ForgetResult struct {
	Subject string `json:"subject"`
	// HadKey is false when the subject had no key (never had personal
	// data, or was forgotten before): nothing was erased or recorded.
	HadKey bool `json:"had_key"`
	// Events and Streams held the subject's personal values.
	Events  int64    `json:"events"`
	Streams []string `json:"streams"`
	// AuditVersion is the SubjectForgotten event's version in
	// ErasureStream (-1 when nothing was recorded).
	AuditVersion int64 `json:"audit_version"`
}

// ErasureStream is the stream Forget records its audit events in.
const ErasureStream = "eventscope-erasure"

// SubjectForgottenType is the audit event's type.
const SubjectForgottenType = "SubjectForgotten"

// Forget erases a subject's personal data (eventscope.forget): it deletes
// the subject's key, so every value sealed under it reads as null from now
// on, in every read path, and appends a SubjectForgotten event (without
// personal data) to ErasureStream. Positions, versions and the other fields
// of the events do not change. Derived state that copied the values (the
// domain's snapshots) is the caller's to rebuild: Streams names where.
// Backups and exports taken before hold the key or the values until they
// expire.
func (s *Store) Forget(ctx context.Context, subject string) (ForgetResult, error) {
	res := ForgetResult{Subject: subject, AuditVersion: -1}
	if err := ValidateSubject(subject); err != nil {
		return res, err
	}
	var audit *int64
	err := s.pool.QueryRow(ctx, `SELECT had_key, events, streams, audit_version FROM eventscope.forget($1)`, subject).
		Scan(&res.HadKey, &res.Events, &res.Streams, &audit)
	if err != nil {
		return res, fmt.Errorf("forget %s: %w", subject, translate("", Any, err))
	}
	if audit != nil {
		res.AuditVersion = *audit
	}
	if s.wake != nil && res.HadKey {
		s.wake.kick(Category(ErasureStream))
	}
	return res, nil
}
