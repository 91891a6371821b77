package sink

import "sync"

// uniqueCounter counts the distinct values of one header across all messages.
type uniqueCounter struct {
	header     string
	lower      string // header in lower case, for matching
	mu         sync.Mutex
	seen       map[string]struct{}
	duplicates int64
	missing    int64
}

// add records one accepted message's value; found is false when it had no such header.
func (u *uniqueCounter) add(value []byte, found bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !found {
		u.missing++
		return
	}
	if _, dup := u.seen[string(value)]; dup {
		u.duplicates++
		return
	}
	u.seen[string(value)] = struct{}{}
}

func (u *uniqueCounter) counts() UniqueCounts {
	u.mu.Lock()
	defer u.mu.Unlock()
	return UniqueCounts{Header: u.header, Distinct: int64(len(u.seen)), Duplicates: u.duplicates, Missing: u.missing}
}
