package engine

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/plan"
)

// Hooks.Admit stops a run from starting messages the moment it answers false (a cluster
// worker that may have been declared lost): in the closed and the open model nothing
// starts after the refusal, and every message is accounted for.
func TestAdmitStopsNewMessages(t *testing.T) {
	for _, model := range []plan.Model{plan.ModelClosed, plan.ModelOpen} {
		t.Run(string(model), func(t *testing.T) {
			srv := newStallServer(t)
			const total, allowed = 2000, 40
			cfg := config(t, srv.ln.Addr().String(), 4, total)
			if model == plan.ModelOpen {
				cfg.Load.Model, cfg.Load.Rate, cfg.Load.MaxSessions = plan.ModelOpen, 4000, 4
			}
			var asked, refusedAt atomic.Int64
			cfg.Admit = func() bool {
				if asked.Add(1) <= allowed {
					return true
				}
				refusedAt.CompareAndSwap(0, srv.accepted.Load()+1)
				return false
			}
			res, err := runTest(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkAccounting(t, res)
			if res.Accepted > allowed || res.NotStarted < total-allowed || res.Accepted != srv.accepted.Load() {
				t.Fatalf("%+v (server %d): more than the %d admitted messages", res, srv.accepted.Load(), allowed)
			}
		})
	}
}

// A shard's Message-Ids carry its run's start after the PID, so that two runs of the same
// shard (a standing cluster worker) never repeat one; the global number stays the third
// field.
func TestShardMessageIDsNameTheRun(t *testing.T) {
	srv := newStallServer(t)
	for run := 0; run < 2; run++ {
		cfg := config(t, srv.ln.Addr().String(), 2, 6)
		cfg.Shard = &plan.Shard{Index: 0, Weights: []int64{1, 1}}
		cfg.StartAt = time.Now().Add(50 * time.Millisecond)
		if _, err := runTest(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
	}
	srv.idMu.Lock()
	defer srv.idMu.Unlock()
	seen := map[string]bool{}
	for _, id := range srv.ids {
		parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(id, "<"), "@vm>"), ".")
		if len(parts) != 3 || !strings.Contains(parts[0], "-") || seen[id] {
			t.Fatalf("Message-Id %s (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
	if len(seen) != 6 {
		t.Fatalf("%d distinct Message-Ids over two runs of 3 messages: %v", len(seen), srv.ids)
	}
}
