package plan

import "time"

// Defaults is a plan with every default, and the only place defaults are written: the
// command line's flag defaults are formatted from it, WithDefaults fills a plan's unset
// fields from it, and the engine runs what it is given. Target is left empty.
func Defaults() Plan {
	const timeout = 300 * time.Second
	return Plan{
		SchemaVersion: SchemaVersion,
		Sessions:      1,
		Messages:      1,
		Load: Load{
			Model:       ModelClosed,
			MaxSessions: 1000,
			DropAfter:   time.Second,
			LateAfter:   10 * time.Millisecond,
		},
		Session: Session{Greeting: GreetHELO, Timeout: timeout},
		Message: Message{Recipients: 1, Numbering: "3.9"},
		Connect: Connect{Tries: 1, Timeout: timeout, MaxConnecting: 64}, // Timeout: WithDefaults takes Session.Timeout
		TLS:     TLS{Level: TLSNone, MinVersion: "1.2", MaxVersion: "1.3"},

		MaxStartLate: 100 * time.Millisecond,
		Grace:        5 * time.Second,

		Errors:     ErrorPolicy{OnError: OnErrorAbort}, // the closed model's; WithDefaults: defaultOnError
		Thresholds: Thresholds{AbortDelay: 10 * time.Second},
	}
}

// FindMaxDefaults is a capacity search's settings by default (a plan has none unless
// it asks for a search: WithDefaults fills the unset ones of a plan's FindMax).
func FindMaxDefaults() FindMax {
	return FindMax{Start: 10, Factor: 2, StepDuration: 10 * time.Second, Bisect: 3, MaxSteps: 20}
}

// WithDefaults returns p with its unset (zero) fields set to their defaults, where zero
// is not itself a setting: Messages is only filled in the closed model (with stages, 0
// means as many as they produce; the open model needs a count or stages), Sessions not
// when sessions are ramped (0: no cap), and Connect.Timeout becomes Session.Timeout. An unset
// model is the open one when a rate or stages are given, and a TLS wrapper (implicit
// TLS) raises the level to at least encrypt, there being no plaintext to fall back to.
func (p Plan) WithDefaults() Plan {
	d := Defaults()
	setInt(&p.SchemaVersion, d.SchemaVersion)
	if p.Load.Model == "" {
		p.Load.Model = ModelClosed
		if p.Load.Rate > 0 || len(p.Load.Stages) > 0 {
			p.Load.Model = ModelOpen
		}
	}
	if p.Load.Model == ModelClosed {
		setInt(&p.Messages, d.Messages)
	}
	if p.Load.Model != ModelRampingSessions {
		setInt(&p.Sessions, d.Sessions)
	}
	setInt(&p.Load.MaxSessions, d.Load.MaxSessions)
	setDuration(&p.Load.DropAfter, d.Load.DropAfter)
	setDuration(&p.Load.LateAfter, d.Load.LateAfter)

	if p.Session.Greeting == "" {
		p.Session.Greeting = d.Session.Greeting
	}
	setDuration(&p.Session.Timeout, d.Session.Timeout)
	setInt(&p.Message.Recipients, d.Message.Recipients)
	if p.Message.Numbering == "" {
		p.Message.Numbering = d.Message.Numbering
	}
	setInt(&p.Connect.Tries, d.Connect.Tries)
	setDuration(&p.Connect.Timeout, p.Session.Timeout)
	setInt(&p.Connect.MaxConnecting, d.Connect.MaxConnecting)

	if p.TLS.Level == "" {
		p.TLS.Level = d.TLS.Level
	}
	if p.TLS.Wrapper && (p.TLS.Level == TLSNone || p.TLS.Level == TLSMay) {
		p.TLS.Level = TLSEncrypt
	}
	if p.TLS.MinVersion == "" {
		p.TLS.MinVersion = d.TLS.MinVersion
	}
	if p.TLS.MaxVersion == "" {
		p.TLS.MaxVersion = d.TLS.MaxVersion
	}
	setDuration(&p.MaxStartLate, d.MaxStartLate)
	setDuration(&p.Grace, d.Grace)
	p.withLoadTestDefaults(d)
	p.withTraceDefaults()
	return p
}

func setInt[T int | int64](v *T, d T) {
	if *v == 0 {
		*v = d
	}
}

func setDuration(v *time.Duration, d time.Duration) {
	if *v == 0 {
		*v = d
	}
}
