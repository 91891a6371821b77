package sink

import (
	"strconv"
	"sync/atomic"

	"github.com/go-smtp-source/go-smtp-source/metrics"
)

// The kinds of injected refusal, as --stats names them.
const (
	KindReject           = "reject"             // --reject
	KindGreylist         = "greylist"           // --greylist
	KindRateLimit        = "rate_limit"         // --rate-limit
	KindMaxPerConnection = "max_per_connection" // --max-per-connection
)

// refusalSite is one way the sink refuses a command: the pre-rendered reply, whether the
// connection closes after it, and how often it was given. Its key is the error key
// go-smtp-source files the reply under (metrics.ReplyErrorKey with the client's phase),
// so a test can match the two counts exactly.
type refusalSite struct {
	kind  string
	key   string
	reply string // with CRLF
	close bool
	n     atomic.Int64
}

// refusalRegistry holds every refusal site of a server. It is filled while the env is
// built and read-only afterwards; the counters are atomics.
type refusalRegistry struct {
	sites []*refusalSite
}

// site returns the site of kind for the reply "code enhanced text" to v; sites with the
// same kind and key share one counter. A 421 reply closes the connection (RFC 5321
// 3.8: the service is closing the transmission channel).
func (r *refusalRegistry) site(kind string, v Verb, afterTLS bool, code int, enhanced, text string) *refusalSite {
	key := metrics.ReplyErrorKey(clientPhase(v, afterTLS), code, enhanced)
	for _, s := range r.sites {
		if s.kind == kind && s.key == key {
			return s
		}
	}
	s := &refusalSite{
		kind:  kind,
		key:   key,
		reply: strconv.Itoa(code) + " " + enhanced + " " + text + "\r\n",
		close: code == 421,
	}
	r.sites = append(r.sites, s)
	return s
}

// counts returns the refusals by kind and key, and by key over all kinds (what the
// client's error keys add up to); nil when no refusal is configured.
func (r *refusalRegistry) counts() (byKind map[string]map[string]int64, byKey map[string]int64) {
	if len(r.sites) == 0 {
		return nil, nil
	}
	byKind, byKey = make(map[string]map[string]int64), make(map[string]int64)
	for _, s := range r.sites {
		n := s.n.Load()
		if byKind[s.kind] == nil {
			byKind[s.kind] = make(map[string]int64)
		}
		byKind[s.kind][s.key] += n
		byKey[s.key] += n
	}
	return byKind, byKey
}

// clientPhase is the phase go-smtp-source is in while it waits for the reply to v (see
// metrics/SCHEMA.md, Errors).
func clientPhase(v Verb, afterTLS bool) string {
	switch v {
	case VerbConnect:
		return "banner"
	case VerbHELO, VerbEHLO, VerbLHLO:
		if afterTLS {
			return "ehlo_tls"
		}
		return "helo"
	case VerbDot:
		return "eod"
	}
	return v.String()
}
