package cluster

import (
	"encoding/json"
	"fmt"
	"time"
)

// ProtocolVersion is the version of the coordinator–worker protocol; it is also in every
// subject (gss.v1.…), so processes of another protocol never hear each other.
const ProtocolVersion = 1

// Subjects. <run> is the coordinator's random run ID.
const (
	SubjectAnnounce = "gss.v1.announce" // coordinator → all, every second until the roster is full
)

func subject(run, name string) string { return "gss.v1." + run + "." + name }

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

// Plan is what every worker runs, identical for all (its shard aside): the
// command-line arguments of the run (without cluster or output options) and the split.
type Plan struct {
	Run            string        `json:"run"`
	Args           []string      `json:"args"`
	Weights        []int64       `json:"weights"`
	Workers        []string      `json:"workers"` // by shard
	ReportInterval time.Duration `json:"report_interval"`
	CoordGrace     time.Duration `json:"coordinator_grace"` // a worker that hears no coordinator this long stops
	Fingerprint    string        `json:"plan_fingerprint"`
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

// Report is a worker's cumulative progress, sent every ReportInterval: it doubles as the
// heartbeat, and since it is cumulative a lost or repeated report is harmless.
type Report struct {
	Shard    int    `json:"shard"`
	Seq      int64  `json:"seq"`
	State    string `json:"state"` // "waiting", "running", "done"
	Accepted int64  `json:"accepted"`
	Rejected int64  `json:"rejected"`
	Failed   int64  `json:"failed"`
	InFlight int64  `json:"in_flight"`
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
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("cluster: encoding %T: %v", v, err)) // our own types always encode
	}
	return b
}
