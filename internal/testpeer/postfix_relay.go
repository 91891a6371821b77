package testpeer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// PostfixRelay is Postfix's smtpd, started as StartPostfixSMTPD does, that relays every
// message to one SMTP server (relayhost) with Postfix's own smtp client, through its
// queue: the MTA of end-to-end tests.
type PostfixRelay struct {
	*PostfixSMTPD
	Conf    string // the configuration directory (postfix -c, postqueue -c)
	MailLog string // Postfix's log (maillog_file), in the test's directory
}

// RelayOptions shape a PostfixRelay.
type RelayOptions struct {
	// HeaderChecks are regexp header_checks(5) lines ("/^X-Trace: .* 7$/ DISCARD").
	HeaderChecks []string
	// Retry, when set, is about how soon a deferred message is tried again: how often
	// the deferred queue is scanned (queue_run_delay), in whole seconds; the backoff
	// (minimal_backoff_time, maximal_backoff_time) is one second more (see
	// retrySettings). Postfix's defaults are minutes.
	Retry time.Duration
	// MainCF are more main.cf settings (they override the ones before).
	MainCF []string
}

// StartPostfixRelay starts a Postfix that accepts mail from 127.0.0.0/8 and relays all
// of it to relayTo (host:port) through its queue, logging into its directory. Root is
// needed, as for StartPostfixSMTPD; the master is stopped by its PID when the test ends.
func StartPostfixRelay(t testing.TB, relayTo string, o RelayOptions) *PostfixRelay {
	t.Helper()
	ca := NewCA(t, "relay CA")
	leaf := ca.Issue(t, LocalhostSpec())
	logDir := WritableDir(t)
	r := &PostfixRelay{MailLog: filepath.Join(logDir, "maillog")}
	mainCF := []string{
		"relayhost = [" + strings.Replace(relayTo, ":", "]:", 1),
		// Every message goes out with the smtp client, to the relayhost.
		"default_transport = smtp", "relay_transport = smtp",
		"smtp_tls_security_level = none",
		// Accept at the client's pace: no smtpd pause when the queue manager lags.
		"in_flow_delay = 0",
		"maillog_file = " + r.MailLog, "maillog_file_prefixes = " + logDir,
	}
	if o.Retry > 0 {
		mainCF = append(mainCF, retrySettings(o.Retry)...)
	}
	if len(o.HeaderChecks) > 0 {
		checks := filepath.Join(logDir, "header_checks")
		if err := os.WriteFile(checks, []byte(strings.Join(o.HeaderChecks, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		mainCF = append(mainCF, "header_checks = regexp:"+checks)
	}
	masterCF := []string{
		"smtp unix - - n - - smtp",
		"postlog unix-dgram n - n - 1 postlogd",
	}
	smtpd := startPostfixSMTPD(t, leaf.CertPEM, leaf.KeyPEM, 100, append(mainCF, o.MainCF...), masterCF)
	r.PostfixSMTPD, r.Conf = smtpd, filepath.Join(smtpd.Dir, "conf")
	return r
}

// retrySettings retries deferred mail after about retry. Postfix stamps a deferred
// message's next attempt in whole seconds, and its queue manager, finding a message due
// that the delivery agent has not yet let go of ("skipped, still being delivered"),
// puts it off for 60 s: a backoff one second longer than the scan interval leaves the
// agent at least a second.
func retrySettings(retry time.Duration) []string {
	scan := max(1, int((retry+time.Second-1)/time.Second))
	return []string{fmt.Sprintf("queue_run_delay = %ds", scan),
		fmt.Sprintf("minimal_backoff_time = %ds", scan+1), fmt.Sprintf("maximal_backoff_time = %ds", scan+1)}
}

// Release lets the messages on hold (a header_checks HOLD) go: postsuper -H ALL.
func (r *PostfixRelay) Release(t testing.TB) {
	t.Helper()
	postsuper := Require(t, "postsuper")
	if res := Run(t, 30*time.Second, postsuper, "-c", r.Conf, "-H", "ALL"); res.ExitCode != 0 {
		t.Fatalf("postsuper -H ALL: %v", res)
	}
}

// QueueEmpty reports whether the relay's queue holds no message (none incoming, active,
// deferred or on hold): everything accepted has been delivered or discarded.
func (r *PostfixRelay) QueueEmpty() (bool, error) {
	for _, q := range []string{"incoming", "active", "deferred", "hold", "maildrop"} {
		found := false
		err := filepath.WalkDir(filepath.Join(r.Dir, "queue", q), func(_ string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				found = true
				return filepath.SkipAll
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			return false, err
		}
		if found {
			return false, nil
		}
	}
	return true, nil
}

// WaitQueueEmpty waits until the relay's queue is empty, at most within.
func (r *PostfixRelay) WaitQueueEmpty(within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		empty, err := r.QueueEmpty()
		if err != nil {
			return err
		}
		if empty {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postfix: the queue still holds mail after %v", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Log is Postfix's log so far (for a failing test's message).
func (r *PostfixRelay) Log() string {
	b, _ := os.ReadFile(r.MailLog)
	return string(b)
}
