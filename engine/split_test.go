package engine

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
	"github.com/go-smtp-source/go-smtp-source/protocol"
)

// transcriptConfig is the engine configuration of a shared transcript: one session, so
// that the connections follow each other as in the transcript.
func transcriptConfig(t *testing.T, tr testpeer.Transcript, addr string) Config {
	t.Helper()
	target, err := ParseTarget(addr)
	if err != nil {
		t.Fatal(err)
	}
	p := protocol.Config{Hostname: "vm", LMTP: tr.Client.LMTP, Pipelining: tr.Client.Pipelining,
		ReuseConnection: tr.Client.ReuseConnection, AllowReject: tr.Client.AllowReject, ImplicitTLS: tr.Client.ImplicitTLS}
	switch tr.Client.TLS {
	case "may":
		p.TLS = protocol.TLSMay
	case "required":
		p.TLS = protocol.TLSRequired
	}
	if tr.Client.AuthMech != "" {
		p.Auth = &protocol.AuthConfig{Mechanism: tr.Client.AuthMech, Insecure: tr.Client.AuthInsecure,
			Credentials: protocol.NewRoundRobin([]protocol.Credential{{User: testpeer.TranscriptUser, Password: testpeer.TranscriptPass}})}
	}
	switch tr.Client.Greeting {
	case "EHLO":
		p.Greeting = protocol.GreetEHLO
	case "LHLO":
		p.Greeting = protocol.GreetLHLO
	case "none":
		p.Greeting = protocol.GreetNone
	}
	spec := protocol.MessageSpec{Sender: "foo@vm", Recipient: "foo@vm", Recipients: max(1, tr.Message.Recipients),
		Headers: !tr.Message.NoHeaders, Hostname: "vm", Date: testpeer.TranscriptDate, PID: 0x1eb4,
		Content: protocol.DefaultContent()}
	if tr.Message.Numbering37 {
		spec.Numbering = protocol.NumberingPostfix37
	}
	p.Template = protocol.NewTemplate(spec)
	cfg := resolved(t, target)
	cfg.Sessions, cfg.Messages, cfg.Protocol, cfg.Timeout, cfg.ConnectTimeout = 1, int64(tr.Messages), p, 10*time.Second, 10*time.Second
	return cfg
}

// outcomes is what a Result says about a transcript's messages: the number of each
// letter of Transcript.Outcomes, in the order a, r, f, then the messages not started.
func outcomes(r Result) string {
	return fmt.Sprintf("%da %dr %df %d-", r.Accepted, r.Rejected, r.Failed, r.NotStarted)
}

func wantOutcomes(tr testpeer.Transcript) string {
	n := func(c string) int { return strings.Count(tr.Outcomes, c) }
	return fmt.Sprintf("%da %dr %df %d-", n("a"), n("r"), n("f"), tr.Messages-len(tr.Outcomes))
}

// TestTranscriptsSplitAtEveryByte: the protocol tests' transcripts through the real
// engine, every reply reaching it one byte per read. A reply split across reads is kept
// until it is whole: the engine sends exactly what protocol.Client sends in memory, and
// the run ends the same way.
func TestTranscriptsSplitAtEveryByte(t *testing.T) {
	ca := testpeer.NewCA(t, "transcripts CA")
	leaf := ca.Issue(t, testpeer.LocalhostSpec())
	for _, tr := range testpeer.ClientTranscripts {
		t.Run(tr.Name, func(t *testing.T) {
			// Over TLS, every byte is a record of its own.
			srv := testpeer.StartScripted(t, testpeer.ScriptedOptions{Script: tr.Server, Unix: true, SplitEveryByte: true,
				TLS: &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}, ImplicitTLS: tr.Client.ImplicitTLS})
			cfg := transcriptConfig(t, tr, srv.Addr)
			if tr.Client.TLS != "" || tr.Client.ImplicitTLS {
				cfg.TLS = &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"}
			}
			ev := &events{}
			cfg.Events = ev
			res, err := runConfig(context.Background(), cfg)
			if tr.Fatal == "" && err != nil || tr.Fatal != "" && (err == nil || err.Error() != tr.Fatal) {
				t.Fatalf("error %v, want %q", err, tr.Fatal)
			}
			if err := srv.WaitEnded(5 * time.Second); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(srv.Received(), ""); got != tr.Want {
				t.Fatalf("client sent\n%q\nwant\n%q", got, tr.Want)
			}
			checkAccounting(t, res)
			if got, want := outcomes(res), wantOutcomes(tr); got != want {
				t.Fatalf("outcomes %s, want %s", got, want)
			}
			if len(ev.warnings) != tr.Warnings {
				t.Fatalf("warnings %q, want %d", ev.warnings, tr.Warnings)
			}
		})
	}
}
