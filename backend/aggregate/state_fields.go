package aggregate

// rowFields is what the aggregates of one source have read of one row's
// fields, so that the others find it here instead of in the row's map: the
// engine folds each source event into every aggregate of its stream (ten
// of them, say), and they read the same few fields (their group_by, their
// field, a filter's). Reading a field is then a comparison of a few short
// names, not a hash and a probe of a map the previous aggregate's events
// pushed out of the cache. The zero value is empty; a nil *rowFields reads
// the map.
type rowFields struct {
	n     int
	names [rowFieldsKept]string
	vals  [rowFieldsKept]any
	oks   [rowFieldsKept]bool
}

// rowFieldsKept is how many fields a rowFields remembers; past them, a
// field is read from the map each time.
const rowFieldsKept = 4

// get is fields[name], read once.
func (rf *rowFields) get(fields map[string]any, name string) (any, bool) {
	if rf == nil {
		v, ok := fields[name]
		return v, ok
	}
	for i := range rf.n {
		if rf.names[i] == name {
			return rf.vals[i], rf.oks[i]
		}
	}
	v, ok := fields[name]
	if rf.n < rowFieldsKept {
		rf.names[rf.n], rf.vals[rf.n], rf.oks[rf.n] = name, v, ok
		rf.n++
	}
	return v, ok
}
