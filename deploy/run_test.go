package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// messages replaces the manifests' -m 1000000: the test runs the real command lines with a
// load this machine sends in a second.
const messages = 400

// report is what the tests read of a result document (metrics/SCHEMA.md).
type report struct {
	Totals struct {
		Planned  int64 `json:"planned"`
		Accepted int64 `json:"accepted"`
	} `json:"totals"`
	Run struct {
		Cluster *struct {
			Workers []struct {
				Name string `json:"name"`
			} `json:"workers"`
		} `json:"cluster"`
	} `json:"run"`
}

func readReport(t *testing.T, file string) ([]byte, report) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if r.Totals.Planned != messages || r.Totals.Accepted != messages {
		t.Errorf("%s: totals %+v, want %d planned and accepted", file, r.Totals, messages)
	}
	return b, r
}

// sinkStats is what the tests read of go-smtp-sink's --stats.
type sinkStats struct {
	MessagesAccepted int64 `json:"messages_accepted"`
	SessionsPeak     int64 `json:"sessions_peak"`
	Unique           struct {
		Distinct   int64 `json:"distinct"`
		Duplicates int64 `json:"duplicates"`
	} `json:"unique_header"`
}

// startSink runs sink.yaml's go-smtp-sink, watched: its counters go to a file at exit.
func (lc *localCluster) startSink() (*proc, string) {
	lc.t.Helper()
	stats := filepath.Join(lc.t.TempDir(), "sink-stats.json")
	p := lc.startPod("gss-sink", 0, withWatch("--stats", stats, "--unique-header", "Message-Id"))
	lc.waitReady("gss-sink", p, 10*time.Second)
	return p, stats
}

func stopSink(t *testing.T, p *proc, file string) sinkStats {
	t.Helper()
	if code := p.stop(t); code != 0 {
		t.Fatalf("sink: exit %d; %s", code, p.output())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var st sinkStats
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// startNATS runs nats.yaml's nats-server until its readiness probe passes.
func (lc *localCluster) startNATS() *proc {
	lc.t.Helper()
	p := lc.startPod("nats", 0)
	lc.waitReady("nats", p, 15*time.Second)
	return p
}

// natsURL is what a client of the Service nats dials, here.
func (lc *localCluster) natsURL() string {
	w := lc.m.workload(lc.t, "nats")
	port, _ := containerPort(w, lc.m.services["nats"].Spec.Ports[0].TargetPort)
	return fmt.Sprintf("nats://127.0.0.1:%d", lc.localPort(w, port))
}

// nats.yaml's nats-server starts from its command line and ConfigMap, passes its
// readiness probe, has the configured max_payload, and admits a client with the Secret's
// token and no other.
func TestNATSFromManifest(t *testing.T) {
	lc := newLocalCluster(t)
	p := lc.startNATS()
	token := lc.m.secrets["gss-nats"].StringData["token"]
	nc, err := nats.Connect(lc.natsURL(), nats.Token(token), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("a client with the Secret's token: %v; %s", err, p.output())
	}
	if nc.MaxPayload() != 8<<20 {
		t.Errorf("max payload %d, want 8MB", nc.MaxPayload())
	}
	if err := nc.Publish("gss.test", []byte("x")); err != nil || nc.Flush() != nil {
		t.Errorf("publish: %v", err)
	}
	nc.Close()
	if nc, err := nats.Connect(lc.natsURL(), nats.Token(token+"x"), nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Error("a client with another token was admitted")
	} else if !strings.Contains(err.Error(), "Authorization Violation") {
		t.Errorf("another token: %v, want an authorization violation", err)
	}
	if strings.Contains(strings.Join(p.cmd.Args, " "), token) {
		t.Errorf("the token is on nats-server's command line: %q", p.cmd.Args)
	}
	p.stop(t) // nats-server exits 1 on SIGTERM: Kubernetes does not mind
}

// The whole NATS set-up from the manifests' command lines: nats, the sink, the Job's
// workers (one run each, then exit 0) and the coordinator; then the Deployment's standing
// workers and the coordinator again. The result reaches the results volume; the sink
// received every message once.
func TestClusterFromManifests(t *testing.T) {
	lc := newLocalCluster(t)
	lc.startNATS()
	sink, stats := lc.startSink()
	reader := lc.startPod("gss-results", 0)

	jobWorkers := lc.startAll("gss-workers")
	runCoordinator(t, lc, jobWorkers)
	for _, w := range jobWorkers {
		if code := w.waitExit(t, 30*time.Second); code != 0 {
			t.Errorf("--once worker: exit %d; %s", code, w.output())
		}
	}

	pool := lc.startAll("gss-worker")
	result := runCoordinator(t, lc, pool)
	for _, w := range pool {
		if w.exited() {
			t.Errorf("a standing worker exited after a run; %s", w.output())
		}
		if code := w.stop(t); code != 0 {
			t.Errorf("worker: exit %d after SIGTERM; %s", code, w.output())
		}
	}

	st := stopSink(t, sink, stats)
	if st.MessagesAccepted != 2*messages || st.Unique.Distinct != 2*messages || st.Unique.Duplicates != 0 {
		t.Errorf("sink: %+v, want %d messages, each once", st, 2*messages)
	}
	if reader.exited() {
		t.Fatalf("the results reader stopped during the runs: %s", reader.output())
	}
	if got := lc.exec("gss-results", "cat", "/results/run.json"); !bytes.Equal(got, result) {
		t.Errorf("kubectl exec gss-results -- cat /results/run.json: %d bytes, the coordinator wrote %d", len(got), len(result))
	}
	reader.stop(t)
}

// runCoordinator runs coordinator-job.yaml's command line against workers, which must
// all have joined, checks its result document on the volume and returns it.
func runCoordinator(t *testing.T, lc *localCluster, workers []*proc) []byte {
	t.Helper()
	for _, w := range workers {
		w.waitStderr(t, "waiting for runs", 15*time.Second)
	}
	_, argv, _ := lc.podCommand("gss-coordinator", 0, withFlag("-m", fmt.Sprint(messages)))
	out := argv[indexOf(argv, "--json")+1]
	os.Remove(out)
	c := lc.startPod("gss-coordinator", 0, withFlag("-m", fmt.Sprint(messages)))
	if code := c.waitExit(t, 90*time.Second); code != 0 {
		t.Fatalf("coordinator: exit %d; %s", code, c.output())
	}
	doc, r := readReport(t, out)
	var names, want []string
	if r.Run.Cluster != nil {
		for _, w := range r.Run.Cluster.Workers {
			names = append(names, w.Name)
		}
	}
	for _, w := range workers {
		want = append(want, w.name)
	}
	sort.Strings(names)
	sort.Strings(want)
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("the run's workers %v, want the pods %v", names, want)
	}
	return doc
}

// The brokerless Indexed Job from its command line: as shipped (no start time set) every
// shard refuses at once; with GSS_START_AT set as the README says, the shards run together
// and the merge Job's command line merges their reports on the volume.
func TestBrokerlessFromManifests(t *testing.T) {
	lc := newLocalCluster(t)
	sink, stats := lc.startSink()
	small := withFlag("-m", fmt.Sprint(messages))

	unset := lc.startPod("gss-shards", 0, small)
	if code := unset.waitExit(t, 30*time.Second); code != 2 || !strings.Contains(unset.stderr.String(), "--start-at") {
		t.Errorf("a shard without GSS_START_AT: exit %d, want 2 and --start-at named; %s", code, unset.output())
	}

	start := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339)
	shards := lc.startAll("gss-shards", small, withEnv("GSS_START_AT", start))
	for _, s := range shards {
		if code := s.waitExit(t, 60*time.Second); code != 0 {
			t.Fatalf("shard: exit %d; %s", code, s.output())
		}
	}
	merge := lc.startPod("gss-merge", 0)
	if code := merge.waitExit(t, 30*time.Second); code != 0 {
		t.Fatalf("merge: exit %d; %s", code, merge.output())
	}
	_, argv, _ := lc.podCommand("gss-merge", 0)
	readReport(t, argv[indexOf(argv, "--json")+1])
	st := stopSink(t, sink, stats)
	if st.MessagesAccepted != messages || st.Unique.Distinct != messages || st.Unique.Duplicates != 0 {
		t.Errorf("sink: %+v, want %d messages, each once", st, messages)
	}
}

