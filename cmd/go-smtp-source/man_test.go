package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// The manual documents every option of -h and of each subcommand's -h, and every
// subcommand: a new option fails this test until the page has an entry for it.
func TestManPageDocumentsEveryOption(t *testing.T) {
	page := testpeer.ManPage(t, "go-smtp-source.1")
	help := helpOutput(t, "-h")
	testpeer.CheckManDocuments(t, page, "-h", help)
	subs := help[strings.Index(help, "\nSubcommands:\n"):]
	subs = subs[:strings.Index(subs, "\n\n")]
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z]+) `).FindAllStringSubmatch(subs, -1) {
		if !strings.Contains(page, "go-smtp-source "+m[1]) {
			t.Errorf("-h lists the subcommand %s: the man page's synopsis does not", m[1])
		}
		testpeer.CheckManDocuments(t, page, m[1]+" -h", helpOutput(t, m[1], "-h"))
	}
	for _, want := range []string{"EXIT STATUS", "EXAMPLES", "FILES", "SEE ALSO", "smtp-source(1)", "smtp-sink(1)", "go-smtp-sink(1)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the man page lacks %q", want)
		}
	}
}

// mandoc -Tlint finds nothing in the page. What it says of the machine rather than of
// the page is left out: a referenced manual that is not installed here (these pages
// before make install, Postfix's when a minimal image drops documentation) and the
// state of its own database.
func TestManPageLint(t *testing.T) {
	testpeer.LintManPage(t, "go-smtp-source.1")
}

// make install puts both commands and both pages under DESTDIR/PREFIX; the installed
// binary runs and man(1) renders the installed pages.
func TestMakeInstall(t *testing.T) {
	makePath, err := exec.LookPath("make")
	if err != nil {
		t.Fatal("make is not on PATH (the project is built with it)")
	}
	dest := t.TempDir()
	cmd := exec.Command(makePath, "install", "DESTDIR="+dest, "PREFIX=/opt/gss", "BIN="+filepath.Join(dest, "build"))
	cmd.Dir = testpeer.ModuleRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	for file, mode := range map[string]os.FileMode{
		"opt/gss/bin/go-smtp-source": 0o755, "opt/gss/bin/go-smtp-sink": 0o755,
		"opt/gss/share/man/man1/go-smtp-source.1": 0o644, "opt/gss/share/man/man1/go-smtp-sink.1": 0o644,
	} {
		if st, err := os.Stat(filepath.Join(dest, file)); err != nil {
			t.Errorf("make install did not install %s: %v", file, err)
		} else if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", file, st.Mode().Perm(), mode)
		}
	}
	res := testpeer.Run(t, 10*time.Second, filepath.Join(dest, "opt/gss/bin/go-smtp-source"), "--version")
	if res.ExitCode != 0 || !strings.HasPrefix(res.Stdout, "go-smtp-source ") {
		t.Errorf("installed go-smtp-source --version: exit %d, %q", res.ExitCode, res.Stdout)
	}
	man, err := exec.LookPath("man")
	if err != nil {
		t.Log("man(1) not installed: the pages were rendered by mandoc only")
		return
	}
	for _, page := range []string{"go-smtp-source", "go-smtp-sink"} {
		cmd := exec.Command(man, "-l", filepath.Join(dest, "opt/gss/share/man/man1", page+".1"))
		cmd.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=80")
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), "NAME") || !strings.Contains(string(out), page) {
			t.Errorf("man -l %s: %v\n%s", page, err, out)
		}
	}
}
