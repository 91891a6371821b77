package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ourImage is the image every go-smtp-source container names; the README says how to build
// it from the Dockerfile and how to point the manifests at a registry's copy.
const ourImage = "go-smtp-source:latest"

// expand is Kubernetes' expansion of command, args and env values: $(NAME) becomes NAME's
// value, $$ a $; a reference to an undefined name stays as written, and is returned.
func expand(s string, env map[string]string) (string, []string) {
	var b strings.Builder
	var undefined []string
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String(), undefined
			}
			name := s[i+2 : i+2+end]
			if v, ok := env[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
				undefined = append(undefined, name)
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), undefined
}

// containerEnv is the environment Kubernetes gives container c of pod podName: each env
// entry in order (a value expanded against the entries before it), then, in an Indexed
// Job, JOB_COMPLETION_INDEX. set replaces values as kubectl set env would.
func (m *manifests) containerEnv(w *workload, c corev1.Container, podName string, index int, set map[string]string) (map[string]string, error) {
	env := map[string]string{}
	for _, e := range c.Env {
		v, err := m.envValue(c, e, podName)
		if err != nil {
			return nil, fmt.Errorf("%s: env %s: %w", w.name, e.Name, err)
		}
		if s, ok := set[e.Name]; ok {
			v = s
		}
		env[e.Name], _ = expand(v, env)
	}
	for name, v := range set {
		if _, ok := env[name]; !ok {
			env[name] = v
		}
	}
	if w.indexed() {
		env["JOB_COMPLETION_INDEX"] = fmt.Sprint(index)
	}
	return env, nil
}

func (m *manifests) envValue(c corev1.Container, e corev1.EnvVar, podName string) (string, error) {
	src := e.ValueFrom
	switch {
	case src == nil:
		return e.Value, nil
	case src.SecretKeyRef != nil:
		s, ok := m.secrets[src.SecretKeyRef.Name]
		if !ok {
			return "", fmt.Errorf("no Secret %q", src.SecretKeyRef.Name)
		}
		if v, ok := s.StringData[src.SecretKeyRef.Key]; ok {
			return v, nil
		}
		if v, ok := s.Data[src.SecretKeyRef.Key]; ok {
			return string(v), nil
		}
		return "", fmt.Errorf("Secret %q has no key %q", src.SecretKeyRef.Name, src.SecretKeyRef.Key)
	case src.FieldRef != nil && src.FieldRef.FieldPath == "metadata.name":
		return podName, nil
	case src.ResourceFieldRef != nil:
		return resourceValue(c, *src.ResourceFieldRef)
	}
	return "", fmt.Errorf("a source this test does not provide: %+v", src)
}

// resourceValue is a resourceFieldRef's value: the resource divided by the divisor,
// rounded up, as the kubelet computes it.
func resourceValue(c corev1.Container, ref corev1.ResourceFieldSelector) (string, error) {
	list, res, _ := strings.Cut(ref.Resource, ".")
	q, ok := map[string]corev1.ResourceList{"limits": c.Resources.Limits, "requests": c.Resources.Requests}[list][corev1.ResourceName(res)]
	if !ok {
		return "", fmt.Errorf("resourceFieldRef %s: the container sets no such resource", ref.Resource)
	}
	div := ref.Divisor
	if div.IsZero() {
		div.Set(1)
	}
	n, d := q.MilliValue(), div.MilliValue()
	return fmt.Sprint((n + d - 1) / d), nil
}

// localCluster runs the manifests' pods as processes here, changing only what Kubernetes
// provides: a Service's name:port becomes a loopback address, a listener's 0.0.0.0:port a
// loopback port (loopbackPort), a volume a directory, an env reference its value.
type localCluster struct {
	t      *testing.T
	m      *manifests
	img    *image
	ports  map[string]int    // "workload/containerPort" → loopback port
	claims map[string]string // PVC name → the directory every pod mounting it shares
}

func newLocalCluster(t *testing.T) *localCluster {
	return &localCluster{t: t, m: loadManifests(t), img: builtImage(t), ports: map[string]int{}, claims: map[string]string{}}
}

func (lc *localCluster) localPort(w *workload, containerPort int32) int {
	key := fmt.Sprintf("%s/%d", w.name, containerPort)
	if _, ok := lc.ports[key]; !ok {
		lc.ports[key] = loopbackPort(lc.t)
	}
	return lc.ports[key]
}

