package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/cluster"
	"github.com/go-smtp-source/go-smtp-source/engine"
)

// shardOptions are the brokerless cluster options: this process is shard i of n of one
// plan, started at a shared time.
type shardOptions struct {
	id          *cluster.ShardID // --shard; nil: the whole run
	startAt     time.Time        // --start-at; zero: now
	maxLate     time.Duration    // --max-start-late
	fingerprint string           // the plan's fingerprint (every shard computes the same)
	worker      string           // a NATS worker's name, for the report
}

// perProcessFlags do not change what a run sends, so shards of one plan may differ in
// them: they are left out of the plan's fingerprint.
var perProcessFlags = map[string]bool{
	"shard": true, "json": true, "hdr-log": true, "log-messages": true, "progress": true,
	"quiet": true, "count": true, "verbose": true, "help": true, "source-addr": true,
	"event-loops": true, "max-start-late": true,
}

func addShardFlags(fs *pflag.FlagSet) {
	fs.String("shard", "", "brokerless cluster: run shard `i/n` (from 0; or i/n:w0,w1,… with weights) of the plan: its share of the sessions and the messages it owns (global numbers kept); merge the --json reports with `merge`")
	fs.String("start-at", "", "start at this RFC 3339 `time` (the shared t0 of a --shard run); a process that would start later than --max-start-late refuses")
	fs.String("max-start-late", "100ms", "with --start-at: how late a start may be before the run refuses")
}

// parseShardOptions reads --shard and --start-at and computes the plan's fingerprint
// from every option that shapes the run (and the target).
func parseShardOptions(fs *pflag.FlagSet, target string) (shardOptions, error) {
	var so shardOptions
	str := func(name string) string { v, _ := fs.GetString(name); return v }
	if v := str("shard"); v != "" {
		id, err := cluster.ParseShardID(v)
		if err != nil {
			return so, usagef("--shard: %v", err)
		}
		so.id = &id
	}
	if v := str("start-at"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return so, usagef("--start-at: want an RFC 3339 time (2026-12-01T10:00:00Z): %q", v)
		}
		so.startAt = t
	}
	var err error
	if so.maxLate, err = parseDuration("--max-start-late", str("max-start-late")); err != nil {
		return so, err
	}
	fields := []string{"target=" + target}
	fs.Visit(func(f *pflag.Flag) {
		if !perProcessFlags[f.Name] && !strings.HasPrefix(f.Name, "cluster-") {
			fields = append(fields, f.Name+"="+f.Value.String())
		}
	})
	if so.id != nil {
		fields = append(fields, "shards="+shardCountString(so.id.Weights))
	}
	so.fingerprint = cluster.Fingerprint(fields)
	return so, nil
}

func shardCountString(weights []int64) string {
	return fmt.Sprint(weights)
}

// applyShard makes cfg this shard's part of the run: its share of the sessions (of the
// open model's session cap), the messages it owns, the shared start.
func applyShard(so shardOptions, cfg *engine.Config) error {
	if !so.startAt.IsZero() {
		cfg.StartAt, cfg.MaxStartLate = so.startAt, so.maxLate
	}
	if so.id == nil {
		return nil
	}
	split, err := cluster.NewSplit(so.id.Weights)
	if err != nil {
		return usagef("--shard: %v", err)
	}
	if len(cfg.SessionStages) > 0 {
		return usagef("--shard: --stages-of sessions cannot be split yet")
	}
	open := cfg.Rate > 0 || len(cfg.Stages) > 0
	sessions := int64(cfg.Sessions)
	if open {
		sessions = int64(cfg.MaxSessions)
		if sessions <= 0 {
			sessions = 1000 // the engine's default
		}
	}
	cfg.Messages = runMessages(*cfg)
	if err := split.Validate(cfg.Messages, sessions); err != nil {
		return usagef("--shard: %v", err)
	}
	for k := 0; k < split.N(); k++ {
		if split.Shard(k).Count(cfg.Messages) == 0 {
			return usagef("--shard: shard %d of %d would own none of the %d messages: use fewer shards", k, split.N(), cfg.Messages)
		}
	}
	cfg.Shard = split.Shard(so.id.Index)
	share := int(split.Share(so.id.Index, sessions))
	if open {
		cfg.MaxSessions = share
	} else {
		cfg.Sessions = share
	}
	return nil
}

// runMessages is the whole run's message count: -m, or in the open model with stages and
// no -m, what the schedule produces (as the engine computes it).
func runMessages(cfg engine.Config) int64 {
	switch {
	case cfg.Messages > 0 || len(cfg.Stages) == 0:
		return cfg.Messages
	case cfg.Rate > 0:
		return engine.RampingRate(cfg.Rate, cfg.Stages, 0).Total()
	default:
		return engine.RampingRate(0, cfg.Stages, 0).Total()
	}
}

// shardPlan is the "shard" object of the result document's plan (nil for a whole run).
func shardPlan(so shardOptions) *planShard {
	if so.id == nil {
		return nil
	}
	sp := &cluster.ShardPlan{Index: so.id.Index, Count: len(so.id.Weights), StartAt: so.startAt.UTC(), Fingerprint: so.fingerprint, Worker: so.worker}
	for _, w := range so.id.Weights {
		if w != 1 {
			sp.Weights = so.id.Weights
			break
		}
	}
	return sp
}

// planShard is the plan's "shard" object in the result document.
type planShard = cluster.ShardPlan
