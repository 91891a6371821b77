package main

import (
	"io"
	"strings"
	"testing"
)

func TestClusterOptionErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--cluster-workers", "2", "127.0.0.1"}, "needs one of --cluster-listen and --cluster-nats"},
		{[]string{"--cluster-listen", ":4222", "127.0.0.1"}, "need --cluster-workers"},
		{[]string{"--cluster-workers", "2", "--cluster-listen", ":0", "--shard", "0/2", "127.0.0.1"}, "--shard and --start-at are for runs without it"},
		{[]string{"--cluster-workers", "2", "--cluster-listen", ":0", "-c", "127.0.0.1"}, "--count belongs to the process that sends"},
		{[]string{"--cluster-workers", "2", "--cluster-nats", "nats://x", "--on-worker-loss", "retry", "127.0.0.1"}, "--on-worker-loss: want abort or continue"},
	} {
		var stdout, stderr strings.Builder
		if code := run("go-smtp-source", c.args, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr.String(), c.want)
		}
	}
	for _, c := range [][]string{{}, {"--nats", "nats://x", "extra"}, {"--nats", "nats://x", "--weight", "0"}, {"--nats", "nats://x", "--source-addr", "nope"}} {
		if code := runWorker("go-smtp-source", c, io.Discard, io.Discard); code != exitUsage {
			t.Errorf("worker %q: exit %d, want 2", c, code)
		}
	}
}
