package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/plan"
)

func addShardFlags(fs *pflag.FlagSet, d plan.Plan) {
	fs.String("shard", "", "brokerless cluster: run shard `i/n` (from 0; or i/n:w0,w1,… with weights) of the plan: its share of the sessions and the messages it owns (global numbers kept); merge the --json reports with `merge`")
	fs.String("start-at", "", "start at this RFC 3339 `time` (the shared t0 of a --shard run); a process that would start later than --max-start-late refuses")
	fs.String("max-start-late", flagDuration(d.MaxStartLate), "with --start-at: how late a start may be before the run refuses")
}

// parseShard reads --shard and --start-at into the plan: this process runs its shard
// of the run, from the shared start.
func parseShard(f flags, inv *invocation) error {
	p := &inv.plan
	if v := f.str("shard"); v != "" {
		sh, err := plan.ParseShard(v)
		if err != nil {
			return usagef("--shard: %v", err)
		}
		p.Shard = &sh
	}
	if v := f.str("start-at"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return usagef("--start-at: want an RFC 3339 time (2026-12-01T10:00:00Z): %q", v)
		}
		p.StartAt = t
	}
	var err error
	p.MaxStartLate, err = parseDuration("--max-start-late", f.str("max-start-late"))
	return err
}
