package sink

import "strconv"

// pushback is the far end that pushes back, compiled from the Config once per server:
// --reject, --greylist, --rate-limit, --max-per-connection and --tarpit. Every refusal
// goes through a refusalSite, which counts it under the client's error key.
type pushback struct {
	sites    refusalRegistry
	rejects  [numVerbs]*rejectTable
	greylist *greylistTable
	greySite *refusalSite

	clientLimits []clientLimit
	connLimits   []connLimit

	maxPerConn int
	mpcWarn    *refusalSite // 452 4.5.3: the first MAIL over the limit
	mpcClose   *refusalSite // 421 4.7.0: the next one

	tarpit Tarpit
}

type clientLimit struct {
	buckets *clientBuckets
	site    *refusalSite
}

type connLimit struct {
	g    gcra
	site *refusalSite
}

// The refusals' texts (after code and enhanced code).
const (
	textRejected    = "Error: command rejected (injected)"
	textRateLimit   = "Error: too much mail, rate limit exceeded"
	textTooMany     = "Error: too many messages in this connection"
	textTooManyQuit = "Error: too many messages in this connection, closing"
)

func newPushback(cfg *Config, seed uint64) *pushback {
	p := &pushback{maxPerConn: cfg.MaxPerConnection, tarpit: cfg.Tarpit}
	p.compileRejects(cfg.Rejects, seed)
	if g := cfg.Greylist; g.Enabled {
		p.greylist = newGreylistTable(g)
		p.greySite = p.sites.site(KindGreylist, VerbRCPT, false, 450, "4.7.1",
			"Error: greylisted, try again in "+g.Delay.String())
	}
	for _, rl := range cfg.RateLimits {
		var site *refusalSite
		if rl.Close {
			site = p.sites.site(KindRateLimit, VerbMAIL, false, 421, "4.7.0", textRateLimit+", closing connection")
		} else {
			site = p.sites.site(KindRateLimit, VerbMAIL, false, 451, "4.7.1", textRateLimit)
		}
		if rl.PerConnection {
			p.connLimits = append(p.connLimits, connLimit{g: newGCRA(rl), site: site})
		} else {
			p.clientLimits = append(p.clientLimits, clientLimit{buckets: newClientBuckets(rl), site: site})
		}
	}
	if p.maxPerConn > 0 {
		p.mpcWarn = p.sites.site(KindMaxPerConnection, VerbMAIL, false, 452, "4.5.3", textTooMany)
		p.mpcClose = p.sites.site(KindMaxPerConnection, VerbMAIL, false, 421, "4.7.0", textTooManyQuit)
	}
	return p
}

func (p *pushback) compileRejects(rules []RejectRule, seed uint64) {
	for _, r := range rules {
		t := p.rejects[r.Verb]
		if t == nil {
			t = &rejectTable{stream: newRandomStream(seed, streamRejects+uint64(r.Verb))}
			p.rejects[r.Verb] = t
		}
		enh := r.Enhanced
		if enh == "" {
			enh = strconv.Itoa(r.Code/100) + ".3.0"
		}
		prev := 0.0
		if n := len(t.cum); n > 0 {
			prev = t.cum[n-1]
		}
		t.cum = append(t.cum, prev+r.Probability)
		t.rules = append(t.rules, r)
		t.sites = append(t.sites, p.sites.site(KindReject, r.Verb, false, r.Code, enh, textRejected))
		if r.Verb == VerbEHLO || r.Verb == VerbLHLO || r.Verb == VerbHELO {
			t.tlsSites = append(t.tlsSites, p.sites.site(KindReject, r.Verb, true, r.Code, enh, textRejected))
		}
	}
}

// refuse gives a refusal's reply and counts it; the connection closes after a 421.
func (s *Session) refuse(site *refusalSite) Action {
	site.n.Add(1)
	s.reply(site.reply)
	if site.close {
		s.phase = phaseClosed
		return ActionClose
	}
	return ActionContinue
}

// drawReject rolls --reject's dice for v: the site of the rule that applies, if any.
func (s *Session) drawReject(v Verb) (site *refusalSite, rule RejectRule, ok bool) {
	t := s.env.push.rejects[v]
	if t == nil {
		return nil, RejectRule{}, false
	}
	i, ok := t.pick()
	if !ok {
		return nil, RejectRule{}, false
	}
	if s.tls && t.tlsSites != nil {
		return t.tlsSites[i], t.rules[i], true
	}
	return t.sites[i], t.rules[i], true
}

// rejectCommand applies --reject to a command other than MAIL, RCPT, DATA and the end of
// data (which check their own state first); refused says the reply has been given and the
// command must have no effect.
func (s *Session) rejectCommand(v Verb) (refused bool, act Action) {
	site, _, ok := s.drawReject(v)
	if !ok {
		return false, ActionContinue
	}
	return true, s.refuse(site)
}

// pushMail applies, to a MAIL that would be accepted, in this order: the per-connection
// message limit, the rate limits (in the order given), then --reject.
func (s *Session) pushMail() (refused bool, act Action) {
	p := s.env.push
	if p.maxPerConn > 0 && s.mails >= p.maxPerConn {
		if !s.overLimit {
			s.overLimit = true
			return true, s.refuse(p.mpcWarn)
		}
		return true, s.refuse(p.mpcClose)
	}
	if len(p.clientLimits) > 0 || len(p.connLimits) > 0 {
		now := s.env.now()
		for _, l := range p.clientLimits {
			if !l.buckets.allow(s.clientAddr, now) {
				return true, s.refuse(l.site)
			}
		}
		if s.connTAT == nil {
			s.connTAT = make([]int64, len(p.connLimits))
		}
		for i, l := range p.connLimits {
			if !l.g.allow(&s.connTAT[i], now) {
				return true, s.refuse(l.site)
			}
		}
	}
	if site, _, ok := s.drawReject(VerbMAIL); ok {
		return true, s.refuse(site)
	}
	return false, ActionContinue
}

// pushRcpt applies greylisting, then --reject, to a RCPT that would be accepted.
func (s *Session) pushRcpt(args []byte) (refused bool, act Action) {
	p := s.env.push
	if p.greylist != nil {
		s.scratch = mailPath(s.scratch, args)
		key := p.greylist.triplet(s.clientAddr, s.sender, s.scratch)
		if !p.greylist.check(key, s.env.now()) {
			return true, s.refuse(p.greySite)
		}
	}
	if site, _, ok := s.drawReject(VerbRCPT); ok {
		return true, s.refuse(site)
	}
	return false, ActionContinue
}
