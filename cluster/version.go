package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/go-smtp-source/go-smtp-source/metrics"
	"github.com/go-smtp-source/go-smtp-source/plan"
)

// Version is what a coordinator and a joining worker compare: they must speak the same
// protocol, read the same plans, write the same result documents and reports, and be the
// same build. The formats' versions alone would let two builds whose code differs
// without a version bump join (a report field renamed: the live view sums zeros), and
// the VCS stamp alone tells nothing when there is none (-buildvcs=false, a tarball, a
// container build without .git) or when the tree was modified. So the build is named by
// its revision only when stamped with an unmodified one (then builds of one commit for
// different machines join each other), with its -tags and -ldflags; otherwise by the
// SHA-256 of this executable, read once per call (the command line calls it once).
func Version() (string, error) {
	v := fmt.Sprintf("go-smtp-source proto %d plan %d report %d", ProtocolVersion, plan.SchemaVersion, metrics.ReportSchemaVersion)
	if rev, ok := cleanRevision(); ok {
		return v + " " + rev, nil
	}
	sum, err := executableSum()
	if err != nil {
		return "", fmt.Errorf("version: %w", err)
	}
	return v + " build sha256:" + sum[:16], nil
}

// cleanRevision is the build's VCS revision and build flags, when it was stamped with
// an unmodified tree.
func cleanRevision() (string, bool) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", false
	}
	settings := make(map[string]string)
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	rev := settings["vcs.revision"]
	if rev == "" || settings["vcs.modified"] != "false" {
		return "", false
	}
	parts := []string{"rev " + rev}
	for _, key := range []string{"-tags", "-ldflags"} {
		if settings[key] != "" {
			parts = append(parts, key+"="+settings[key])
		}
	}
	return strings.Join(parts, " "), true
}

// executableSum is the hex SHA-256 of the running executable's bytes.
func executableSum() (string, error) {
	path, err := os.Executable()
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
