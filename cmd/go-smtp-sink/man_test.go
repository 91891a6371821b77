package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// The manual documents every option --help lists, each heading an item of the rendered
// page: a new option fails this test until the page has an entry for it.
func TestManPageDocumentsEveryOption(t *testing.T) {
	mandoc := testpeer.Require(t, "mandoc")
	file := filepath.Join(testpeer.ModuleRoot(t), "man", "go-smtp-sink.1")
	out, err := exec.Command(mandoc, "-Tascii", "-Owidth=120", file).Output()
	if err != nil {
		t.Fatalf("mandoc %s: %v", file, err)
	}
	page := regexp.MustCompile(".\b").ReplaceAllString(string(out), "")
	var heads []string
	for _, line := range strings.Split(page, "\n") {
		if trimmed := strings.TrimLeft(line, " "); strings.HasPrefix(trimmed, "-") {
			heads = append(heads, " "+trimmed+" ")
		}
	}
	headed := func(option string) bool {
		re := regexp.MustCompile(`[\s,\[(]` + regexp.QuoteMeta(option) + `([^a-zA-Z0-9-]|$)`)
		for _, h := range heads {
			if re.MatchString(h) {
				return true
			}
		}
		return false
	}
	help := sinkHelp(t)
	re := regexp.MustCompile(`(?m)^ {2,6}(?:-([[:alnum:]]), )?--([a-z0-9][a-z0-9-]*)`)
	for _, m := range re.FindAllStringSubmatch(help, -1) {
		if !headed("--" + m[2]) {
			t.Errorf("--help lists --%s: man page has no entry for it (add an .It Fl \\-%s to its section)", m[2], m[2])
		}
		if m[1] != "" && !headed("-"+m[1]) {
			t.Errorf("--help lists -%s: man page has no entry for it", m[1])
		}
	}
	for _, want := range []string{"go-smtp-sink completion", "EXIT STATUS", "EXAMPLES", "FILES", "smtp-sink(1)", "go-smtp-source(1)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the man page lacks %q", want)
		}
	}
}

// mandoc -Tlint finds nothing in the page, but for what it says of the machine: a
// referenced manual not installed here, the state of its database.
func TestManPageLint(t *testing.T) {
	mandoc := testpeer.Require(t, "mandoc")
	file := filepath.Join(testpeer.ModuleRoot(t), "man", "go-smtp-sink.1")
	out, _ := exec.Command(mandoc, "-Tlint", "-Wstyle", file).CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && !strings.Contains(line, "referenced manual not found") && !strings.Contains(line, "mandoc.db") {
			t.Errorf("mandoc -Tlint: %s", line)
		}
	}
}
