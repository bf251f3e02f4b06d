package cli

import (
	"bytes"
	"context"
	"io"
	"strings"

	"eventscope/store"
)

// readAllPage is the page size read --all streams in.
const readAllPage = 1000

// checkFilters validates read --all's --category and --type values.
func checkFilters(categories, types []string) error {
	for _, c := range categories {
		switch {
		case c == "":
			return Usagef("--category must not be empty")
		case strings.Contains(c, "-"):
			return Usagef("--category %q holds a \"-\": a category is the part of a stream id before the first \"-\" (stream %s-1 is in category %q)", c, c, store.Category(c))
		}
	}
	for _, t := range types {
		if t == "" {
			return Usagef("--type must not be empty")
		}
	}
	return nil
}

// streamAll prints the global log after `after`, up to limit events, page
// by page as it reads them (pages of at most 1,000 events and the store's
// byte budget), so memory stays bounded whatever the limit.
func streamAll(ctx context.Context, w io.Writer, st *store.Store, after store.Checkpoint, limit int, o store.ReadAllOptions, asJSON bool) error {
	for done := 0; done < limit; {
		o.Limit = min(limit-done, readAllPage)
		page, err := st.ReadAll(ctx, after, o)
		if err != nil {
			return err
		}
		switch {
		case done == 0 || asJSON:
			if err := printEvents(w, page.Events, asJSON, true); err != nil {
				return err
			}
		case len(page.Events) > 0:
			// Later pages of the table: the same rows, without the header
			// again (each page aligns its own columns).
			var b bytes.Buffer
			if err := printEvents(&b, page.Events, false, true); err != nil {
				return err
			}
			_, rows, _ := bytes.Cut(b.Bytes(), []byte("\n"))
			if _, err := w.Write(rows); err != nil {
				return err
			}
		}
		done += len(page.Events)
		after = page.Next
		if !page.More {
			return nil
		}
	}
	return nil
}
