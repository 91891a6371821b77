package testpeer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CompleteBash loads the script in bash as a user's shell would, finds the function
// `complete -p` registered for the program, drives it with COMP_WORDS/COMP_CWORD and
// returns COMPREPLY, one reply a line.
func CompleteBash(t testing.TB, script, program string, words ...string) []string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash (Debian's essential shell) is not on PATH")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "completion.bash")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	driver := `source "$1"; shift
spec=$(complete -p "$1") || exit 3
fn=${spec#*-F }; fn=${fn%% *}
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
"$fn"
printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.Command(bash, append([]string{"--norc", "--noprofile", "-c", driver, "bash", file, program}, words[1:]...)...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "HOSTFILE="+hosts)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash completion of %q: %v\n%s", words, err, out)
	}
	var reply []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			reply = append(reply, l)
		}
	}
	return reply
}
