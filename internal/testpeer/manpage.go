package testpeer

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ManPage is man/NAME as mandoc renders it, without the overstrikes of bold and
// underline: the text a reader sees.
func ManPage(t testing.TB, name string) string {
	t.Helper()
	mandoc := Require(t, "mandoc")
	page := filepath.Join(ModuleRoot(t), "man", name)
	out, err := exec.Command(mandoc, "-Tascii", "-Owidth=120", page).Output()
	if err != nil {
		t.Fatalf("mandoc %s: %v", page, err)
	}
	return regexp.MustCompile(".\b").ReplaceAllString(string(out), "")
}

// helpOptionRE finds the options a help lists: "  -s, --sessions count" or "      --json file".
var helpOptionRE = regexp.MustCompile(`(?m)^ {2,6}(?:-([[:alnum:]]), )?--([a-z0-9][a-z0-9-]*)`)

// CheckManDocuments fails for each option of help (the output of what) that heads no
// item of the rendered page (a line of it that begins with options).
func CheckManDocuments(t testing.TB, page, what, help string) {
	t.Helper()
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
	for _, m := range helpOptionRE.FindAllStringSubmatch(help, -1) {
		if !headed("--" + m[2]) {
			t.Errorf("%s lists --%s: man page has no entry for it (add an .It Fl \\-%s to its section)", what, m[2], m[2])
		}
		if m[1] != "" && !headed("-"+m[1]) {
			t.Errorf("%s lists -%s: man page has no entry for it", what, m[1])
		}
	}
}

// LintManPage fails for each finding of mandoc -Tlint in man/NAME, but for what it says
// of the machine rather than of the page: a referenced manual that is not installed here
// (these pages before make install, Postfix's when a minimal image drops documentation)
// and the state of mandoc's own database.
func LintManPage(t testing.TB, name string) {
	t.Helper()
	mandoc := Require(t, "mandoc")
	page := filepath.Join(ModuleRoot(t), "man", name)
	out, _ := exec.Command(mandoc, "-Tlint", "-Wstyle", page).CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" || strings.Contains(line, "referenced manual not found") || strings.Contains(line, "mandoc.db") {
			continue
		}
		t.Errorf("mandoc -Tlint: %s", line)
	}
}
