package cluster

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func shardPlanJSON(i, n int, fp string, messages int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"tool":"go-smtp-source","messages":%d,"sessions":2,"shard":{"index":%d,"count":%d,"plan_fingerprint":%q}}`, messages, i, n, fp))
}

func TestCheckShards(t *testing.T) {
	names := []string{"a", "b", "c"}
	ok3 := []json.RawMessage{shardPlanJSON(2, 3, "f", 3), shardPlanJSON(0, 3, "f", 4), shardPlanJSON(1, 3, "f", 3)}
	if _, ok, err := CheckShards(names, ok3); !ok || err != nil {
		t.Fatalf("complete set: %v %v", ok, err)
	}
	if _, ok, err := CheckShards(names[:2], []json.RawMessage{json.RawMessage(`{"tool":"x"}`), nil}); ok || err != nil {
		t.Fatalf("no shards: %v %v", ok, err)
	}
	for _, c := range []struct {
		plans []json.RawMessage
		want  string
	}{
		{ok3[:2], "shard(s) 1 of 3 missing"},
		{[]json.RawMessage{ok3[0], ok3[1], ok3[1]}, "shard 0/3 is present twice: b and c"},
		{[]json.RawMessage{ok3[0], ok3[1], shardPlanJSON(1, 3, "g", 3)}, "c is shard 1/3 of another plan"},
		{[]json.RawMessage{ok3[0], ok3[1], shardPlanJSON(1, 4, "f", 3)}, "of another plan"},
		{[]json.RawMessage{ok3[0], ok3[1], json.RawMessage(`{"tool":"x"}`)}, "c is not a shard"},
		{[]json.RawMessage{ok3[0], ok3[1], shardPlanJSON(5, 3, "f", 3)}, "bad shard 5/3"},
	} {
		_, _, err := CheckShards(names[:len(c.plans)], c.plans)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want %q", c.plans, err, c.want)
		}
	}
	merged, err := MergedPlan(ok3)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(merged, &m)
	if m["messages"] != 10.0 || m["sessions"] != 6.0 || m["shard"].(map[string]any)["index"] != nil {
		t.Errorf("merged plan %s", merged)
	}
}

func TestFingerprintOrderFree(t *testing.T) {
	if Fingerprint([]string{"a=1", "b=2"}) != Fingerprint([]string{"b=2", "a=1"}) {
		t.Error("order matters")
	}
	if Fingerprint([]string{"a=1", "b=2"}) == Fingerprint([]string{"a=1", "b=3"}) {
		t.Error("values do not")
	}
	if Fingerprint([]string{"ab", "c"}) == Fingerprint([]string{"a", "bc"}) {
		t.Error("field boundaries do not")
	}
}
