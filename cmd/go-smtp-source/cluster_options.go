package main

import (
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/cluster"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// clusterOptions are the NATS coordinator's options (cluster.go); the brokerless
// --shard and --start-at are the plan's (shard.go).
type clusterOptions struct {
	workers      int              // --cluster-workers: 0 means a local run
	listen       string           // --cluster-listen: embedded NATS server address
	natsURL      string           // --cluster-nats: an existing NATS server
	auth         cluster.NATSAuth // --cluster-token, -user, -password, -creds, -nkey, -tls-*
	continueLoss bool             // --on-worker-loss=continue
	joinTimeout  time.Duration    // --cluster-join-timeout
	natsWait     time.Duration    // --cluster-nats-wait
}

func (c *clusterOptions) coordinating() bool { return c.workers > 0 }

// addNATSAuthFlags adds the authentication options under prefix ("cluster-" for the
// coordinator, "" for a worker).
func addNATSAuthFlags(fs *pflag.FlagSet, prefix string) {
	tag, tokenNote := "", ""
	if prefix != "" {
		tag, tokenNote = "cluster: ", "; with --cluster-listen and neither, a random one is generated and printed"
	}
	fs.String(prefix+"token", "", tag+"NATS token (default $GSS_NATS_TOKEN"+tokenNote+")")
	fs.String(prefix+"user", "", tag+"NATS user name (the password from $GSS_NATS_PASSWORD)")
	fs.String(prefix+"creds", "", tag+"NATS credentials `file` (JWT and NKey seed)")
	fs.String(prefix+"nkey", "", tag+"NATS NKey seed `file`")
	fs.String(prefix+"tls-ca", "", tag+"CA `file` to verify the NATS server's TLS certificate (enables TLS to NATS)")
	fs.String(prefix+"tls-cert", "", tag+"client certificate `file` for TLS to NATS")
	fs.String(prefix+"tls-key", "", tag+"client key `file` for TLS to NATS")
}

// parseNATSAuth reads the authentication options under prefix; the token and the
// password default to $GSS_NATS_TOKEN and $GSS_NATS_PASSWORD.
func parseNATSAuth(fs *pflag.FlagSet, prefix string) (cluster.NATSAuth, error) {
	str := func(name string) string { v, _ := fs.GetString(prefix + name); return v }
	a := cluster.NATSAuth{Token: str("token"), User: str("user"), Creds: str("creds"), NKey: str("nkey"),
		TLSCA: str("tls-ca"), TLSCert: str("tls-cert"), TLSKey: str("tls-key")}
	if a.Token == "" {
		a.Token = os.Getenv("GSS_NATS_TOKEN")
	}
	if a.User != "" {
		a.Password = os.Getenv("GSS_NATS_PASSWORD")
	}
	if (a.TLSCert == "") != (a.TLSKey == "") {
		return a, usagef("--%stls-cert and --%stls-key go together", prefix, prefix)
	}
	return a, nil
}

// addClusterFlags adds the cluster options to the extensions.
func addClusterFlags(fs *pflag.FlagSet) {
	addShardFlags(fs, plan.Defaults())
	fs.Int("cluster-workers", 0, "cluster: coordinate this many workers (go-smtp-source worker) over NATS, which run this command line together")
	fs.String("cluster-listen", "", "cluster: run an embedded NATS server on `host:port` for the workers (a token is required: generated and printed unless given)")
	fs.String("cluster-nats", "", "cluster: use the NATS server at `URL` instead")
	addNATSAuthFlags(fs, "cluster-")
	fs.String("on-worker-loss", "abort", "cluster: when a worker is lost, abort the run (abort) or let the others finish (continue); either way the result is INCOMPLETE, exit status 3")
	fs.String("cluster-join-timeout", flagDuration(cluster.DefaultJoinTimeout), "cluster: how long to wait for the workers to join")
	fs.String("cluster-nats-wait", flagDuration(cluster.DefaultNATSWait), "cluster: with --cluster-nats, how long to wait for a NATS server that is not up yet")
}

// parseClusterOptions reads the coordinator's options of a parsed command line.
func parseClusterOptions(f flags) (clusterOptions, error) {
	var co clusterOptions
	var err error
	co.workers, co.listen, co.natsURL = f.num("cluster-workers"), f.str("cluster-listen"), f.str("cluster-nats")
	if co.auth, err = parseNATSAuth(f.FlagSet, "cluster-"); err != nil {
		return co, err
	}
	switch f.str("on-worker-loss") {
	case "abort":
	case "continue":
		co.continueLoss = true
	default:
		return co, usagef("--on-worker-loss: want abort or continue, got %q", f.str("on-worker-loss"))
	}
	if co.joinTimeout, err = parseDuration("--cluster-join-timeout", f.str("cluster-join-timeout")); err != nil {
		return co, err
	}
	if co.natsWait, err = parseDuration("--cluster-nats-wait", f.str("cluster-nats-wait")); err != nil {
		return co, err
	}
	switch {
	case co.workers < 0:
		return co, usagef("--cluster-workers: must not be negative: %d", co.workers)
	case co.workers == 0 && (co.listen != "" || co.natsURL != ""):
		return co, usagef("--cluster-listen and --cluster-nats need --cluster-workers")
	case co.workers > 0 && (co.listen == "") == (co.natsURL == ""):
		return co, usagef("--cluster-workers needs one of --cluster-listen and --cluster-nats")
	case co.workers > 0 && (f.Changed("shard") || f.Changed("start-at")):
		return co, usagef("--cluster-workers: the coordinator splits the run and gives the start itself; --shard and --start-at are for runs without it")
	}
	if co.workers > 0 {
		for _, name := range []string{"hdr-log", "log-messages", "count", "verbose", "source-addr", "event-loops"} {
			if f.Changed(name) {
				return co, usagef("--cluster-workers: --%s belongs to the process that sends, not to the coordinator (give workers their own --source-addr and --event-loops)", name)
			}
		}
	}
	return co, nil
}
