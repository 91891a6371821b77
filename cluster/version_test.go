package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"testing"

	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// A build without a clean VCS stamp (this test binary has none) is named by the SHA-256
// of its executable, after the protocol's and the formats' versions; the version is the
// same at every call.
func TestVersionNamesTheBuild(t *testing.T) {
	v, err := Version()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	want := fmt.Sprintf("go-smtp-source proto %d plan %d report %d build sha256:%s",
		ProtocolVersion, plan.SchemaVersion, metrics.ReportSchemaVersion, hex.EncodeToString(sum[:])[:16])
	if v != want {
		t.Errorf("version %q, want %q", v, want)
	}
	if again, _ := Version(); again != v {
		t.Errorf("versions %q, %q", v, again)
	}
}
