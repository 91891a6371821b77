package tlsconn

import (
	"crypto/tls"
	"runtime"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// BenchmarkParkedSession: the live heap an established TLS 1.3 session holds while it is
// parked, client and server side together (both tlsconn, in this process), above the same
// connection without TLS. b.N sessions greet (and in TLS do STARTTLS, the handshake and
// one echoed line), then stay open while the heap is measured after a collection.
//
//	go test -run '^$' -bench ParkedSession -benchtime 2000x ./tlsconn
func BenchmarkParkedSession(b *testing.B) {
	ca := testpeer.NewCA(b, "parked CA")
	addr := startLineServer(b, serverConfig(b, ca), false)
	ccfg := &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"}
	plain := parkedHeap(b, addr, func() *clientSession { return &clientSession{plaintext: true, park: true} })
	withTLS := parkedHeap(b, addr, func() *clientSession { return &clientSession{cfg: ccfg, lines: 1, park: true} })
	b.ReportMetric(plain, "plain-B/session")
	b.ReportMetric(withTLS, "tls-B/session")
	b.ReportMetric(withTLS-plain, "tls-extra-B/session")
}

// parkedHeap opens b.N sessions made by mk on a client of their own, and returns the live
// heap per session while they are all parked (they stay so until the benchmark ends).
func parkedHeap(b *testing.B, addr string, mk func() *clientSession) float64 {
	b.Helper()
	before := liveHeap()
	cli := newGnetClient(b)
	for i, cs := range runSessions(b, cli, addr, b.N, mk) {
		if err := resultOf(cs); err != nil {
			b.Fatalf("session %d: %v", i, err)
		}
	}
	return float64(liveHeap()-before) / float64(b.N)
}

// liveHeap is the heap in use after collections that also empty sync.Pools.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
