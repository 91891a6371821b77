package deploy

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// repoRoot is the repository, the Docker build context.
const repoRoot = ".."

// instruction is one Dockerfile instruction, its continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, …
	rest string
}

// stage is one FROM of a multi-stage Dockerfile.
type stage struct {
	from, name string
	ins        []instruction
}

func parseDockerfile(file string) ([]stage, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var stages []stage
	var cur strings.Builder
	start := 0
	for i, l := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(l)
		if trimmed == "" && cur.Len() == 0 || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, rest, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		cmd, rest = strings.ToUpper(cmd), strings.TrimSpace(rest)
		if cmd == "FROM" {
			f := strings.Fields(rest)
			s := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			return nil, fmt.Errorf("%s:%d: %s before FROM", file, start, cmd)
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, instruction{start, cmd, rest})
	}
	return stages, nil
}

// readDockerignore returns .dockerignore's patterns. Only what ignored implements is
// accepted: no exceptions (!) and no **.
func readDockerignore(file string) ([]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "!") || strings.Contains(l, "**") {
			return nil, fmt.Errorf("%s: pattern %q: this test does not implement ! or **", file, l)
		}
		patterns = append(patterns, path.Clean(strings.TrimPrefix(l, "/")))
	}
	return patterns, nil
}

// ignored is Docker's rule: a path is left out of the context when a pattern matches it or
// one of its parent directories (patterns are relative to the context's root).
func ignored(rel string, patterns []string) bool {
	for p := filepath.ToSlash(rel); p != "." && p != "/"; p = path.Dir(p) {
		for _, pat := range patterns {
			if ok, _ := path.Match(pat, p); ok {
				return true
			}
		}
	}
	return false
}

// copyContext copies the build context, less what .dockerignore leaves out, to dst.
func copyContext(root, dst string, patterns []string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		if ignored(rel, patterns) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", rel)
		}
		return copyFile(p, filepath.Join(dst, rel))
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// image is what the Dockerfile's final stage holds once its builder stage has really run
// here: files by their path in the image, the user and the entrypoint.
type image struct {
	builder    stage
	base       string
	files      map[string]string // path in the image → the file on this machine
	user       string
	entrypoint []string
}

// imagePath is the image's PATH (distroless's), for a command given without a directory.
var imagePath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// lookup resolves a container's command in the image as the runtime does.
func (img *image) lookup(cmd string) (string, bool) {
	if strings.HasPrefix(cmd, "/") {
		f, ok := img.files[cmd]
		return f, ok
	}
	for _, dir := range imagePath {
		if f, ok := img.files[path.Join(dir, cmd)]; ok {
			return f, true
		}
	}
	return "", false
}

// outputFlag is a go build's -o with an absolute path, which the emulated build redirects
// into the stage's root.
var outputFlag = regexp.MustCompile(`(^|\s)-o\s+(/\S+)`)

// runBuilder runs the builder stage's instructions for real: the context copied into its
// WORKDIR under rootfs, its ENV, and each RUN (go commands only) with sh -c, as Docker does.
func runBuilder(st stage, context, rootfs string) error {
	wd, env := "/", os.Environ()
	for _, in := range st.ins {
		switch in.cmd {
		case "WORKDIR":
			wd = path.Join(wd, in.rest)
			if err := os.MkdirAll(filepath.Join(rootfs, wd), 0o755); err != nil {
				return err
			}
		case "COPY":
			f := strings.Fields(in.rest)
			if len(f) < 2 || strings.HasPrefix(f[0], "--") {
				return fmt.Errorf("line %d: COPY %s: want sources and a destination", in.line, in.rest)
			}
			if err := copyIn(context, f[:len(f)-1], filepath.Join(rootfs, resolve(wd, f[len(f)-1]))); err != nil {
				return fmt.Errorf("line %d: COPY: %w", in.line, err)
			}
		case "ENV":
			for _, kv := range strings.Fields(in.rest) {
				if !strings.Contains(kv, "=") {
					return fmt.Errorf("line %d: ENV %s: want KEY=VALUE", in.line, in.rest)
				}
				env = append(env, kv)
			}
		case "RUN":
			if err := runStep(in, filepath.Join(rootfs, wd), rootfs, env); err != nil {
				return err
			}
		default:
			return fmt.Errorf("line %d: %s in the builder: this test does not run it", in.line, in.cmd)
		}
	}
	return nil
}

