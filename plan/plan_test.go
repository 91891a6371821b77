package plan

import (
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/hostport"
)

// full is a plan with every field set to something other than its default.
func full() Plan {
	from, to, subject := "", "rcpt@example.com", "s"
	p := Defaults()
	p.Target, p.Family = "[::1]:2525", hostport.IPv6
	p.Sessions, p.Messages = 7, 301
	p.Load = Load{Model: ModelOpen, Rate: 250.5, Stages: []Stage{{Duration: 30 * time.Second, Target: 100}, {Duration: time.Minute, Target: 0}},
		MaxSessions: 99, DropAfter: 2 * time.Second, LateAfter: 20 * time.Millisecond}
	p.Session = Session{Greeting: GreetLHLO, Hostname: "mx.example", LMTP: true, Pipelining: true, Reuse: true, AllowReject: true,
		Timeout: time.Minute, RandomDelay: 3 * time.Second}
	p.Message = Message{From: &from, To: &to, Recipients: 3, NumberRecipients: true, Numbering: "3.7", Subject: &subject,
		NoHeaders: true, File: NewFile("msg.eml", []byte("Subject: x\r\n\r\nbody\r\n"))}
	p.Connect = Connect{Tries: 3, Timeout: 5 * time.Second, MaxConnecting: 8, WindowSize: 4096, Linger0: true}
	p.TLS = TLS{Level: TLSVerify, Wrapper: true, CAFile: "ca.pem", ServerName: "mx", MinVersion: "1.0", MaxVersion: "1.2",
		Ciphers: []string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}, CertFile: "c.pem", KeyFile: "k.pem", Resume: true}
	p.Auth = &Auth{Mechanism: "PLAIN", User: "alice", PasswordFile: "/run/secrets/pw"}
	p.Shard = &Shard{Index: 1, Weights: []int64{1, 2, 1}}
	p.StartAt = time.Date(2026, 12, 1, 10, 0, 0, 300, time.UTC)
	p.MaxStartLate, p.Grace, p.NoMetrics = time.Second, 9*time.Second, true
	p.Local = Local{SourceAddrs: []net.IP{net.ParseIP("127.0.0.2"), net.ParseIP("::1")}, EventLoops: 3}
	p.MaxDuration = 90 * time.Second
	p.Errors = ErrorPolicy{OnError: OnErrorContinue, MaxErrorsPercent: 2.5}
	p.Thresholds = Thresholds{Exprs: []string{"eod.p99<500ms", "errors<1%"}, Abort: true, AbortDelay: 3 * time.Second}
	return p
}

