package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"eventscope/domain"
	"eventscope/internal/textsafe"
	"eventscope/store"
)

func init() { commandFactories = append(commandFactories, newForgetCmd) }

func newForgetCmd(g *globals) *cobra.Command {
	var yes, asJSON bool
	cmd := &cobra.Command{
		Use:   "forget SUBJECT",
		Short: "Erase a subject's personal data (crypto-shredding)",
		Long: `Erase every personal value of SUBJECT: the subject's encryption key is
deleted, so the fields events marked as its personal data read as null from
then on, everywhere (reads, tail, subscriptions, state, the console), each
such event's metadata says "$personal": {..., "erased": true}, and nothing
else changes (positions, versions, ids, the other fields). A
SubjectForgotten event (the subject, how many events and streams; no
personal value) is appended to the stream eventscope-erasure, and the
domain's snapshots that held the values are rebuilt.

Not undone by anything. Backups of the database and exports taken before
still hold the key or the values until they expire. Asks for confirmation
on a terminal; elsewhere --yes is required.

Exit codes: 2 bad input (or not confirmed).`,
		Example: `  eventscope forget customer-0007
  eventscope forget person-7 --yes --json`,
		Args: wrapArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			subject := args[0]
			if err := store.ValidateSubject(subject); err != nil {
				return err
			}
			if err := g.confirm(yes, fmt.Sprintf("erase every personal value of %s, for good", textsafe.Line(subject))); err != nil {
				return err
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := domain.Forget(cmd.Context(), domain.NewTimeTravel(st, domain.DefaultRegistry(), domain.TimeTravelOptions{}), subject)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.out).Encode(res)
			}
			switch {
			case res.HadKey:
				fmt.Fprintf(g.out, "forgot %s: %d events in %d streams now read its personal fields as null; %d streams' snapshots rebuilt; recorded as %s version %d\n",
					textsafe.Line(subject), res.Events, len(res.Streams), res.SnapshotsRebuilt, store.ErasureStream, res.AuditVersion)
			case res.Events > 0:
				fmt.Fprintf(g.out, "%s was forgotten before: its personal fields in %d events read as null already\n", textsafe.Line(subject), res.Events)
			default:
				fmt.Fprintf(g.out, "%s has no personal data in this store: nothing to erase\n", textsafe.Line(subject))
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// parsePersonal reads --personal SUBJECT:FIELD[,FIELD...]: the subject is
// what comes before the last ':'; a FIELD is a top-level key of DATA, or
// a dotted path into nested objects (address.street).
func parsePersonal(s string) (*store.Personal, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return nil, Usagef("--personal %q: want SUBJECT:FIELD[,FIELD...]", s)
	}
	p := &store.Personal{Subject: s[:i]}
	if err := store.ValidateSubject(p.Subject); err != nil {
		return nil, Usagef("--personal: subject %q %s", p.Subject, err.(*store.ValidationError).Reason)
	}
	for _, f := range strings.Split(s[i+1:], ",") {
		path := strings.Split(f, ".")
		for _, k := range path {
			if k == "" {
				return nil, Usagef("--personal: field %q is empty or has an empty part (fields are NAME or NAME.NAME...)", f)
			}
		}
		p.Fields = append(p.Fields, path)
	}
	return p, nil
}