func resolve(wd, p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return path.Join(wd, p)
}

// copyIn copies context sources into dest, a directory (COPY with several sources or a
// destination ending in /, the only forms the Dockerfile uses).
func copyIn(context string, srcs []string, dest string) error {
	for _, s := range srcs {
		src := filepath.Join(context, s)
		st, err := os.Stat(src)
		if err != nil {
			return err
		}
		if st.IsDir() {
			if err := copyContext(src, dest, nil); err != nil {
				return err
			}
			continue
		}
		if err := copyFile(src, filepath.Join(dest, filepath.Base(s))); err != nil {
			return err
		}
	}
	return nil
}

func runStep(in instruction, dir, rootfs string, env []string) error {
	if !strings.HasPrefix(in.rest, "go ") {
		return fmt.Errorf("line %d: RUN %s: only go commands are run by this test", in.line, in.rest)
	}
	line := outputFlag.ReplaceAllString(in.rest, "${1}-o "+rootfs+"${2}")
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir, cmd.Env = dir, env
	out, err := runBounded(cmd, 8*time.Minute)
	if err != nil {
		return fmt.Errorf("line %d: RUN %s: %v\n%s", in.line, in.rest, err, out)
	}
	return nil
}

// runBounded runs cmd to its end, killing it after limit.
func runBounded(cmd *exec.Cmd, limit time.Duration) ([]byte, error) {
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return []byte(out.String()), err
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		return []byte(out.String()), fmt.Errorf("still running after %v", limit)
	}
}

// finalStage reads the last stage: files copied from the builder's rootfs, USER and
// ENTRYPOINT (exec form: there is no shell to run any other).
func finalStage(st stage, builder, rootfs string) (*image, error) {
	img := &image{base: st.from, files: map[string]string{}}
	for _, in := range st.ins {
		switch in.cmd {
		case "COPY":
			f := strings.Fields(in.rest)
			if len(f) < 3 || f[0] != "--from="+builder || !strings.HasSuffix(f[len(f)-1], "/") {
				return nil, fmt.Errorf("line %d: COPY %s: want --from=%s, sources and a directory", in.line, in.rest, builder)
			}
			for _, src := range f[1 : len(f)-1] {
				img.files[path.Join(f[len(f)-1], path.Base(src))] = filepath.Join(rootfs, src)
			}
		case "USER":
			img.user = in.rest
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.rest), &img.entrypoint); err != nil || len(img.entrypoint) == 0 {
				return nil, fmt.Errorf("line %d: ENTRYPOINT %s: want the exec form, a JSON array", in.line, in.rest)
			}
		default:
			return nil, fmt.Errorf("line %d: %s in the final stage: this test does not know it", in.line, in.cmd)
		}
	}
	return img, nil
}

// built is the image, built once per test binary; TestMain removes its directory.
var built struct {
	once sync.Once
	dir  string
	img  *image
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// builtImage builds the Dockerfile's image on this machine (no Docker here): the context
// as .dockerignore leaves it, the builder stage's commands run for real.
func builtImage(t *testing.T) *image {
	t.Helper()
	built.once.Do(func() { built.img, built.err = buildImage() })
	if built.err != nil {
		t.Fatalf("building the Dockerfile's image: %v", built.err)
	}
	return built.img
}

func buildImage() (*image, error) {
	stages, err := parseDockerfile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		return nil, err
	}
	if len(stages) != 2 || stages[0].name == "" {
		return nil, errors.New("want two stages, a named builder and the final image")
	}
	patterns, err := readDockerignore(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		return nil, err
	}
	built.dir, err = os.MkdirTemp("", "gss-image-")
	if err != nil {
		return nil, err
	}
	context, rootfs := filepath.Join(built.dir, "context"), filepath.Join(built.dir, "rootfs")
	if err := copyContext(repoRoot, context, patterns); err != nil {
		return nil, fmt.Errorf("context: %w", err)
	}
	if err := runBuilder(stages[0], context, rootfs); err != nil {
		return nil, err
	}
	img, err := finalStage(stages[1], stages[0].name, rootfs)
	if err != nil {
		return nil, err
	}
	img.builder = stages[0]
	return img, nil
}

