package protocol

import (
	"encoding/base64"
	"math/rand"
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

var tlsSpec = MessageSpec{Sender: "foo@vm", Recipient: "foo@vm", Recipients: 1, Headers: true, PID: 1}

// driveChunked runs the scenario under many random chunkings and checks they agree.
func driveChunked(t *testing.T, sc scenario) run {
	t.Helper()
	first := drive(t, sc, rand.New(rand.NewSource(1)), 1<<20)
	for seed := int64(2); seed < 30; seed++ {
		res := drive(t, sc, rand.New(rand.NewSource(seed)), 1+int(seed%7))
		if res.client != first.client || string(res.injected) != string(first.injected) {
			t.Fatalf("seed %d: client bytes differ with small chunks:\n%s\nvs\n%s", seed, res.client, first.client)
		}
	}
	return first
}

func TestStartTLS(t *testing.T) {
	sc := scenario{cfg: Config{Greeting: GreetEHLO, TLS: TLSRequired, Trace: true}, spec: tlsSpec, messages: 2,
		server: testpeer.SMTPScript{OfferTLS: true}}
	res := driveChunked(t, sc)
	if res.err != nil || res.handshakes != 2 {
		t.Fatalf("err %v, handshakes %d", res.err, res.handshakes)
	}
	want := "EHLO vm\r\nSTARTTLS\r\nEHLO vm\r\nMAIL FROM:<foo@vm>\r\n"
	if !strings.HasPrefix(res.client, want) || strings.Count(res.client, "STARTTLS") != 2 {
		t.Fatalf("client sent\n%s", res.client)
	}
	phases := strings.Join(res.rec.phases, " ")
	if !strings.HasPrefix(phases, "banner:220 helo:250 starttls:220 ehlo_tls:250 mail:250") {
		t.Fatalf("phases %s", phases)
	}
	if res.rec.outcomes[1] != Accepted || res.rec.outcomes[2] != Accepted {
		t.Fatalf("outcomes %v", res.rec.outcomes)
	}
}

// TestStartTLSStopsAtThe220: whatever follows the STARTTLS 220 is left unconsumed for the
// driver to refuse, however the bytes are chunked (STARTTLS injection, CVE-2011-0411).
func TestStartTLSStopsAtThe220(t *testing.T) {
	inject := "250-injected\r\n250 more\r\n"
	sc := scenario{cfg: Config{Greeting: GreetEHLO, TLS: TLSRequired}, spec: tlsSpec, messages: 1,
		server: testpeer.SMTPScript{OfferTLS: true, Inject: inject}}
	res := driveChunked(t, sc)
	if string(res.injected) != inject {
		t.Fatalf("left after the 220: %q, want %q", res.injected, inject)
	}
	if res.handshakes != 0 || res.rec.outcomes[1] != Failed {
		t.Fatalf("handshakes %d, outcome %v", res.handshakes, res.rec.outcomes[1])
	}
}

func TestStartTLSPolicy(t *testing.T) {
	for _, tc := range []struct {
		name       string
		policy     TLSPolicy
		allow      bool
		sim        testpeer.SMTPScript
		fatal      string // "" : the run completes
		outcomes   string // per message: a=accepted r=rejected f=failed
		handshakes int
		warning    string
	}{
		{"required, not offered", TLSRequired, false, testpeer.SMTPScript{}, ErrNoStartTLS.Error(), "f", 0, ""},
		{"required, not offered, -A", TLSRequired, true, testpeer.SMTPScript{}, "", "ff", 0, ErrNoStartTLS.Error()},
		{"required, refused", TLSRequired, false, testpeer.SMTPScript{OfferTLS: true, StartTLSReply: "454 4.7.0 TLS not available\r\n"},
			"STARTTLS rejected: 454 4.7.0 TLS not available", "r", 0, ""},
		{"required, refused, -A", TLSRequired, true, testpeer.SMTPScript{OfferTLS: true, StartTLSReply: "454 4.7.0 TLS not available\r\n"},
			"", "rr", 0, "STARTTLS rejected: 454"},
		{"may, not offered", TLSMay, false, testpeer.SMTPScript{}, "", "aa", 0, ""},
		{"may, refused", TLSMay, false, testpeer.SMTPScript{OfferTLS: true, StartTLSReply: "454 4.7.0 TLS not available\r\n"}, "", "aa", 0, "STARTTLS rejected: 454"},
		{"may, offered", TLSMay, false, testpeer.SMTPScript{OfferTLS: true}, "", "aa", 2, ""},
		{"none, offered", TLSNone, false, testpeer.SMTPScript{OfferTLS: true}, "", "aa", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := scenario{cfg: Config{Greeting: GreetEHLO, TLS: tc.policy, AllowReject: tc.allow}, spec: tlsSpec,
				messages: int64(len(tc.outcomes)), server: tc.sim}
			res := driveChunked(t, sc)
			if tc.fatal == "" && res.err != nil || tc.fatal != "" && (res.err == nil || !strings.Contains(res.err.Error(), tc.fatal)) {
				t.Fatalf("err %v, want %q", res.err, tc.fatal)
			}
			for i, o := range tc.outcomes {
				want := map[rune]Outcome{'a': Accepted, 'r': Rejected, 'f': Failed}[o]
				if got, ok := res.rec.outcomes[int64(i+1)]; !ok || got != want {
					t.Fatalf("message %d: %v, want %v (all %v)", i+1, got, want, res.rec.outcomes)
				}
			}
			if res.handshakes != tc.handshakes {
				t.Fatalf("handshakes %d, want %d", res.handshakes, tc.handshakes)
			}
			if tc.warning != "" && (len(res.rec.warnings) == 0 || !strings.Contains(res.rec.warnings[0], tc.warning)) {
				t.Fatalf("warnings %q, want %q", res.rec.warnings, tc.warning)
			}
			if tc.policy != TLSNone && tc.handshakes == 0 && strings.Contains(res.client, "MAIL") && tc.policy == TLSRequired {
				t.Fatalf("mail sent in plaintext under a required policy:\n%s", res.client)
			}
		})
	}
}

