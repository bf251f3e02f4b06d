package store

// FilteredSQL exposes the filtered read's statement to the plan test.
var FilteredSQL = filteredSQL
