package cluster

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// v1Shard is a version-1 document of shard i of n, as go-smtp-source wrote them before
// plans were values.
func v1Shard(name string, i, n int, fp string, messages int) *metrics.Report {
	r := metrics.NewReport(json.RawMessage(fmt.Sprintf(`{"tool":"go-smtp-source","messages":%d,"sessions":2,"shard":{"index":%d,"count":%d,"plan_fingerprint":%q}}`,
		messages, i, n, fp)), time.Unix(1e9, 0), time.Second, metrics.Totals{Planned: int64(messages), Accepted: int64(messages)}, nil, nil)
	r.SchemaVersion, r.Origin = 1, name
	return r
}

// v2Shard is a document of shard i of p split by weights, started at start.
func v2Shard(name string, p plan.Plan, i int, weights []int64, start time.Time) *metrics.Report {
	p.Shard = &plan.Shard{Index: i, Weights: weights}
	r := metrics.ResultReport(p.ForReport(), &metrics.RunInfo{Tool: Tool, PlanFingerprint: p.Fingerprint()},
		metrics.RunResult{Start: start, Elapsed: time.Second, Totals: metrics.Totals{Planned: 1, Accepted: 1}})
	r.Origin = name
	return r
}

func TestCheckShards(t *testing.T) {
	v1 := []*metrics.Report{v1Shard("a", 2, 3, "f", 3), v1Shard("b", 0, 3, "f", 4), v1Shard("c", 1, 3, "f", 3)}
	p := testPlan(10)
	w := []int64{1, 1, 1}
	t0 := time.Unix(1e9, 0)
	v2 := []*metrics.Report{v2Shard("a", p, 2, w, t0), v2Shard("b", p, 0, w, t0), v2Shard("c", p, 1, w, t0)}
	for _, set := range [][]*metrics.Report{v1, v2} {
		if ok, err := CheckShards(set); !ok || err != nil {
			t.Fatalf("complete set: %v %v", ok, err)
		}
	}
	plain := metrics.NewReport(json.RawMessage(`{"tool":"x"}`), t0, time.Second, metrics.Totals{}, nil, nil)
	plain.Origin = "c"
	if ok, err := CheckShards([]*metrics.Report{plain, metrics.NewReport(nil, t0, 0, metrics.Totals{}, nil, nil)}); ok || err != nil {
		t.Fatalf("no shards: %v %v", ok, err)
	}
	other := testPlan(11)
	for _, c := range []struct {
		set  []*metrics.Report
		want string
	}{
		{v1[:2], "shard(s) 1 of 3 missing"},
		{[]*metrics.Report{v1[0], v1[1], v1Shard("c", 0, 3, "f", 3)}, "shard 0/3 is present twice: b and c"},
		{[]*metrics.Report{v1[0], v1[1], v1Shard("c", 1, 3, "g", 3)}, "c is shard 1/3 of another plan"},
		{[]*metrics.Report{v1[0], v1[1], v1Shard("c", 1, 4, "f", 3)}, "of another plan"},
		{[]*metrics.Report{v1[0], v1[1], plain}, "c is not a shard"},
		{[]*metrics.Report{v1[0], v1[1], v1Shard("c", 5, 3, "f", 3)}, "bad shard 5/3"},
		{v2[1:], "shard(s) 2 of 3 missing"},
		{[]*metrics.Report{v2[0], v2[1], v2Shard("c", other, 1, w, t0)}, "c is shard 1/3 of another plan"},
		{[]*metrics.Report{v2[0], v2[1], v2Shard("c", p, 1, []int64{1, 2, 1}, t0)}, "of another plan"},
		{[]*metrics.Report{v2[0], v1[1], v1[2]}, "of another plan"},
	} {
		_, err := CheckShards(c.set)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

// The merge of a complete set of shards is the whole run's document: its plan (without
// a shard), the fingerprint, and the spread of the starts.
func TestMergeReportsOfShards(t *testing.T) {
	p := testPlan(10)
	w := []int64{2, 1}
	t0 := time.Unix(1e9, 0)
	merged, _, err := MergeReports([]*metrics.Report{v2Shard("a", p, 1, w, t0), v2Shard("b", p, 0, w, t0.Add(3*time.Millisecond))}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := plan.Decode(merged.Plan)
	if err != nil || whole.Shard != nil || whole.Fingerprint() != p.Fingerprint() {
		t.Fatalf("merged plan %s: %v", merged.Plan, err)
	}
	shard := p
	shard.Shard = &plan.Shard{Weights: w}
	if merged.Run == nil || merged.Run.StartSkewNs != int64(3*time.Millisecond) || merged.Run.PlanFingerprint != shard.Fingerprint() {
		t.Fatalf("run %+v", merged.Run)
	}
	if merged.Totals.Accepted != 2 || len(merged.Sources) != 2 {
		t.Fatalf("totals %+v, %d sources", merged.Totals, len(merged.Sources))
	}
}

// The subjects name the protocol version, so that processes of another version never
// hear each other.
func TestSubjectsNameTheProtocol(t *testing.T) {
	if want := fmt.Sprintf("gss.v%d.", ProtocolVersion); subjectPrefix != want || !strings.HasPrefix(SubjectAnnounce, want) {
		t.Errorf("subjects %q, %q; want the prefix %q", subjectPrefix, SubjectAnnounce, want)
	}
}
