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
// loopback port of its own, STARTTLS offered with the given certificate and key (PEM), relaying
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
	return startPostfixSMTPD(t, certPEM, keyPEM, processes, extraMainCF, nil)
}

// startPostfixSMTPD is StartPostfixSMTPDLimited with master.cf services added
// (extraMasterCF); extraMainCF's settings replace the defaults of the same name.
func startPostfixSMTPD(t testing.TB, certPEM, keyPEM []byte, processes int, extraMainCF, extraMasterCF []string) *PostfixSMTPD {
	t.Helper()
	Require(t, "postfix")
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
	mainCF = append(overridden(mainCF, extraMainCF), extraMainCF...)
	masterCF := []string{
		fmt.Sprintf("127.0.0.1:0 inet n - n - %d smtpd", processes), // the master binds port 0; the test reads which from /proc
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
	masterCF = append(masterCF, extraMasterCF...)
	write := func(name string, lines []string) {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.cf", mainCF)
	write("master.cf", masterCF)
	if err := makeQueueDirs(queue, uid); err != nil {
		t.Fatal(err)
	}
	p := &PostfixSMTPD{Process: Start(t, filepath.Join(daemonDir, "master"), "-c", conf, "-d"), Dir: dir}
	p.Addr = WaitListening(t, p.Process, 15*time.Second)
	return p
}

// overridden is defaults without the settings extra gives again (Postfix takes the last
// one of a name, but warns about each on every command).
func overridden(defaults, extra []string) []string {
	names := map[string]bool{}
	for _, e := range extra {
		name, _, _ := strings.Cut(e, "=")
		names[strings.TrimSpace(name)] = true
	}
	var out []string
	for _, d := range defaults {
		name, _, _ := strings.Cut(d, "=")
		if !names[strings.TrimSpace(name)] {
			out = append(out, d)
		}
	}
	return out
}

// makeQueueDirs creates the queue's directories with the owners and modes of Postfix's
// postfix-files, as `postfix check` would, without its scripts: under a loaded machine
// they took 8 to 15 s of every start. The hashed subdirectories Postfix makes itself.
func makeQueueDirs(queue string, mailOwner int) error {
	group, err := user.LookupGroup("postdrop")
	if err != nil {
		return fmt.Errorf("postdrop group: %w", err)
	}
	postdrop, _ := strconv.Atoi(group.Gid)
	dirs := []struct {
		name     string
		uid, gid int
		mode     os.FileMode
	}{
		{"pid", 0, -1, 0o755}, {"public", mailOwner, postdrop, 0o710}, {"maildrop", mailOwner, postdrop, 0o730},
	}
	for _, name := range []string{"active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "private", "saved", "trace"} {
		dirs = append(dirs, struct {
			name     string
			uid, gid int
			mode     os.FileMode
		}{name, mailOwner, -1, 0o700})
	}
	for _, d := range dirs {
		path := filepath.Join(queue, d.name)
		if err := os.Mkdir(path, d.mode); err != nil {
			return err
		}
		if err := os.Chown(path, d.uid, d.gid); err != nil {
			return err
		}
		if err := os.Chmod(path, d.mode); err != nil { // past the umask
			return err
		}
	}
	return nil
}
