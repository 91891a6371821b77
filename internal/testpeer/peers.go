package testpeer

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Peer is one line of .ci/peers: a Debian package and what the tests use of it.
type Peer struct {
	Package string
	Checks  []string // "cmd:NAME" or "perl:MODULE"
}

// peersFile is the one list of test peers; .ci/deps installs from the same file.
const peersFile = ".ci/peers"

var peers struct {
	once sync.Once
	list []Peer
	err  error
}

// Peers reads .ci/peers once per test binary.
func Peers() ([]Peer, error) {
	peers.once.Do(func() {
		_, file, _, ok := runtime.Caller(0)
		if !ok {
			peers.err = fmt.Errorf("cannot locate %s", peersFile)
			return
		}
		path := filepath.Join(filepath.Dir(file), "..", "..", peersFile)
		peers.list, peers.err = readPeers(path)
	})
	return peers.list, peers.err
}

func readPeers(path string) ([]Peer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var list []Peer
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("%s:%d: a package needs at least one cmd: or perl: check", path, n)
		}
		for _, c := range fields[1:] {
			if !strings.HasPrefix(c, "cmd:") && !strings.HasPrefix(c, "perl:") {
				return nil, fmt.Errorf("%s:%d: unknown check %q (cmd:NAME or perl:MODULE)", path, n, c)
			}
		}
		list = append(list, Peer{Package: fields[0], Checks: fields[1:]})
	}
	return list, sc.Err()
}

// packageOf names the Debian package that provides check, failing the test when .ci/peers
// does not list it: every peer a test uses must be one that .ci/deps installs.
func packageOf(t testing.TB, check string) string {
	t.Helper()
	list, err := Peers()
	if err != nil {
		t.Fatalf("test peers: %v", err)
	}
	for _, p := range list {
		for _, c := range p.Checks {
			if c == check {
				return p.Package
			}
		}
	}
	t.Fatalf("the test uses %s, which %s does not list: add its Debian package there so .ci/deps installs it", check, peersFile)
	return ""
}

// present runs one check of .ci/peers on this machine; for a program it also returns its path.
func present(check string) (string, bool) {
	kind, name, _ := strings.Cut(check, ":")
	switch kind {
	case "cmd":
		if path, err := exec.LookPath(name); err == nil {
			return path, true
		}
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"} {
			p := filepath.Join(dir, name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				return p, true
			}
		}
		return "", false
	case "perl":
		return "", exec.Command("perl", "-M"+name, "-e", "1").Run() == nil
	}
	return "", false
}

// missing skips the test naming the package to install, or, under CI=true (where make test
// has installed every peer), fails it: a broken install never turns into a green run that
// tested nothing.
func missing(t testing.TB, what, pkg string) {
	t.Helper()
	msg := fmt.Sprintf("%s not installed (Debian package %s: make deps, or apt-get install %s)", what, pkg, pkg)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Require returns the path of an external program the test needs, which .ci/peers must
// list. A missing program skips the test naming its package, or fails it under CI=true.
func Require(t testing.TB, name string) string {
	t.Helper()
	pkg := packageOf(t, "cmd:"+name)
	path, ok := present("cmd:" + name)
	if !ok {
		missing(t, name, pkg)
	}
	return path
}

// RequirePerl checks that a Perl module a peer loads (swaks's TLS and AUTH) is installed,
// as Require does for programs.
func RequirePerl(t testing.TB, module string) {
	t.Helper()
	pkg := packageOf(t, "perl:"+module)
	if _, ok := present("perl:" + module); !ok {
		missing(t, "Perl module "+module, pkg)
	}
}