// TestStartTLSCapabilitiesAfresh: what the server announced before TLS is forgotten;
// PIPELINING is used only when the EHLO after TLS offers it.
func TestStartTLSCapabilitiesAfresh(t *testing.T) {
	pipelined := "MAIL FROM:<foo@vm>|RCPT TO:<foo@vm>|DATA" // sent before any reply
	for _, tc := range []struct {
		before, after string
		pipelined     bool
	}{
		{"250-PIPELINING\r\n", "", false},
		{"", "250-PIPELINING\r\n", true},
	} {
		sc := scenario{cfg: Config{Greeting: GreetEHLO, TLS: TLSRequired, Pipelining: true, Trace: true}, spec: tlsSpec, messages: 1,
			server: testpeer.SMTPScript{OfferTLS: true, CapsBeforeTLS: tc.before, CapsAfterTLS: tc.after}}
		res := driveChunked(t, sc)
		if got := strings.Contains(strings.Join(res.rec.trace, "|"), pipelined); got != tc.pipelined || res.err != nil {
			t.Fatalf("before %q after %q: pipelined %v, err %v\n%s", tc.before, tc.after, got, res.err, res.client)
		}
	}
}

func TestImplicitTLS(t *testing.T) {
	sc := scenario{cfg: Config{Greeting: GreetEHLO, TLS: TLSRequired, ImplicitTLS: true, Auth: &AuthConfig{
		Credentials: NewRoundRobin([]Credential{{"u", "p"}})}}, spec: tlsSpec, messages: 2,
		server: testpeer.SMTPScript{OfferTLS: true, AuthMechs: "PLAIN", AuthBeforeTLS: true, User: "u", Pass: "p"}}
	res := driveChunked(t, sc)
	if res.err != nil || strings.Contains(res.client, "STARTTLS") || res.handshakes != 2 {
		t.Fatalf("err %v handshakes %d\n%s", res.err, res.handshakes, res.client)
	}
	if phases := strings.Join(res.rec.phases, " "); !strings.HasPrefix(phases, "banner:220 helo:250 auth:235 mail:250") {
		t.Fatalf("phases %s", phases)
	}
}

