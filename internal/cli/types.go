package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"eventscope/internal/textsafe"
	"eventscope/store"
	"eventscope/tui/common"
)

func init() { commandFactories = append(commandFactories, newTypesCmd) }

func newTypesCmd(g *globals) *cobra.Command {
	var (
		asJSON bool
		budget time.Duration
		reset  bool
	)
	cmd := &cobra.Command{
		Use:   "types [TYPE...]",
		Short: "The event-type catalog: counts, categories, fields and drift of each type",
		Long: `types prints the event-type catalog: for each event type its count, when it
was first and last seen, its categories, its data's fields (each path's JSON
types with their shares, its presence among the type's events, example
values) and drift: where a field appeared, disappeared or changed type, with
the event where it began. Naming TYPEs prints their fields and drift in full.

The catalog is kept in the database with its own checkpoint in the global
log: this command first folds in the events that arrived since (within
--budget; the worker and the demo keep it current), then reads it, without
scanning the log. A first run over a large history catches up in the
background of "eventscope worker" or over several calls.

--json prints one object per type: type, count, first_seen, last_seen,
categories, fields ({path, types, presence, examples}), drift.`,
		Example: `  eventscope types
  eventscope types OrderPlaced
  eventscope types --json | jq 'select(.drift | length > 0)'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if budget < 0 {
				return Usagef("--budget must be >= 0, got %s", budget)
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			if reset {
				if err := st.ResetCatalog(cmd.Context()); err != nil {
					return err
				}
			}
			o := store.CatalogOptions{Budget: budget}
			if budget == 0 {
				o.Budget = -1
			}
			types, state, err := st.CatalogTypes(cmd.Context(), o)
			if err != nil {
				return err
			}
			if len(args) > 0 {
				var picked []store.TypeInfo
				for _, a := range args {
					i := slices.IndexFunc(types, func(t store.TypeInfo) bool { return t.Type == a })
					if i < 0 {
						return &store.NotFoundError{What: fmt.Sprintf("event type %q (in the catalog, as of %s)", a, state.Checkpoint)}
					}
					picked = append(picked, types[i])
				}
				types = picked
			}
			if !state.CaughtUp && budget != 0 {
				fmt.Fprintf(g.errw, "the catalog is still catching up: %d events folded in so far (run again, or keep \"eventscope worker\" running)\n", state.Events)
			}
			if asJSON {
				enc := json.NewEncoder(g.out)
				for _, t := range types {
					if err := enc.Encode(t); err != nil {
						return err
					}
				}
				return nil
			}
			if len(args) > 0 {
				for i, t := range types {
					if i > 0 {
						fmt.Fprintln(g.out)
					}
					printTypeDetail(g.out, t)
				}
				return nil
			}
			return printTypesTable(g.out, types)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "NDJSON: one object per type")
	f.DurationVar(&budget, "budget", 10*time.Second, "time to spend folding new events in first (0: answer as the catalog stands)")
	f.BoolVar(&reset, "rebuild", false, "empty the catalog and rebuild it from the start of the log")
	return cmd
}

func printTypesTable(w io.Writer, types []store.TypeInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tEVENTS\tFIRST SEEN\tLAST SEEN\tCATEGORIES\tFIELDS\tDRIFT")
	for _, t := range types {
		var cats []string
		for _, c := range t.Categories {
			cats = append(cats, textsafe.Line(c.Category))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%d\n", common.Truncate(textsafe.Line(t.Type), 40), t.Count,
			t.FirstSeen.Local().Format("2006-01-02 15:04:05"), t.LastSeen.Local().Format("2006-01-02 15:04:05"),
			common.Truncate(strings.Join(cats, ","), 30), len(t.Fields), len(t.Drift))
	}
	return tw.Flush()
}

func printTypeDetail(w io.Writer, t store.TypeInfo) {
	fmt.Fprintf(w, "%s: %d events, %s to %s\n", textsafe.Line(t.Type), t.Count,
		t.FirstSeen.Local().Format("2006-01-02 15:04:05"), t.LastSeen.Local().Format("2006-01-02 15:04:05"))
	var cats []string
	for _, c := range t.Categories {
		cats = append(cats, fmt.Sprintf("%s (%d)", textsafe.Line(c.Category), c.Count))
	}
	fmt.Fprintf(w, "categories: %s\n\n", strings.Join(cats, ", "))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tPRESENCE\tTYPES\tEXAMPLES")
	for _, f := range t.Fields {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", common.Truncate(textsafe.Line(f.Path), 40), pct(f.Presence), typeShares(f.Types), examples(f.Examples))
	}
	_ = tw.Flush()
	if t.FieldsTruncated {
		fmt.Fprintln(w, "(more fields were seen than the catalog keeps per type: 256)")
	}
	if len(t.Drift) == 0 {
		fmt.Fprintln(w, "\nno drift: every field has kept its type since it appeared with the first event")
		return
	}
	fmt.Fprintln(w, "\nDRIFT")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, d := range t.Drift {
		change := d.Change
		switch d.Change {
		case "type_changed":
			change = fmt.Sprintf("type %s → %s", d.From, d.To)
		case "appeared":
			change = "appeared (" + d.To + ")"
		case "disappeared":
			if d.Over != nil {
				change = fmt.Sprintf("disappeared (back at %s@%d)", textsafe.Line(d.Over.StreamID), d.Over.Version)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\tafter %d events\tat %s@%d\t%s\t%s\n", common.Truncate(textsafe.Line(d.Path), 40), change, d.After,
			textsafe.Line(d.Event.StreamID), d.Event.Version, d.Event.EventID, d.Event.RecordedAt.Local().Format("2006-01-02 15:04:05"))
	}
	_ = tw.Flush()
	if t.DriftDropped > 0 {
		fmt.Fprintf(w, "(%d more drift entries not kept)\n", t.DriftDropped)
	}
}

func pct(f float64) string {
	switch {
	case f >= 1:
		return "100%"
	case f >= 0.995:
		return ">99%"
	case f > 0 && f < 0.005:
		return "<1%"
	}
	return fmt.Sprintf("%.0f%%", f*100)
}

func typeShares(m map[string]float64) string {
	type ts struct {
		t string
		s float64
	}
	var l []ts
	for t, s := range m {
		l = append(l, ts{t, s})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].s > l[j].s || l[i].s == l[j].s && l[i].t < l[j].t })
	var parts []string
	for _, x := range l {
		if len(l) == 1 {
			parts = append(parts, x.t)
		} else {
			parts = append(parts, x.t+" "+pct(x.s))
		}
	}
	return strings.Join(parts, ", ")
}

func examples(ex []store.Example) string {
	var parts []string
	for _, e := range ex {
		v := string(e.Value)
		if e.Cut {
			v += "…"
		}
		parts = append(parts, v)
	}
	return common.Truncate(textsafe.Line(strings.Join(parts, "  ")), 60)
}