// containerPort resolves a port given by name or number in w's pod.
func containerPort(w *workload, p intstr.IntOrString) (int32, bool) {
	for _, c := range w.spec.Containers {
		for _, cp := range c.Ports {
			if p.Type == intstr.String && cp.Name == p.StrVal || p.Type == intstr.Int && cp.ContainerPort == p.IntVal {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

// selected is the one workload whose pods a Service selects.
func (m *manifests) selected(s *corev1.Service) (*workload, error) {
	var found []*workload
	for _, w := range m.workloads {
		match := len(s.Spec.Selector) > 0
		for k, v := range s.Spec.Selector {
			match = match && w.labels[k] == v
		}
		if match {
			found = append(found, w)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("Service %s selects %d workloads, want 1", s.Name, len(found))
	}
	return found[0], nil
}

// rewrite is one address substitution.
type rewrite struct {
	re   *regexp.Regexp
	with string
}

// addresses are the substitutions for a process of w: every Service's name:port (and
// host name alone in --allow-target style lists) to its loopback address, and w's own
// listeners on 0.0.0.0 to theirs.
func (lc *localCluster) addresses(w *workload) []rewrite {
	var rs []rewrite
	for _, s := range lc.m.services {
		target, err := lc.m.selected(s)
		if err != nil {
			lc.t.Fatal(err)
		}
		for _, p := range s.Spec.Ports {
			cp, ok := containerPort(target, p.TargetPort)
			if !ok {
				lc.t.Fatalf("Service %s port %d: no container port %s", s.Name, p.Port, p.TargetPort.String())
			}
			re := regexp.MustCompile(`(^|[^A-Za-z0-9.-])` + regexp.QuoteMeta(fmt.Sprintf("%s:%d", s.Name, p.Port)) + `\b`)
			rs = append(rs, rewrite{re, fmt.Sprintf("${1}127.0.0.1:%d", lc.localPort(target, cp))})
		}
	}
	for _, c := range w.spec.Containers {
		for _, cp := range c.Ports {
			re := regexp.MustCompile(`\b0\.0\.0\.0:` + fmt.Sprint(cp.ContainerPort) + `\b`)
			rs = append(rs, rewrite{re, fmt.Sprintf("127.0.0.1:%d", lc.localPort(w, cp.ContainerPort))})
		}
	}
	return rs
}

func applyRewrites(s string, rs []rewrite) string {
	for _, r := range rs {
		s = r.re.ReplaceAllString(s, r.with)
	}
	return s
}

// podOptions are what a test changes in a pod: env values as kubectl set env would, and the
// value of a flag (a smaller -m), and options added to watch a peer (the sink's counters).
type podOptions struct {
	set   map[string]string
	flags map[string]string
	watch []string
}

type podOption func(*podOptions)

func withEnv(name, value string) podOption { return func(o *podOptions) { o.set[name] = value } }
func withFlag(name, value string) podOption {
	return func(o *podOptions) { o.flags[name] = value }
}
func withWatch(args ...string) podOption {
	return func(o *podOptions) { o.watch = append(o.watch, args...) }
}

// podCommand is the command line and environment Kubernetes would run for pod index of
// workload name: its one container's command (or the image's ENTRYPOINT) and args, expanded.
func (lc *localCluster) podCommand(name string, index int, opts ...podOption) (w *workload, argv, env []string) {
	t := lc.t
	t.Helper()
	o := podOptions{set: map[string]string{}, flags: map[string]string{}}
	for _, f := range opts {
		f(&o)
	}
	w = lc.m.workload(t, name)
	c := w.spec.Containers[0]
	podName := fmt.Sprintf("%s-%d", w.name, index)
	envMap, err := lc.m.containerEnv(w, c, podName, index, o.set)
	if err != nil {
		t.Fatal(err)
	}
	argv = append(append([]string{}, c.Command...), c.Args...)
	if len(c.Command) == 0 {
		argv = append(append([]string{}, lc.img.entrypoint...), c.Args...)
	}
	rs := lc.addresses(w)
	mounts := lc.mounts(w, c, rs)
	for i := range argv {
		var undefined []string
		argv[i], undefined = expand(argv[i], envMap)
		if len(undefined) > 0 {
			t.Fatalf("%s: %q refers to %v, which the container does not define", name, argv[i], undefined)
		}
		argv[i] = mounts.Replace(applyRewrites(argv[i], rs))
	}
	argv = editFlags(t, argv, o)
	argv[0] = lc.executable(c, argv[0])
	env = []string{"PATH=" + strings.Join(imagePath, ":")}
	for k, v := range envMap {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return w, argv, env
}

func editFlags(t *testing.T, argv []string, o podOptions) []string {
	t.Helper()
	for flag, v := range o.flags {
		i := indexOf(argv, flag)
		if i < 0 || i+1 == len(argv) {
			t.Fatalf("%v has no %s to change", argv, flag)
		}
		argv[i+1] = v
	}
	return append(append([]string{argv[0]}, o.watch...), argv[1:]...)
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// executable finds what the container runs: in our image, the file the Dockerfile put
// there; otherwise the same program installed here (nats-server from .ci/peers).
func (lc *localCluster) executable(c corev1.Container, cmd string) string {
	if c.Image == ourImage {
		f, ok := lc.img.lookup(cmd)
		if !ok {
			lc.t.Fatalf("container %s runs %s, which the image does not have (%v)", c.Name, cmd, lc.img.files)
		}
		return f
	}
	name := filepath.Base(cmd)
	if essential[name] {
		p, err := exec.LookPath(name)
		if err != nil {
			lc.t.Fatalf("%s: %v", name, err)
		}
		return p
	}
	return requirePeer(lc.t, name)
}

// essential are the programs of other images that every Debian system has (Essential:
// yes), so not test peers: busybox's sleep, as coreutils' here.
var essential = map[string]bool{"sleep": true, "cat": true}

// mounts maps each volume's mount path to a directory here: a PVC to one directory shared
// by every pod of the test, a ConfigMap to its files (addresses rewritten as for args).
func (lc *localCluster) mounts(w *workload, c corev1.Container, rs []rewrite) *strings.Replacer {
	var pairs []string
	for _, vm := range c.VolumeMounts {
		dir := ""
		for _, v := range w.spec.Volumes {
			switch {
			case v.Name != vm.Name:
			case v.PersistentVolumeClaim != nil:
				claim := v.PersistentVolumeClaim.ClaimName
				if lc.claims[claim] == "" {
					lc.claims[claim] = lc.t.TempDir()
				}
				dir = lc.claims[claim]
			case v.ConfigMap != nil:
				dir = lc.configMapDir(v.ConfigMap.Name, rs)
			}
		}
		if dir == "" {
			lc.t.Fatalf("%s: volume mount %s: no volume this test can provide", w.name, vm.Name)
		}
		pairs = append(pairs, vm.MountPath+"/", dir+"/")
	}
	return strings.NewReplacer(pairs...)
}

func (lc *localCluster) configMapDir(name string, rs []rewrite) string {
	cm, ok := lc.m.configMaps[name]
	if !ok {
		lc.t.Fatalf("no ConfigMap %q", name)
	}
	dir := lc.t.TempDir()
	for k, v := range cm.Data {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(applyRewrites(v, rs)), 0o644); err != nil {
			lc.t.Fatal(err)
		}
	}
	return dir
}

// startPod starts pod index of workload name.
func (lc *localCluster) startPod(name string, index int, opts ...podOption) *proc {
	lc.t.Helper()
	_, argv, env := lc.podCommand(name, index, opts...)
	return startProc(lc.t, fmt.Sprintf("%s-%d", name, index), argv, env)
}

// exec runs a command in pod name's view of the files, as kubectl exec would: its mount
// paths mapped to the pod's volumes. It returns the standard output.
func (lc *localCluster) exec(name string, argv ...string) []byte {
	t := lc.t
	t.Helper()
	w := lc.m.workload(t, name)
	c := w.spec.Containers[0]
	mounts := lc.mounts(w, c, nil)
	for i := range argv {
		argv[i] = mounts.Replace(argv[i])
	}
	out, err := exec.Command(lc.executable(c, argv[0]), argv[1:]...).Output()
	if err != nil {
		t.Fatalf("kubectl exec %s -- %q: %v", name, argv, err)
	}
	return out
}

// startAll starts every replica (or completion) of a workload.
func (lc *localCluster) startAll(name string, opts ...podOption) []*proc {
	lc.t.Helper()
	w := lc.m.workload(lc.t, name)
	ps := make([]*proc, w.replicas)
	for i := range ps {
		ps[i] = lc.startPod(name, i, opts...)
	}
	return ps
}

// waitReady runs the container's readiness probe until it succeeds, as the kubelet would.
func (lc *localCluster) waitReady(name string, p *proc, within time.Duration) {
	t := lc.t
	t.Helper()
	w := lc.m.workload(t, name)
	probe := w.spec.Containers[0].ReadinessProbe
	if probe == nil {
		t.Fatalf("%s: no readiness probe", name)
	}
	var err error
	if !poll(within, 20*time.Millisecond, func() bool {
		err = lc.probe(w, probe)
		return err == nil || p.exited()
	}) || err != nil {
		t.Fatalf("%s not ready: %v; output:\n%s", name, err, p.output())
	}
}

func (lc *localCluster) probe(w *workload, probe *corev1.Probe) error {
	switch {
	case probe.HTTPGet != nil:
		cp, ok := containerPort(w, probe.HTTPGet.Port)
		if !ok {
			return fmt.Errorf("probe port %s is no container port", probe.HTTPGet.Port.String())
		}
		client := http.Client{Timeout: time.Second}
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", lc.localPort(w, cp), probe.HTTPGet.Path))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("%s: %s", probe.HTTPGet.Path, resp.Status)
		}
		return nil
	case probe.TCPSocket != nil:
		cp, ok := containerPort(w, probe.TCPSocket.Port)
		if !ok {
			return fmt.Errorf("probe port %s is no container port", probe.TCPSocket.Port.String())
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", lc.localPort(w, cp)), time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
	return fmt.Errorf("a probe this test cannot run: %+v", probe.ProbeHandler)
}

// proc is a process a test started; it is killed by PID when the test ends.
type proc struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	done           chan struct{}
}

func startProc(t *testing.T, name string, argv, env []string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) output() string {
	return fmt.Sprintf("%s %q\nstdout:\n%s\nstderr:\n%s", p.name, p.cmd.Args, p.stdout.String(), p.stderr.String())
}

// waitExit waits for the process to end by itself and returns its exit status.
func (p *proc) waitExit(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		p.kill()
		t.Fatalf("still running after %v; %s", within, p.output())
		return -1
	}
}

// stop sends SIGTERM, as Kubernetes does first, and returns the exit status.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	return p.waitExit(t, 15*time.Second)
}

func (p *proc) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitStderr waits until the process has written text on its standard error.
func (p *proc) waitStderr(t *testing.T, text string, within time.Duration) {
	t.Helper()
	if !poll(within, 10*time.Millisecond, func() bool { return strings.Contains(p.stderr.String(), text) || p.exited() }) ||
		!strings.Contains(p.stderr.String(), text) {
		t.Fatalf("no %q; %s", text, p.output())
	}
}

// syncBuffer is a buffer a process writes while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// loopbackPorts are the ports this test binary has handed out.
var loopbackPorts = struct {
	sync.Mutex
	given map[int]bool
}{given: map[int]bool{}}

// loopbackPort is a port for a listener whose address a process must be told before it
// starts (a Service's address is in its peers' flags): 12000-19999 lies below the
// ephemeral range (32768-60999), so no port-0 listener and no connection's local port
// can hold it, and apart from the main module's tests' fixed ports (20000-31999); the
// port was not handed out before by this binary, and nothing listens on it now.
func loopbackPort(t *testing.T) int {
	t.Helper()
	loopbackPorts.Lock()
	defer loopbackPorts.Unlock()
	for range 500 {
		p := 12000 + rand.IntN(8000)
		if loopbackPorts.given[p] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		loopbackPorts.given[p] = true
		return p
	}
	t.Fatal("no free loopback port in 12000-19999")
	return 0
}

// poll checks cond every step until it holds (true) or within has passed (false); cond is
// checked once more at the end. (The main module's testpeer.Poll; this module cannot
// import it.)
func poll(within, step time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(min(step, max(time.Until(deadline), 0)))
	}
}

// requirePeer finds a program that .ci/peers lists (and make deps installs): missing, it
// skips the test, or under CI=true fails it, as the main module's tests do.
func requirePeer(t *testing.T, name string) string {
	t.Helper()
	pkg, err := peerPackage(name)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && st.Mode()&0o111 != 0 {
			return filepath.Join(dir, name)
		}
	}
	msg := fmt.Sprintf("%s not installed (Debian package %s: make deps)", name, pkg)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func peerPackage(name string) (string, error) {
	f, err := os.Open(filepath.Join(repoRoot, ".ci", "peers"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) > 1 && indexOf(fields[1:], "cmd:"+name) >= 0 {
			return fields[0], nil
		}
	}
	return "", fmt.Errorf("%s is not in .ci/peers: a program the tests run must be one make deps installs", name)
}
