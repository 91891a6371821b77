package testpeer

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPeersInstalled fails under CI=true for every peer in .ci/peers this machine lacks,
// naming its Debian package (make test installs them first, so a package the list names
// but the install missed is found here, not by a user). Outside CI it only reports.
func TestPeersInstalled(t *testing.T) {
	list, err := Peers()
	if err != nil {
		t.Fatal(err)
	}
	var lacking []string
	for _, p := range list {
		for _, c := range p.Checks {
			if _, ok := present(c); !ok {
				lacking = append(lacking, p.Package)
				if os.Getenv("CI") != "" {
					t.Errorf("%s missing: Debian package %s (make deps installs it)", c, p.Package)
				}
				break
			}
		}
	}
	// .ci/deps reads the same file with its own parser: both must see the same gaps.
	out, _ := exec.Command(filepath.Join(ModuleRoot(t), ".ci", "deps"), "--check").Output()
	if got := strings.Fields(string(out)); !slices.Equal(got, lacking) {
		t.Errorf(".ci/deps --check says missing %q, testpeer says %q", got, lacking)
	}
	if len(lacking) > 0 && os.Getenv("CI") == "" {
		t.Skipf("not installed: %s (make deps installs them as root)", strings.Join(lacking, " "))
	}
}

// TestSwaksSupport asks swaks itself whether it can do what the suite uses it for: a swaks
// without its Perl modules still runs, and fails every TLS case as if the server were wrong.
func TestSwaksSupport(t *testing.T) {
	bin := Require(t, "swaks")
	out, _ := exec.Command(bin, "--support").CombinedOutput()
	for feature, module := range map[string]string{
		"TLS": "Net::SSLeay", "AUTH CRAM-MD5": "Digest::MD5", "AUTH CRAM-SHA1": "Digest::SHA", "Basic AUTH": "MIME::Base64",
	} {
		if strings.Contains(string(out), "=== "+feature+" supported") {
			continue
		}
		pkg := packageOf(t, "perl:"+module)
		if os.Getenv("CI") != "" {
			t.Errorf("swaks --support: %s not supported (Debian package %s)", feature, pkg)
		} else {
			t.Logf("swaks --support: %s not supported (Debian package %s)", feature, pkg)
		}
	}
}

func TestReadPeers(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ text, err string }{
		{"a cmd:x perl:Y # note\n\n# only a comment\nb cmd:z\n", ""},
		{"lonely\n", "at least one"},
		{"pkg bin:x\n", "unknown check"},
	} {
		path := filepath.Join(dir, "peers")
		if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		list, err := readPeers(path)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.text, err, tc.err)
			}
			continue
		}
		want := []Peer{{"a", []string{"cmd:x", "perl:Y"}}, {"b", []string{"cmd:z"}}}
		if err != nil || len(list) != 2 || !slices.Equal(list[0].Checks, want[0].Checks) || list[1].Package != "b" {
			t.Errorf("%q: %+v, %v", tc.text, list, err)
		}
	}
}

func TestSwaksModules(t *testing.T) {
	got := swaksModules([]string{"--to", "a@b", "--tls", "--auth", "cram-md5", "--auth-user", "u"})
	if !slices.Equal(got, []string{"Net::SSLeay", "Digest::MD5"}) {
		t.Errorf("modules %q", got)
	}
	if got := swaksModules([]string{"--tlsc", "-a", "LOGIN"}); !slices.Equal(got, []string{"Net::SSLeay", "MIME::Base64"}) {
		t.Errorf("modules %q", got)
	}
}
