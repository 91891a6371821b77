package engine

import "testing"

// A body under a stream window goes out in one write; with -T 4096 the socket takes only
// part of it, and gnet must send the rest, in order, before anything that follows (the
// next envelope, with PIPELINING): every body arrives whole.
func TestPartialWrites(t *testing.T) {
	const length = 200 << 10 // under a window, well over what a 4096-byte send buffer takes at once
	for _, tc := range []bodyRun{
		{"-d", true, false, 4096, 3},
		{"-d --pipelining", true, true, 4096, 3},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.arrivesWhole(t, length, 12) })
	}
}