// Under the open-files limits a container gets from containerd 2.x (soft 1024; hard 524288
// on the node, here this machine's), go-smtp-source still holds more than 1024 sessions: Go
// raises its soft limit to the hard one at start, so the image needs no ulimit wrapper.
func TestOpenFilesSoftLimitRaised(t *testing.T) {
	const sessions = 1500
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Max < 2*sessions {
		t.Skipf("this machine's hard open-files limit (%d, %v) is below %d", lim.Max, err, 2*sessions)
	}
	img := builtImage(t)
	sinkBin, _ := img.lookup("go-smtp-sink")
	sourceBin, _ := img.lookup(img.entrypoint[0])
	addr := fmt.Sprintf("127.0.0.1:%d", loopbackPort(t))
	stats := filepath.Join(t.TempDir(), "stats.json")
	// Every session waits 2 s for the DATA reply, so all are open at once.
	sink := startProc(t, "go-smtp-sink", []string{sinkBin, "--stats", stats, "-w", "2", addr, "4096"}, nil)
	waitAccepting(t, addr, sink)
	src := startProc(t, "go-smtp-source", []string{"/bin/sh", "-c", `ulimit -S -n 1024 && exec "$0" "$@"`,
		sourceBin, "--ehlo", "-m", fmt.Sprint(sessions), "-s", fmt.Sprint(sessions), addr}, nil)
	if code := src.waitExit(t, 60*time.Second); code != 0 {
		t.Fatalf("exit %d; %s", code, src.output())
	}
	st := stopSink(t, sink, stats)
	if st.SessionsPeak <= 1024 || st.MessagesAccepted != sessions {
		t.Errorf("sink: %+v, want more than 1024 sessions at once and %d messages", st, sessions)
	}
}

// waitAccepting waits until addr accepts TCP connections.
func waitAccepting(t *testing.T, addr string, p *proc) {
	t.Helper()
	var err error
	if !poll(10*time.Second, 20*time.Millisecond, func() bool {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
		}
		return err == nil || p.exited()
	}) || err != nil {
		t.Fatalf("%s not accepting: %v; %s", addr, err, p.output())
	}
}
