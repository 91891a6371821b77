// Package buildinfo says which build of a program is running, for --version and for
// result documents.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is "TOOL VERSION (REVISION[, modified], GOVERSION)" from the build's
// information: the module version ("(devel)" for a build from a work tree) and the
// version control revision when the build recorded it.
func Version(tool string) string {
	v, extra := "(unknown)", []string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision":
				extra = append(extra, s.Value)
			case s.Key == "vcs.modified" && s.Value == "true":
				extra = append(extra, "modified")
			}
		}
	}
	extra = append(extra, runtime.Version())
	return tool + " " + v + " (" + strings.Join(extra, ", ") + ")"
}
