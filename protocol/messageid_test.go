package protocol

import (
	"strings"
	"testing"
)

// A run spread over processes puts its start after the PID ("pid-run"): the ids of two
// runs of one process differ though their PID, slots and global numbers are the same;
// without it the id keeps smtp-source's three fields. Either way, writing one allocates
// nothing.
func TestMessageIDRun(t *testing.T) {
	spec := MessageSpec{Recipient: "b@y", Recipients: 1, Headers: true, Hostname: "vm", Date: "D", PID: 1, Content: DefaultContent()}
	id := func(run uint64) string {
		s := spec
		s.Run = run
		h := string(NewTemplate(s).AppendHeaders(nil, 0x2a, 3))
		_, v, _ := strings.Cut(h, "Message-Id: ")
		return strings.TrimSuffix(v, "\r\n")
	}
	if got, want := id(0), "<0001.0003.002a@vm>"; got != want {
		t.Errorf("without a run: %s, want %s", got, want)
	}
	first, second := id(0x18c3a5f2b4e1a3c0), id(0x18c3a5f2b4e1a3c1)
	if first != "<0001-18c3a5f2b4e1a3c0.0003.002a@vm>" || first == second {
		t.Errorf("runs: %s and %s", first, second)
	}
	tmpl := NewTemplate(MessageSpec{Recipient: "b@y", Recipients: 1, Headers: true, Hostname: "vm", Date: "D", PID: 1, Run: 7})
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = tmpl.AppendHeaders(buf[:0], 12345, 2) }); n != 0 {
		t.Errorf("%v allocations per Message-Id", n)
	}
}