// staticELF reports why an executable is not static: a program interpreter (the dynamic
// loader), a dynamic section or shared libraries.
func staticELF(file string) error {
	f, err := elf.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			return fmt.Errorf("%s: program header %v", file, p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		return fmt.Errorf("%s: needs %v", file, libs)
	}
	return nil
}

// The Dockerfile builds: its builder stage's commands, run here on the context that
// .dockerignore leaves, produce both binaries, static; the final stage runs go-smtp-source
// as a non-root user.
func TestDockerfile(t *testing.T) {
	img := builtImage(t)
	goMod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(goMod)
	if goVersion == nil || img.builder.from != "golang:"+string(goVersion[1]) {
		t.Errorf("builder FROM %s, go.mod says go %s", img.builder.from, goVersion[1])
	}
	checkBuilds(t, img.builder)
	if img.base != "scratch" && !strings.HasPrefix(img.base, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %s: want scratch or distroless static (no libc, no shell)", img.base)
	}
	for _, bin := range []string{"/usr/local/bin/go-smtp-source", "/usr/local/bin/go-smtp-sink"} {
		f, ok := img.files[bin]
		if !ok {
			t.Errorf("%s is not in the image (%v)", bin, img.files)
			continue
		}
		if err := staticELF(f); err != nil {
			t.Errorf("%s is not static: %v", bin, err)
		}
	}
	if err := staticELF("/bin/sh"); err == nil {
		t.Error("staticELF finds /bin/sh (dynamic on Debian) static: the check checks nothing")
	}
	if uid, gid := imageUser(t, img.user); uid == 0 || gid == 0 {
		t.Errorf("USER %q: root", img.user)
	}
	if f, ok := img.lookup(img.entrypoint[0]); !ok || filepath.Base(f) != "go-smtp-source" {
		t.Errorf("ENTRYPOINT %v: not go-smtp-source in the image", img.entrypoint)
	}
	patterns, _ := readDockerignore(filepath.Join(repoRoot, ".dockerignore"))
	if !ignored(".git", patterns) || ignored("cmd/go-smtp-source/main.go", patterns) {
		t.Errorf(".dockerignore %v: want .git out and the sources in", patterns)
	}
}

// checkBuilds: every go build is static (CGO_ENABLED=0 set before it) and reproducible
// (-trimpath).
func checkBuilds(t *testing.T, st stage) {
	t.Helper()
	cgoOff, builds := false, 0
	for _, in := range st.ins {
		if in.cmd == "ENV" && strings.Contains(" "+in.rest+" ", " CGO_ENABLED=0 ") {
			cgoOff = true
		}
		if in.cmd != "RUN" || !strings.HasPrefix(in.rest, "go build ") {
			continue
		}
		builds++
		if !cgoOff || !strings.Contains(in.rest, " -trimpath ") {
			t.Errorf("line %d: %s: want CGO_ENABLED=0 before it and -trimpath", in.line, in.rest)
		}
	}
	if builds != 2 {
		t.Errorf("%d go builds, want 2 (go-smtp-source and go-smtp-sink)", builds)
	}
}

// imageUser parses USER, which must be numeric (uid:gid) so that Kubernetes' runAsNonRoot
// can check it without the image's /etc/passwd.
func imageUser(t *testing.T, user string) (uid, gid int64) {
	t.Helper()
	u, g, _ := strings.Cut(user, ":")
	uid, err1 := strconv.ParseInt(u, 10, 32)
	gid, err2 := strconv.ParseInt(g, 10, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("USER %q: want numeric uid:gid", user)
	}
	return uid, gid
}
