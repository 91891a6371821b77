package testpeer

import (
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// ListenBacklogs runs ss (iproute2) with args, e.g. "-ltnH", "sport = :PORT" or "-lxH",
// "src PATH", and returns the Send-Q column of every LISTEN line — for a listening socket
// ss reports its backlog there — and ss's output. Without ss the test is skipped (failed
// in CI, see Require).
func ListenBacklogs(t testing.TB, args ...string) ([]int, string) {
	t.Helper()
	ss := Require(t, "ss")
	out, err := exec.Command(ss, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ss %q: %v: %s", args, err, out)
	}
	var backlogs []int
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		// TCP lines (ss -t) start with the state, unix ones (ss -x) with the type, u_str.
		i := slices.Index(f, "LISTEN")
		if i < 0 || i+2 >= len(f) {
			continue
		}
		n, err := strconv.Atoi(f[i+2])
		if err != nil {
			t.Fatalf("ss %q: Send-Q %q in %q", args, f[i+2], line)
		}
		backlogs = append(backlogs, n)
	}
	return backlogs, string(out)
}
