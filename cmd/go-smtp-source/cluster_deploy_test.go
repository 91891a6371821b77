package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// manifest is one deploy/k8s file: its text and its go-smtp-source command lines.
type manifest struct {
	name string
	text string
	args [][]string
}

func readManifests(t *testing.T) map[string]manifest {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testpeer.ModuleRoot(t), "deploy", "k8s", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	argsLine := regexp.MustCompile(`(?m)^\s*args: (\[.*\])\s*$`)
	out := map[string]manifest{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := manifest{name: filepath.Base(f), text: string(b)}
		if strings.Contains(m.text, "\t") {
			t.Errorf("%s: tab in YAML", m.name)
		}
		if strings.Contains(m.text, "image: go-smtp-source") {
			for _, sub := range argsLine.FindAllStringSubmatch(m.text, -1) {
				var args []string
				if err := json.Unmarshal([]byte(sub[1]), &args); err != nil {
					t.Fatalf("%s: args %s: %v", m.name, sub[1], err)
				}
				m.args = append(m.args, args)
			}
			if len(m.args) == 0 {
				t.Errorf("%s: no args", m.name)
			}
		}
		out[m.name] = m
	}
	return out
}

// field is the integer value of a "key: N" line (-1 when absent).
func field(text, key string) int {
	m := regexp.MustCompile(`(?m)^\s*` + key + `: (\d+)\s*$`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	n := 0
	for _, c := range m[1] {
		n = n*10 + int(c-'0')
	}
	return n
}

// The Kubernetes manifests' command lines parse, and the Jobs keep their invariants.
func TestManifests(t *testing.T) {
	ms := readManifests(t)
	expand := strings.NewReplacer("$(JOB_COMPLETION_INDEX)", "0", "$(POD_NAME)", "pod-0")
	workers := -1
	for _, m := range ms {
		for _, args := range m.args {
			for i := range args {
				args[i] = expand.Replace(args[i])
			}
			if args[0] == "worker" {
				if code := runWorker("go-smtp-source", append(args[1:], "--help"), io.Discard, io.Discard); code != 0 {
					t.Errorf("%s: worker %q: exit %d", m.name, args[1:], code)
				}
				continue
			}
			inv, _, err := parseOptions(args)
			if err != nil {
				t.Errorf("%s: %q: %v", m.name, args, err)
				continue
			}
			if inv.cluster.workers > 0 {
				workers = inv.cluster.workers
			}
			if inv.plan.Shard != nil && inv.plan.Shard.Count() != field(m.text, "completions") {
				t.Errorf("%s: --shard of %d, completions %d", m.name, inv.plan.Shard.Count(), field(m.text, "completions"))
			}
		}
		if strings.Contains(m.text, "kind: Job") {
			if p, c := field(m.text, "parallelism"), field(m.text, "completions"); p != c || p < 1 {
				t.Errorf("%s: parallelism %d, completions %d", m.name, p, c)
			}
			if !strings.Contains(m.text, "restartPolicy: Never") {
				t.Errorf("%s: restarts (a restarted shard or worker would send its messages twice)", m.name)
			}
			if field(m.text, "backoffLimit") != 0 && field(m.text, "backoffLimitPerIndex") != 0 {
				t.Errorf("%s: retries", m.name)
			}
		}
	}
	if workers < 1 {
		t.Fatal("no coordinator")
	}
	if n := field(ms["workers-job.yaml"].text, "completions"); n != workers {
		t.Errorf("workers-job.yaml: %d workers, the coordinator wants %d", n, workers)
	}
	if n := field(ms["workers-deployment.yaml"].text, "replicas"); n < workers {
		t.Errorf("workers-deployment.yaml: %d replicas, the coordinator wants %d", n, workers)
	}
	if !strings.Contains(ms["brokerless-indexed-job.yaml"].text, "completionMode: Indexed") {
		t.Error("the brokerless Job is not Indexed")
	}
}

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
