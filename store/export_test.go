package store

// FilteredSQL exposes the filtered read's statement to the plan test.
var FilteredSQL = filteredSQL

// GroupCommits reports the group commits sent and the Append calls they carried.
func (s *Store) GroupCommits() (batches, calls int64) {
	if s.gc == nil {
		return 0, 0
	}
	return s.gc.batches.Load(), s.gc.grouped.Load()
}
