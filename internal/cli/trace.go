package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/tui/common"
)

func init() { commandFactories = append(commandFactories, newTraceCmd) }

// traceLine is one NDJSON line of `trace --json`: the fields of `read
// --json` plus the tree's.
type traceLine struct {
	store.Event
	Parent      *uuid.UUID `json:"parent"`
	Depth       int        `json:"depth"`
	AfterMS     *float64   `json:"after_ms"`
	Cause       *string    `json:"cause"`
	CauseStored bool       `json:"cause_stored"`
	Source      *string    `json:"source"`
	Slowest     bool       `json:"slowest,omitempty"`
	Cycle       bool       `json:"cycle,omitempty"`
}

func newTraceCmd(g *globals) *cobra.Command {
	var (
		asJSON bool
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "trace EVENT_ID|STREAM@VERSION",
		Short: "Show every event of an event's correlation as a tree by causation",
		Long: `trace follows the correlation convention (metadata "correlationId" and
"causationId", see the README): it finds every event of the event's
conversation, across streams, through the correlation and causation indexes,
and prints them as a tree by causation, each with the time since its cause
and the subscriber that wrote it (metadata "source"); the slowest step is
marked. A root whose causationId names no stored event (a command's id) says
so.

--json prints NDJSON in tree order: the fields of "read --json" plus
"parent" (the causing event's id, or null), "depth", "after_ms" (milliseconds
since the parent was recorded, null for a root), "cause" (the causationId as
stored), "cause_stored" and "source".

Exit codes: 2 bad input, 4 no such event.`,
		Example: `  eventscope trace order-00042@0
  eventscope trace 0b9f2c3e-6a1d-4c55-9d0e-5d7b0f1a2c3d --json`,
		Args: wrapArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := store.ParseEventRef(args[0])
			if err != nil {
				return err
			}
			if limit <= 0 {
				return Usagef("--limit must be > 0, got %d", limit)
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			tr, err := st.Trace(cmd.Context(), ref, store.TraceOptions{Limit: limit})
			if err != nil {
				return err
			}
			if asJSON {
				err = printTraceJSON(g.out, tr)
			} else {
				err = printTraceTree(g.out, tr)
			}
			if err == nil && tr.Truncated {
				fmt.Fprintf(g.errw, "trace cut at %d events (--limit)\n", len(tr.Steps))
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "NDJSON: one object per event, in tree order")
	cmd.Flags().IntVar(&limit, "limit", 10000, "at most this many events")
	return cmd
}

func printTraceJSON(w io.Writer, tr store.Trace) error {
	enc := json.NewEncoder(w)
	for _, s := range tr.Steps {
		l := traceLine{Event: s.Event, Parent: s.Parent, Depth: s.Depth, CauseStored: s.CauseStored, Slowest: s.Slowest, Cycle: s.Cycle}
		if s.After != nil {
			ms := float64(s.After.Microseconds()) / 1000
			l.AfterMS = &ms
		}
		if s.Cause != "" {
			l.Cause = &s.Cause
		}
		if s.Source != "" {
			l.Source = &s.Source
		}
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return nil
}

// printTraceTree draws the tree: one line per event, indented by depth.
func printTraceTree(w io.Writer, tr store.Trace) error {
	streams := map[string]bool{}
	for _, s := range tr.Steps {
		streams[s.StreamID] = true
	}
	fmt.Fprintf(w, "correlation %s: %d events in %d streams\n", textsafe.Line(tr.CorrelationID), len(tr.Steps), len(streams))
	for i, s := range tr.Steps {
		var b strings.Builder
		b.WriteString(treePrefix(tr.Steps, i))
		b.WriteString(textsafe.Line(s.Type))
		fmt.Fprintf(&b, "  %s@%d", textsafe.Line(s.StreamID), s.Version)
		b.WriteString("  " + s.RecordedAt.Local().Format("15:04:05.000"))
		if s.After != nil {
			b.WriteString("  +" + fmtAfter(*s.After))
		}
		if s.Source != "" {
			b.WriteString("  by " + common.Truncate(textsafe.Line(s.Source), 30))
		}
		switch {
		case s.Parent == nil && s.Cause != "" && !s.CauseStored:
			b.WriteString("  caused by " + common.Truncate(textsafe.Line(s.Cause), 40) + " (no stored event: a command)")
		case s.Parent == nil && s.Cause != "" && s.CauseStored:
			b.WriteString("  caused by event " + textsafe.Line(s.Cause) + " (another correlation)")
		}
		if s.Cycle {
			b.WriteString("  (causation cycle)")
		}
		if s.Slowest {
			b.WriteString("  ◀ slowest")
		}
		if s.EventID == tr.Start {
			b.WriteString("  ◀ this event")
		}
		fmt.Fprintln(w, b.String())
	}
	return nil
}

// treePrefix draws the branches in front of step i: "│  " for each
// ancestor with siblings still to come, then "├─ " or "└─ ".
func treePrefix(steps []store.TraceStep, i int) string {
	d := steps[i].Depth
	if d == 0 {
		return ""
	}
	var b strings.Builder
	for level := 1; level <= d; level++ {
		more := false // does a later step continue this level's branch?
		for j := i + 1; j < len(steps) && steps[j].Depth >= level; j++ {
			if steps[j].Depth == level {
				more = true
				break
			}
		}
		switch {
		case level < d && more:
			b.WriteString("│  ")
		case level < d:
			b.WriteString("   ")
		case more:
			b.WriteString("├─ ")
		default:
			b.WriteString("└─ ")
		}
	}
	return b.String()
}

func fmtAfter(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + fmtAfter(-d)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}