// A plan's JSON form decodes to the same plan, field for field.
func TestJSONRoundTrip(t *testing.T) {
	for _, p := range []Plan{full(), Defaults(), func() Plan { p := Defaults(); p.Target = "unix:/run/s"; return p }()} {
		back, err := Decode(p.JSON())
		if err != nil {
			t.Fatalf("%s: %v", p.JSON(), err)
		}
		if !reflect.DeepEqual(back, p) {
			t.Errorf("round trip:\n got %+v\nwant %+v", back, p)
		}
	}
	if err := full().Validate(); err != nil {
		t.Errorf("the full plan: %v", err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"target":"x"}`, "no schema_version"},
		{`{"schema_version":2,"target":"x"}`, "schema version 2, this program reads version 1"},
		{`{"schema_version":1,"target":"x","sesions":3}`, `unknown field "sesions"`},
		{`{"schema_version":1,"family":"ipv5"}`, "ipv5"},
		{`[1]`, "plan:"},
	} {
		if _, err := Decode([]byte(c.in)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.in, err, c.want)
		}
	}
}

// WithDefaults fills exactly the unset fields, from Defaults, and leaves zeros that
// mean something.
func TestWithDefaults(t *testing.T) {
	d := Defaults()
	got := Plan{Target: "mx"}.WithDefaults()
	want := d
	want.Target = "mx"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("empty plan:\n got %+v\nwant %+v", got, want)
	}
	if f := full(); !reflect.DeepEqual(f.WithDefaults(), f) {
		t.Error("WithDefaults changed a plan whose fields are all set")
	}
	open := Plan{Target: "mx", Load: Load{Stages: []Stage{{Duration: time.Second, Target: 5}}}}.WithDefaults()
	if open.Load.Model != ModelOpen || open.Messages != 0 {
		t.Errorf("stages: model %q, messages %d (want open, 0: what the stages produce)", open.Load.Model, open.Messages)
	}
	ramp := Plan{Target: "mx", Load: Load{Model: ModelRampingSessions, Stages: open.Load.Stages}}.WithDefaults()
	if ramp.Sessions != 0 || ramp.Messages != 0 {
		t.Errorf("ramping sessions: sessions %d, messages %d (want 0, 0: no cap, as long as the stages)", ramp.Sessions, ramp.Messages)
	}
	wrapped := Plan{Target: "mx", TLS: TLS{Level: TLSMay, Wrapper: true}}.WithDefaults()
	if wrapped.TLS.Level != TLSEncrypt {
		t.Errorf("implicit TLS at may: level %s", wrapped.TLS.Level)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	short := Plan{Target: "mx", Session: Session{Timeout: time.Second}}.WithDefaults()
	if short.Connect.Timeout != time.Second {
		t.Errorf("connect timeout %v, want the session timeout", short.Connect.Timeout)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		edit func(*Plan)
		want string
	}{
		{func(p *Plan) { p.SchemaVersion = 3 }, "schema_version 3"},
		{func(p *Plan) { p.Target = "" }, "target: missing"},
		{func(p *Plan) { p.Target = "[::1" }, `target: [::1: missing "]"`},
		{func(p *Plan) { p.Sessions = 0 }, "sessions: must be positive"},
		{func(p *Plan) { p.Messages = -1 }, "messages: must not be negative"},
		{func(p *Plan) { p.Load.Rate = 5 }, "the closed model takes neither a rate nor stages"},
		{func(p *Plan) { p.Load.Model = ModelOpen }, "the open model needs a rate or stages"},
		{func(p *Plan) { p.Load.Model = ModelRampingSessions }, "closed-ramping ramps sessions by its stages"},
		{func(p *Plan) { p.Load.Model = "vus" }, `load.model: want closed, closed-ramping or open, got "vus"`},
		{func(p *Plan) { p.Load.Model, p.Load.Rate = ModelOpen, 2e7 }, "load.rate"},
		{func(p *Plan) { p.Load.Model, p.Load.Stages = ModelOpen, []Stage{{Duration: 0, Target: 1}} }, "load.stages[0]"},
		{func(p *Plan) { p.Load.MaxSessions = 0 }, "max_sessions"},
		{func(p *Plan) { p.Session.Greeting = "hello" }, "session.greeting"},
		{func(p *Plan) { p.Session.Hostname = "-bad" }, "session.hostname: bad hostname: -bad"},
		{func(p *Plan) { p.Session.FixedDelay, p.Session.RandomDelay = time.Second, time.Second }, "use one"},
		{func(p *Plan) { p.Message.Recipients = 0 }, "message.recipients"},
		{func(p *Plan) { p.Message.Numbering = "3.8" }, "message.numbering: want 3.7 or 3.9"},
		{func(p *Plan) { p.Message.Length, p.Message.File = 5, NewFile("f", nil) }, "length and file: use one"},
		{func(p *Plan) { p.Message.File = NewFile("f", []byte("x")); p.Message.File.Content = nil }, "no content"},
		{func(p *Plan) { p.Message.File = NewFile("f", []byte("x")); p.Message.File.Content[0] = 'y' }, "does not match"},
		{func(p *Plan) { p.Connect.Tries = 0 }, "connect:"},
		{func(p *Plan) { p.TLS.Level = "strict" }, "tls.level"},
		{func(p *Plan) { p.TLS.MaxVersion = "2" }, `tls.max_version: want 1.0, 1.1, 1.2 or 1.3, got "2"`},
		{func(p *Plan) { p.TLS.MinVersion = "1.3"; p.TLS.MaxVersion = "1.2" }, "is above"},
		{func(p *Plan) { p.TLS.Ciphers = []string{"RC4"} }, `tls.ciphers: unknown cipher suite "RC4"`},
		{func(p *Plan) { p.TLS.Ciphers = []string{"TLS_AES_128_GCM_SHA256"} }, "not a TLS 1.2 suite"},
		{func(p *Plan) { p.TLS.CertFile = "c.pem" }, "go together"},
		{func(p *Plan) { p.TLS.Level, p.Session.Greeting = TLSEncrypt, GreetNone }, "needs EHLO"},
		{func(p *Plan) { p.TLS.Level, p.Target = TLSVerify, "unix:/s" }, "unix-domain target"},
		{func(p *Plan) { p.Auth = &Auth{Mechanism: "GSSAPI", User: "a"} }, "auth.mechanism"},
		{func(p *Plan) { p.Auth = &Auth{User: "a", File: "f"} }, "use one"},
		{func(p *Plan) { p.Auth = &Auth{Mechanism: "PLAIN"} }, "needs credentials"},
		{func(p *Plan) { p.Auth = &Auth{File: "f", PasswordFile: "p"} }, "password_file needs auth.user"},
		{func(p *Plan) { p.Auth = &Auth{User: "a"} }, "not encrypted"},
		{func(p *Plan) { p.Shard = &Shard{Index: 3, Weights: []int64{1, 1}} }, "shard: index 3 of 2"},
		{func(p *Plan) { p.Shard = &Shard{Weights: []int64{0}} }, "weight 0"},
		{func(p *Plan) {
			p.Load = Load{Model: ModelRampingSessions, Stages: []Stage{{Duration: 1, Target: 1}}, MaxSessions: 1, DropAfter: 1, LateAfter: 1}
			p.Shard = &Shard{Weights: []int64{1}}
		}, "cannot be split"},
		{func(p *Plan) { p.Errors.OnError = "retry" }, `errors.on_error: want abort or continue, got "retry"`},
		{func(p *Plan) { p.Errors.MaxErrors = -1 }, "errors.max_errors"},
		{func(p *Plan) { p.Errors.MaxErrorsPercent = 101 }, "errors.max_errors_percent"},
		{func(p *Plan) { p.Errors.MaxErrors, p.Errors.MaxErrorsPercent = 1, 1 }, "use one"},
		{func(p *Plan) { p.MaxDuration = -1 }, "max_duration_ns"},
		{func(p *Plan) { p.Thresholds.Abort = true }, "thresholds.abort needs thresholds"},
		{func(p *Plan) { p.Thresholds.Exprs = []string{""} }, "thresholds.exprs[0]: empty"},
		{func(p *Plan) { p.FindMax = &FindMax{Start: 10, Factor: 2, StepDuration: time.Second, MaxSteps: 1} }, "find_max needs thresholds"},
		{func(p *Plan) {
			p.Thresholds.Exprs = []string{"errors<1"}
			p.FindMax = &FindMax{Start: 10, Factor: 2, StepDuration: time.Second, MaxSteps: 1}
		}, "find_max steps the open model's rate"},
		{func(p *Plan) {
			p.Load.Model, p.Load.Rate, p.Thresholds.Exprs = ModelOpen, 10, []string{"errors<1"}
			p.FindMax = &FindMax{Start: 10, Factor: 2, Increment: 5, StepDuration: time.Second, MaxSteps: 1}
		}, "find_max.factor and find_max.increment: use one"},
		{func(p *Plan) {
			p.Load.Model, p.Load.Rate, p.Thresholds.Exprs = ModelOpen, 10, []string{"errors<1"}
			p.FindMax = &FindMax{Start: 10, Factor: 1, StepDuration: time.Second, MaxSteps: 1}
		}, "find_max.factor"},
		{func(p *Plan) {
			p.Load.Model, p.Load.Rate, p.Thresholds.Exprs = ModelOpen, 10, []string{"errors<1"}
			p.FindMax = &FindMax{Start: 10, Factor: 2, StepDuration: time.Millisecond, MaxSteps: 1}
		}, "find_max.step_ns"},
		{func(p *Plan) { p.Grace = 0 }, "grace_ns"},
		{func(p *Plan) { p.Local.EventLoops = -1 }, "local.event_loops"},
	} {
		p := Defaults()
		p.Target = "127.0.0.1:25"
		c.edit(&p)
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("want one line with %q, got %v", c.want, err)
		}
	}
}

// The error policy follows the model unless given: smtp-source's closed model aborts,
// load tests go on; a search gets its settings' defaults, and keeps a bisect of 0.
func TestLoadTestDefaults(t *testing.T) {
	for model, want := range map[Model]OnError{ModelClosed: OnErrorAbort, ModelOpen: OnErrorContinue, ModelRampingSessions: OnErrorContinue} {
		p := Plan{Target: "mx", Load: Load{Model: model}}.WithDefaults()
		if p.Errors.OnError != want {
			t.Errorf("%s: on_error %s, want %s", model, p.Errors.OnError, want)
		}
	}
	p := Plan{Target: "mx", Load: Load{Rate: 5}, Errors: ErrorPolicy{OnError: OnErrorAbort}}.WithDefaults()
	if p.Errors.OnError != OnErrorAbort {
		t.Errorf("an explicit abort became %s", p.Errors.OnError)
	}
	p = Plan{Target: "mx", Messages: 10, Load: Load{Rate: 5}, Thresholds: Thresholds{Exprs: []string{"errors<1"}},
		FindMax: &FindMax{Start: 20, Increment: 10}}.WithDefaults()
	want := FindMax{Start: 20, Increment: 10, StepDuration: FindMaxDefaults().StepDuration, MaxSteps: FindMaxDefaults().MaxSteps}
	if *p.FindMax != want {
		t.Errorf("find_max %+v, want %+v", *p.FindMax, want)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("a search plan: %v", err)
	}
	if back, err := Decode(p.JSON()); err != nil || !reflect.DeepEqual(back, p) {
		t.Errorf("a search plan's round trip: %+v, %v", back, err)
	}
}

func TestCheckShares(t *testing.T) {
	p := Defaults()
	p.Target, p.Sessions = "mx", 3
	if err := p.CheckShares([]int64{1, 1, 1}, 2); err == nil || !strings.Contains(err.Error(), "would own none of the 2 messages") {
		t.Errorf("3 shards of 2 messages: %v", err)
	}
	p.Sessions = 2
	if err := p.CheckShares([]int64{1, 1, 1}, 9); err == nil || !strings.Contains(err.Error(), "would own messages but get no session") {
		t.Errorf("3 shards of 2 sessions: %v", err)
	}
	p.Load = Load{Model: ModelOpen, Rate: 1, MaxSessions: 3}
	if err := p.CheckShares([]int64{1, 1, 1}, 9); err != nil {
		t.Errorf("open model, 3 of max 3 sessions: %v", err)
	}
}

// Shards of one plan share a fingerprint whatever their index and machine; anything
// that changes what is sent changes it.
func TestFingerprint(t *testing.T) {
	base := full()
	other := full()
	other.Shard.Index = 2
	other.Local = Local{EventLoops: 1}
	other.Message.File.Content = nil
	if base.Fingerprint() != other.Fingerprint() {
		t.Error("shards of one plan differ")
	}
	for _, edit := range []func(*Plan){
		func(p *Plan) { p.Messages++ },
		func(p *Plan) { p.Target = "[::1]:2526" },
		func(p *Plan) { p.Shard.Weights = []int64{1, 1, 1} },
		func(p *Plan) { p.Shard = nil },
		func(p *Plan) { p.Message.File = NewFile("msg.eml", []byte("other")) },
		func(p *Plan) { p.Session.Timeout++ },
	} {
		q := full()
		edit(&q)
		if q.Fingerprint() == base.Fingerprint() {
			t.Errorf("%+v: same fingerprint as another plan", q)
		}
	}
}

// ForReport leaves a message file's content out, and nothing else.
func TestForReport(t *testing.T) {
	p := full()
	r := p.ForReport()
	if r.Message.File.Content != nil || p.Message.File.Content == nil || r.Message.File.SHA256 != p.Message.File.SHA256 {
		t.Errorf("report form %+v of %+v", r.Message.File, p.Message.File)
	}
	r.Message.File = p.Message.File
	if !reflect.DeepEqual(r, p) {
		t.Error("ForReport changed more than the file's content")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(full().JSON())
	f.Add(Defaults().JSON())
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(data)
		if err != nil {
			return
		}
		_ = p.WithDefaults().Validate() // must not panic
		back, err := Decode(p.JSON())
		if err != nil || !reflect.DeepEqual(back.JSON(), p.JSON()) {
			t.Fatalf("%s: re-decoded %v", data, err)
		}
	})
}

func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"0/1", "2/3", "1/3:1,2,1", "3/3", "0/2:1,a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := ParseShard(s)
		if err != nil {
			return
		}
		back, err := ParseShard(sh.String())
		if err != nil || !reflect.DeepEqual(back, sh) {
			t.Fatalf("%q → %v → %v, %v", s, sh, back, err)
		}
	})
}
