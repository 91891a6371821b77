package main

import (
	"strings"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/internal/testpeer"
)

// The manual documents every option --help lists, each heading an item of the rendered
// page: a new option fails this test until the page has an entry for it.
func TestManPageDocumentsEveryOption(t *testing.T) {
	page := testpeer.ManPage(t, "go-smtp-sink.1")
	testpeer.CheckManDocuments(t, page, "--help", sinkHelp(t))
	for _, want := range []string{"go-smtp-sink completion", "EXIT STATUS", "EXAMPLES", "FILES", "smtp-sink(1)", "go-smtp-source(1)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the man page lacks %q", want)
		}
	}
}

// mandoc -Tlint finds nothing in the page, but for what it says of the machine: a
// referenced manual not installed here, the state of its database.
func TestManPageLint(t *testing.T) {
	testpeer.LintManPage(t, "go-smtp-sink.1")
}
