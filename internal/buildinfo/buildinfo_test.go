package buildinfo

import (
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	v := Version("go-smtp-source")
	if !strings.HasPrefix(v, "go-smtp-source ") || !strings.HasSuffix(v, runtime.Version()+")") {
		t.Fatalf("%q", v)
	}
}
