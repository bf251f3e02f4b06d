package store

// GroupCommits reports the group commits sent and the Append calls they carried.
func (s *Store) GroupCommits() (batches, calls int64) {
	if s.gc == nil {
		return 0, 0
	}
	return s.gc.batches.Load(), s.gc.grouped.Load()
}
