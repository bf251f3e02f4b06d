package domain

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"eventscope/store"
)

// Aggregate is a registered entity type's state: a pure fold over its
// stream's events. Apply must not fail and must not do I/O; an event it does
// not know leaves the state unchanged. The state's JSON encoding is what
// time-travel shows and what snapshots store, so it must round-trip through
// encoding/json.
type Aggregate interface {
	Apply(e Event)
}

// AggregateType describes one registered aggregate.
type AggregateType struct {
	// Name is shown to users: "Order", "Customer".
	Name string
	// Category is the stream category it owns: "order", "customer".
	Category string
	// SchemaVersion identifies the fold and the state's encoding. Bump it when
	// either changes: snapshots of other schema versions are then ignored.
	SchemaVersion int
	// New returns the empty state of the entity with this id (the part of the
	// stream id after the category).
	New func(id string) Aggregate
	// PersonalState names the top-level keys of the state that hold
	// personal data (copied from events that mark them personal). Their
	// snapshots are stored with those values sealed under the stream's
	// key, and rebuilt when the subject is forgotten. Default none.
	PersonalState []string
}

// ErrRule is what a command returns when an invariant forbids it; the error
// is a *RuleError.
var ErrRule = errors.New("rule violated")

// RuleError says which invariant a command broke.
type RuleError struct {
	Entity string // "order 000123"
	Msg    string
}

func (e *RuleError) Error() string        { return e.Entity + ": " + e.Msg }
func (e *RuleError) Is(target error) bool { return target == ErrRule }

func ruleErr(entity, format string, args ...any) error {
	return &RuleError{Entity: entity, Msg: fmt.Sprintf(format, args...)}
}

// Registry maps stream categories to aggregates. It is safe for concurrent
// reads once built.
type Registry struct {
	byCategory map[string]AggregateType
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{byCategory: map[string]AggregateType{}} }

// DefaultRegistry returns a registry with Order and Customer.
func DefaultRegistry() *Registry {
	r := NewRegistry()
	for _, t := range []AggregateType{OrderType, CustomerType} {
		if err := r.Register(t); err != nil {
			panic(err)
		}
	}
	return r
}

// Register adds an aggregate type; a category may be registered once.
func (r *Registry) Register(t AggregateType) error {
	switch {
	case t.Name == "" || t.Category == "" || t.New == nil:
		return fmt.Errorf("register aggregate: Name, Category and New are required")
	case strings.Contains(t.Category, "-"):
		return fmt.Errorf("register aggregate %s: category %q must not contain '-'", t.Name, t.Category)
	}
	if old, ok := r.byCategory[t.Category]; ok {
		return fmt.Errorf("register aggregate %s: category %q already belongs to %s", t.Name, t.Category, old.Name)
	}
	r.byCategory[t.Category] = t
	return nil
}

// Lookup returns the aggregate registered for a category.
func (r *Registry) Lookup(category string) (AggregateType, bool) {
	t, ok := r.byCategory[category]
	return t, ok
}

// ForStream returns the aggregate registered for a stream's category.
func (r *Registry) ForStream(stream string) (AggregateType, bool) {
	return r.Lookup(store.Category(stream))
}

// Categories lists the registered categories, sorted.
func (r *Registry) Categories() []string {
	out := make([]string, 0, len(r.byCategory))
	for c := range r.byCategory {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// EntityID is the part of a stream id after its category ("000123" of "order-000123").
func EntityID(stream string) string {
	c := store.Category(stream)
	if len(c) < len(stream) {
		return stream[len(c)+1:]
	}
	return ""
}

// ApplyStored decodes a stored event and applies it to a.
func ApplyStored(a Aggregate, e store.Event) error {
	ev, err := Decode(e.Type, e.Data)
	if err != nil {
		return fmt.Errorf("%s version %d: %w", e.StreamID, e.Version, err)
	}
	if ev != nil {
		a.Apply(ev)
	}
	return nil
}
