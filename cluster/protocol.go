// Package cluster spreads one load test over several processes: the NATS protocol of a
// coordinator and its workers (a start barrier, cumulative reports as heartbeats, final
// results in acknowledged parts), the engine runner a worker runs its shard with, and
// the exact merge of the shards' result documents. The split itself is the plan's
// (plan.Split). It never prints, exits or reads flags.
package cluster

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// ProtocolVersion is the version of the coordinator–worker protocol; it is also in every
// subject (gss.v3.…), so processes of another protocol never hear each other. Version 2
// ships the plan as its JSON form (version 1 shipped command-line arguments); version 3
// fences lost workers (heartbeats that name them, a worker that stops starting messages
// when its heartbeats are stale) and times reports on the shared timeline; version 4's
// reports carry the live view's mergeable part (metrics.LiveSample: the last second's
// histograms, late, dropped, the target rate), so that the coordinator's line is a
// single run's.
const ProtocolVersion = 4

// subjectPrefix starts every subject; it names ProtocolVersion.
const subjectPrefix = "gss.v4."

// Subjects. <run> is the coordinator's random run ID.
const (
	SubjectAnnounce = subjectPrefix + "announce" // coordinator → all, every second until the roster is full
)

func subject(run, name string) string { return subjectPrefix + run + "." + name }

// Announce invites idle workers to join a run.
type Announce struct {
	Run         string `json:"run"`
	WantWorkers int    `json:"want_workers"`
	Version     string `json:"version"`
	Proto       int    `json:"proto"`
}

// JoinRequest is a worker asking for a place in the run.
type JoinRequest struct {
	Worker  string `json:"worker"` // unique name (host-pid unless given)
	Host    string `json:"host"`
	Version string `json:"version"`
	Weight  int64  `json:"weight"`
}

// JoinReply gives the worker its shard, or says why not: "started" (the roster is
// frozen: late joiners are refused, never rebalanced in), "version", "duplicate".
type JoinReply struct {
	Shard  int    `json:"shard"`
	Reject string `json:"reject,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Assignment is what every worker receives once the roster is full, the same for all:
// the run's plan (plan.Plan's JSON form, the whole run's; worker k runs its shard k of
// the split by Weights) and the run's timing. Each worker runs the plan as it is, with
// only what belongs to its machine added (plan.Local, its secrets).
type Assignment struct {
	Run            string          `json:"run"`
	Plan           json.RawMessage `json:"plan"`
	Weights        []int64         `json:"weights"`
	Workers        []string        `json:"workers"` // by shard
	ReportInterval time.Duration   `json:"report_interval"`
	CoordGrace     time.Duration   `json:"coordinator_grace"` // before the start and after the run, a worker that hears no coordinator this long gives up
	Fingerprint    string          `json:"plan_fingerprint"`  // of every shard's plan (plan.Plan.Fingerprint)
	// StopAfter: a running worker whose last fresh heartbeat (by the time the coordinator
	// sent it) is older than this starts no more messages and stops: the coordinator may
	// have declared it lost. It is shorter than the coordinator's loss window by the time
	// a report takes to arrive, so that a worker the coordinator declares lost never
	// starts a message after it comes back (a paused process, a cut link).
	StopAfter time.Duration `json:"stop_after"`
}

// Heartbeat is the coordinator's, several times a report interval: when it was sent (on
// the coordinator's clock, which workers convert with their measured offset), and the
// shards declared lost, which must stop at once (fencing).
type Heartbeat struct {
	SentUnixNs int64 `json:"sent_unix_ns"`
	Lost       []int `json:"lost,omitempty"`
}

// Ready is a worker's barrier input: prepared (or why not), and its clock offset.
type Ready struct {
	Shard    int           `json:"shard"`
	Error    string        `json:"error,omitempty"`
	OffsetNs int64         `json:"offset_ns"` // coordinator clock − worker clock
	RTT      time.Duration `json:"rtt_ns"`
}

// Go is the start: every worker starts at StartAt on the coordinator's clock.
type Go struct {
	StartAtUnixNs int64 `json:"start_at_unix_ns"`
}

// Control stops a run: abort (lost worker, failed start, interrupted coordinator).
type Control struct {
	Abort  bool   `json:"abort"`
	Reason string `json:"reason"`
}

// TimeProbe is a clock probe's request and reply.
type TimeProbe struct {
	CoordUnixNs int64 `json:"coord_unix_ns"`
}

// Report is a worker's cumulative progress, sent at each of the engine's samples and
// four times a ReportInterval between them: it doubles as the heartbeat, and since it is
// cumulative a lost or repeated report is harmless.
type Report struct {
	Shard    int    `json:"shard"`
	Seq      int64  `json:"seq"`
	State    string `json:"state"` // "waiting", "running", "done"
	Accepted int64  `json:"accepted"`
	Rejected int64  `json:"rejected"`
	Failed   int64  `json:"failed"`
	InFlight int64  `json:"in_flight"`
	// AtUnixNs is when the counts were taken, on the worker's clock (0: none yet). The
	// engine samples at whole wall-clock seconds, so the coordinator lines the workers'
	// samples up on the shared timeline.
	AtUnixNs int64 `json:"at_unix_ns,omitempty"`
	// Ended: the counts are the run's final ones, taken when it ended (after its last
	// sample): they are at the next whole second.
	Ended bool `json:"ended,omitempty"`
	// Live is the rest of the live view at that sample, in mergeable form; nil before
	// the first sample.
	Live *metrics.LiveSample `json:"live,omitempty"`
}

// Final is one part of a worker's final result: the result document (metrics.Report
// JSON), cut into parts that fit the NATS payload limit, each acknowledged.
type Final struct {
	Shard   int       `json:"shard"`
	Part    int       `json:"part"`
	Parts   int       `json:"parts"`
	Data    []byte    `json:"data"`
	Error   string    `json:"error,omitempty"` // the run failed: why (Data may still hold a report)
	StartAt time.Time `json:"start,omitzero"`  // when the worker really started (its clock)
	Stopped Stop      `json:"stopped,omitempty"`
}

// Stop is why a worker stopped its shard before the end.
type Stop string

const (
	StopNone    Stop = ""        // it ran to its end (or failed by itself)
	StopAborted Stop = "aborted" // the coordinator aborted the run
	StopFenced  Stop = "fenced"  // the coordinator declared it lost
	StopSilent  Stop = "silent"  // it heard no fresh heartbeat for StopAfter: it may be lost
)

// selfLost reports whether a worker that stopped so must count as lost: it was told so,
// or it stopped because it could not know.
func (s Stop) selfLost() bool { return s == StopFenced || s == StopSilent }

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("cluster: encoding %T: %v", v, err)) // our own types always encode
	}
	return b
}
