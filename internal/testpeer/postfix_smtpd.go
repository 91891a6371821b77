package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// PostfixSMTPD is Postfix's own smtpd, under its master, started from a throwaway
// configuration directory: a real MTA with STARTTLS that discards all mail.
type PostfixSMTPD struct {
	*Process
	Addr string // 127.0.0.1:port
	Dir  string // configuration, queue and data directories live here
}

// StartPostfixSMTPD starts Postfix's master in the foreground (master -d) with smtpd on a
// free loopback port, STARTTLS offered with the given certificate and key (PEM), relaying
// for 127.0.0.0/8 and delivering everything to the discard transport. It needs root
// (master drops privileges to the postfix user itself); elsewhere the test is skipped, in
// CI it fails. The master is stopped by its PID when the test ends.
func StartPostfixSMTPD(t testing.TB, certPEM, keyPEM []byte, extraMainCF ...string) *PostfixSMTPD {
	t.Helper()
	return StartPostfixSMTPDLimited(t, certPEM, keyPEM, 100, extraMainCF...)
}

// StartPostfixSMTPDLimited is StartPostfixSMTPD with at most processes smtpd processes:
// a server that can be loaded past what it serves (connections beyond wait in the listen
// queue, ungreeted, as when a real one falls behind).
func StartPostfixSMTPDLimited(t testing.TB, certPEM, keyPEM []byte, processes int, extraMainCF ...string) *PostfixSMTPD {
	t.Helper()
	postfix := Require(t, "postfix")
	postconf := Require(t, "postconf")
	if os.Geteuid() != 0 {
		msg := "Postfix's master must start as root to run smtpd; not root"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	owner, err := user.Lookup("postfix")
	if err != nil {
		t.Fatalf("postfix user: %v", err)
	}
	uid, _ := strconv.Atoi(owner.Uid)
	out, err := exec.Command(postconf, "-d", "-h", "daemon_directory").Output()
	if err != nil {
		t.Fatalf("postconf -d -h daemon_directory: %v", err)
	}
	daemonDir := strings.TrimSpace(string(out))

	dir, err := os.MkdirTemp("", "gss-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf, queue, data := filepath.Join(dir, "conf"), filepath.Join(dir, "queue"), filepath.Join(dir, "data")
	for _, d := range []string{conf, queue, data} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(data, uid, -1); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	mainCF := []string{
		"compatibility_level = 3.6",
		"queue_directory = " + queue,
		"data_directory = " + data,
		"daemon_directory = " + daemonDir,
		"shlib_directory = no",
		"mail_owner = postfix",
		"setgid_group = postdrop",
		"myhostname = smtpd.test",
		"mydomain = test",
		"mydestination =",
		"inet_protocols = ipv4",
		"mynetworks = 127.0.0.0/8",
		"smtpd_relay_restrictions = permit_mynetworks, reject",
		// Every message, whatever its recipient, is accepted and thrown away.
		"default_transport = discard", "local_transport = discard", "relay_transport = discard", "virtual_transport = discard",
		"alias_maps =", "alias_database =", "smtputf8_enable = no", "biff = no",
		"smtpd_tls_security_level = may",
		"smtpd_tls_cert_file = " + certFile,
		"smtpd_tls_key_file = " + keyFile,
		// Load from one client address: no per-client limits.
		"smtpd_client_connection_count_limit = 0", "smtpd_client_connection_rate_limit = 0",
		"default_process_limit = 200",
		// Its log, for tests that check what smtpd saw (PostfixSMTPD.Log).
		"maillog_file = " + filepath.Join(dir, "maillog"), "maillog_file_prefixes = " + dir,
	}
	mainCF = append(mainCF, extraMainCF...)
	masterCF := []string{
		fmt.Sprintf("127.0.0.1:%d inet n - n - %d smtpd", port, processes),
		"cleanup unix n - n - 0 cleanup",
		"qmgr unix n - n 300 1 qmgr",
		"rewrite unix - - n - - trivial-rewrite",
		"bounce unix - - n - 0 bounce",
		"defer unix - - n - 0 bounce",
		"trace unix - - n - 0 bounce",
		"verify unix - - n - 1 verify",
		"proxymap unix - - n - - proxymap",
		"showq unix n - n - - showq",
		"error unix - - n - - error",
		"retry unix - - n - - error",
		"discard unix - - n - - discard",
		"anvil unix - - n - 1 anvil",
		"scache unix - - n - 1 scache",
		"tlsmgr unix - - n 1000? 1 tlsmgr",
		"postlog unix-dgram n - n - 1 postlogd",
	}
	write := func(name string, lines []string) {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.cf", mainCF)
	write("master.cf", masterCF)
	// postfix check creates the queue's subdirectories with their owners and modes.
	if res := Run(t, 30*time.Second, postfix, "-c", conf, "check"); res.ExitCode != 0 {
		t.Fatalf("postfix -c %s check: %v", conf, res)
	}
	p := &PostfixSMTPD{Process: Start(t, filepath.Join(daemonDir, "master"), "-c", conf, "-d"),
		Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir}
	if err := WaitAccepting(p.Addr, 15*time.Second); err != nil {
		t.Fatalf("postfix master: %v; stderr: %s", err, p.Stderr.String())
	}
	return p
}
