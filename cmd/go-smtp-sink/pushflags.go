package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/go-smtp-source/go-smtp-source/sink"
)

// pushbackUsage is the usage line's part for the pushback, trace and HTTP options.
const pushbackUsage = "[--reject command=code[/enhanced][:probability][:delivered],...] " +
	"[--greylist [--greylist-delay d] [--greylist-expire d] [--greylist-max n]] " +
	"[--rate-limit rate/unit[,burst=n][,per=client|connection][,reply=451|421]] [--max-per-connection n] " +
	"[--tarpit delay[,above=n][,max=d]] [--seed n] [--trace [--trace-header name] [--trace-file file]] [--http addr] [--metrics-addr addr]"

// pushOptions are the options of the far end that pushes back, --trace and --http.
type pushOptions struct {
	rejects, rateLimits                []string
	greylist, trace                    bool
	greyDelay, greyExpire, tarpit      string
	greyMax, maxPerConn                int
	traceHeader, traceFile, httpListen string
	metricsListen                      string
	seed                               uint64
}

// addPushbackFlags defines the pushback, trace and HTTP options.
func addPushbackFlags(fs *pflag.FlagSet, p *pushOptions) {
	fs.StringArrayVar(&p.rejects, "reject", nil, "command=code[/enhanced][:probability][:delivered],...: refuse a fraction of a command's occurrences (rcpt=550:5%,.=451:2%)")
	fs.BoolVar(&p.greylist, "greylist", false, "refuse the first attempt of each client/sender/recipient triplet at RCPT with 450 4.7.1")
	fs.StringVar(&p.greyDelay, "greylist-delay", "", "how long a greylisted triplet must wait (seconds or a duration; default 5m)")
	fs.StringVar(&p.greyExpire, "greylist-expire", "", "how long a triplet is remembered after its first attempt (default 24h)")
	fs.IntVar(&p.greyMax, "greylist-max", 0, "most triplets remembered; the oldest is forgotten beyond (default 1000000)")
	fs.StringArrayVar(&p.rateLimits, "rate-limit", nil, "rate/unit[,burst=n][,per=client|connection][,reply=451|421]: a token bucket on messages (200/s)")
	fs.IntVar(&p.maxPerConn, "max-per-connection", 0, "messages per connection: the next MAIL gets 452 4.5.3, the one after 421 4.7.0 (default no limit)")
	fs.StringVar(&p.tarpit, "tarpit", "", "delay[,above=n][,max=d]: delay every reply by delay × (open sessions − above), at most max (default 30s)")
	fs.Uint64Var(&p.seed, "seed", 0, "seed of the random draws (--reject, --delay probabilities, -W odds); 0 picks one (shown in --stats)")
	fs.BoolVar(&p.trace, "trace", false, "account for the trace header of each accepted message: per run, seen, duplicates, missing, delivery latency")
	fs.StringVar(&p.traceHeader, "trace-header", sink.DefaultTraceHeader, "the trace header's name (implies --trace)")
	fs.StringVar(&p.traceFile, "trace-file", "", "write the trace document as JSON to this file at exit and on SIGUSR1 (implies --trace)")
	fs.StringVar(&p.httpListen, "http", "", "serve /stats, /trace and /metrics (Prometheus) on this address (port 0: any; the address is printed on stderr)")
	fs.StringVar(&p.metricsListen, "metrics-addr", "", "serve only /metrics (Prometheus/OpenMetrics, as --http's) on this address (port 0: any; the address is printed on stderr)")
}

// apply puts the pushback and trace options into the configuration.
func (p *pushOptions) apply(fs *pflag.FlagSet, cfg *sink.Config) error {
	for _, spec := range p.rejects {
		rules, err := sink.ParseRejects(spec)
		if err != nil {
			return err
		}
		cfg.Rejects = append(cfg.Rejects, rules...)
	}
	for _, spec := range p.rateLimits {
		rl, err := sink.ParseRateLimit(spec)
		if err != nil {
			return err
		}
		cfg.RateLimits = append(cfg.RateLimits, rl)
	}
	if err := p.applyGreylist(&cfg.Greylist); err != nil {
		return err
	}
	if p.maxPerConn < 0 || p.greyMax < 0 {
		return fmt.Errorf("--max-per-connection and --greylist-max take a positive count")
	}
	cfg.MaxPerConnection, cfg.Seed = p.maxPerConn, p.seed
	if p.tarpit != "" {
		t, err := sink.ParseTarpit(p.tarpit)
		if err != nil {
			return err
		}
		cfg.Tarpit = t
	}
	p.trace = p.trace || fs.Changed("trace-header") || p.traceFile != ""
	if p.trace {
		cfg.TraceHeader = p.traceHeader
	}
	return nil
}

func (p *pushOptions) applyGreylist(g *sink.Greylist) error {
	g.Enabled = p.greylist || p.greyDelay != "" || p.greyExpire != "" || p.greyMax != 0
	g.MaxEntries = p.greyMax
	var err error
	if p.greyDelay != "" {
		if g.Delay, err = sink.ParseSeconds(p.greyDelay); err != nil || g.Delay <= 0 {
			return fmt.Errorf("--greylist-delay %q: want a positive delay", p.greyDelay)
		}
	}
	if p.greyExpire != "" {
		if g.Expire, err = sink.ParseSeconds(p.greyExpire); err != nil || g.Expire <= 0 {
			return fmt.Errorf("--greylist-expire %q: want a positive delay", p.greyExpire)
		}
	}
	return nil
}
