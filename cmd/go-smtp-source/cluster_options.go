package main

import (
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/cluster"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// clusterOptions are the NATS coordinator's options (cluster.go); the brokerless
// --shard and --start-at are the plan's (shard.go).
type clusterOptions struct {
	workers      int           // --cluster-workers: 0 means a local run
	listen       string        // --cluster-listen: embedded NATS server address
	natsURL      string        // --cluster-nats: an existing NATS server
	auth         natsAuth      // --cluster-token, -user, -password, -creds, -nkey, -tls-*
	continueLoss bool          // --on-worker-loss=continue
	joinTimeout  time.Duration // --cluster-join-timeout
}

func (c *clusterOptions) coordinating() bool { return c.workers > 0 }

// natsAuth is how a process authenticates to NATS and secures the connection.
type natsAuth struct {
	token, user, password, creds, nkey string
	tlsCA, tlsCert, tlsKey             string
}

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

func parseNATSAuth(fs *pflag.FlagSet, prefix string) (natsAuth, error) {
	str := func(name string) string { v, _ := fs.GetString(prefix + name); return v }
	a := natsAuth{token: str("token"), user: str("user"), creds: str("creds"), nkey: str("nkey"),
		tlsCA: str("tls-ca"), tlsCert: str("tls-cert"), tlsKey: str("tls-key")}
	if a.token == "" {
		a.token = os.Getenv("GSS_NATS_TOKEN")
	}
	if a.user != "" {
		a.password = os.Getenv("GSS_NATS_PASSWORD")
	}
	if (a.tlsCert == "") != (a.tlsKey == "") {
		return a, usagef("--%stls-cert and --%stls-key go together", prefix, prefix)
	}
	return a, nil
}

// options turns the authentication into nats.go options.
func (a natsAuth) options() []nats.Option {
	var o []nats.Option
	if a.token != "" {
		o = append(o, nats.Token(a.token))
	}
	if a.user != "" {
		o = append(o, nats.UserInfo(a.user, a.password))
	}
	if a.creds != "" {
		o = append(o, nats.UserCredentials(a.creds))
	}
	if a.nkey != "" {
		if opt, err := nats.NkeyOptionFromSeed(a.nkey); err == nil {
			o = append(o, opt)
		} else {
			o = append(o, func(*nats.Options) error { return fmt.Errorf("--nkey %s: %w", a.nkey, err) })
		}
	}
	if a.tlsCA != "" {
		o = append(o, nats.RootCAs(a.tlsCA))
	}
	if a.tlsCert != "" {
		o = append(o, nats.ClientCert(a.tlsCert, a.tlsKey))
	}
	return o
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
