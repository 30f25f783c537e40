package redisadapter

// recentIDsSize is how many broadcast ids a node remembers: a duplicate
// entry further back than that is delivered again.
const recentIDsSize = 1024

// recentIDs remembers the last recentIDsSize ids added. Its zero value is
// empty; it is not safe for concurrent use.
type recentIDs struct {
	set  map[string]struct{}
	ring []string
	next int
}

// add adds id and reports whether it was new.
func (r *recentIDs) add(id string) bool {
	if _, ok := r.set[id]; ok {
		return false
	}
	if r.set == nil {
		r.set = make(map[string]struct{}, recentIDsSize)
		r.ring = make([]string, recentIDsSize)
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = id
	r.next = (r.next + 1) % recentIDsSize
	r.set[id] = struct{}{}
	return true
}

// has reports whether id is remembered.
func (r *recentIDs) has(id string) bool {
	_, ok := r.set[id]
	return ok
}