func TestAuth(t *testing.T) {
	creds := []Credential{{"alice", "s3cret-alice"}}
	for _, tc := range []struct {
		name, want, offered string
		insecure            bool
		fatal               string
		allow               bool
		outcome             Outcome
	}{
		{"PLAIN", "PLAIN", "PLAIN LOGIN", false, "", false, Accepted},
		{"LOGIN", "LOGIN", "PLAIN LOGIN", false, "", false, Accepted},
		{"CRAM-MD5", "CRAM-MD5", "CRAM-MD5", false, "", false, Accepted},
		{"best offered", "", "LOGIN CRAM-MD5 PLAIN", false, "", false, Accepted},
		{"not offered", "CRAM-MD5", "PLAIN LOGIN", false, "the server offers AUTH PLAIN LOGIN, not CRAM-MD5", false, Failed},
		{"no AUTH", "", "", false, ErrAuthNotOffered.Error(), false, Failed},
		{"plaintext refused", "PLAIN", "PLAIN", true, ErrAuthInsecure.Error(), false, Failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			policy, offer := TLSRequired, true
			if tc.insecure {
				policy, offer = TLSNone, false
			}
			sc := scenario{cfg: Config{Greeting: GreetEHLO, TLS: policy, Trace: true, AllowReject: tc.allow,
				Auth: &AuthConfig{Mechanism: tc.want, Credentials: NewRoundRobin(creds)}}, spec: tlsSpec, messages: 2,
				server: testpeer.SMTPScript{OfferTLS: offer, AuthMechs: tc.offered, AuthBeforeTLS: true}}
			sc.server.User, sc.server.Pass = "alice", "s3cret-alice"
			sc.messages = 1
			res := driveChunked(t, sc)
			if tc.fatal != "" {
				if res.err == nil || !strings.Contains(res.err.Error(), tc.fatal) || res.rec.outcomes[1] != tc.outcome {
					t.Fatalf("err %v outcome %v, want %q", res.err, res.rec.outcomes[1], tc.fatal)
				}
				return
			}
			if res.err != nil || res.rec.outcomes[1] != Accepted {
				t.Fatalf("err %v outcome %v\n%s", res.err, res.rec.outcomes[1], res.client)
			}
			mech := tc.want
			if mech == "" {
				mech = "CRAM-MD5"
			}
			if !strings.Contains(res.client, "AUTH "+mech) {
				t.Fatalf("want AUTH %s:\n%s", mech, res.client)
			}
			trace := strings.Join(res.rec.trace, "\n")
			for _, secret := range []string{"s3cret", base64.StdEncoding.EncodeToString([]byte("s3cret-alice")),
				base64.StdEncoding.EncodeToString([]byte("\x00alice\x00s3cret-alice"))} {
				if strings.Contains(trace, secret) {
					t.Fatalf("trace shows %q:\n%s", secret, trace)
				}
			}
			if !strings.Contains(trace, "[credentials redacted]") {
				t.Fatalf("trace:\n%s", trace)
			}
			if n := strings.Count(strings.Join(res.rec.phases, " "), "auth:"); n != 1 || !strings.Contains(strings.Join(res.rec.phases, " "), "auth:235") {
				t.Fatalf("auth phases %v", res.rec.phases)
			}
		})
	}
}

func TestAuthRejected(t *testing.T) {
	creds := NewRoundRobin([]Credential{{"bob", "bad"}})
	for _, allow := range []bool{false, true} {
		sc := scenario{cfg: Config{Greeting: GreetEHLO, TLS: TLSRequired, AllowReject: allow,
			Auth: &AuthConfig{Mechanism: "LOGIN", Credentials: creds}}, spec: tlsSpec, messages: 2,
			server: testpeer.SMTPScript{OfferTLS: true, AuthMechs: "LOGIN", User: "alice", Pass: "good"}}
		res := driveChunked(t, sc)
		if !allow {
			if res.err == nil || !strings.Contains(res.err.Error(), "AUTH LOGIN rejected: 535 5.7.8 Error: authentication failed") {
				t.Fatalf("err %v", res.err)
			}
			continue
		}
		// -A: a warning per session, and the messages go on (this server then takes them).
		if res.err != nil || len(res.rec.warnings) != 2 || !strings.Contains(res.rec.warnings[0], "AUTH LOGIN rejected: 535") ||
			res.rec.outcomes[1] != Accepted {
			t.Fatalf("-A: err %v warnings %q outcomes %v", res.err, res.rec.warnings, res.rec.outcomes)
		}
	}
}

func TestRoundRobin(t *testing.T) {
	rr := NewRoundRobin([]Credential{{"a", "1"}, {"b", "2"}, {"c", "3"}})
	var got []string
	for i := 0; i < 7; i++ {
		got = append(got, rr.Credential().User)
	}
	if strings.Join(got, "") != "abcabca" {
		t.Fatalf("%v", got)
	}
}
