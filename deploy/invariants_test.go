package deploy

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// The manifests hold together: resources and a non-root, read-only sandbox for every
// container, every reference resolves, Services reach their pods, Jobs never run a shard
// twice, and the coordinator, workers, shards and merge agree with each other.
func TestManifestInvariants(t *testing.T) {
	m := loadManifests(t)
	stages, err := parseDockerfile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil || len(stages) != 2 {
		t.Fatalf("Dockerfile: %d stages, %v", len(stages), err)
	}
	img, err := finalStage(stages[1], stages[0].name, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("containers", func(t *testing.T) { checkContainers(t, m, img) })
	t.Run("references", func(t *testing.T) { checkReferences(t, m) })
	t.Run("services", func(t *testing.T) { checkServices(t, m) })
	t.Run("jobs", func(t *testing.T) { checkJobs(t, m) })
	t.Run("cluster", func(t *testing.T) { checkCluster(t, m) })
	t.Run("brokerless", func(t *testing.T) { checkBrokerless(t, m) })
	t.Run("nats", func(t *testing.T) { checkNATS(t, m) })
}

func checkContainers(t *testing.T, m *manifests, img *image) {
	_, gid := imageUser(t, img.user)
	for _, w := range m.workloads {
		pod := w.spec.SecurityContext
		if len(w.spec.Containers) != 1 || len(w.spec.InitContainers) != 0 {
			t.Errorf("%s: %d containers and %d init containers, want one container", w.name, len(w.spec.Containers), len(w.spec.InitContainers))
		}
		if pod == nil || pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot || pod.SeccompProfile == nil || pod.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: want runAsNonRoot and the RuntimeDefault seccomp profile", w.name)
		}
		if w.spec.EnableServiceLinks == nil || *w.spec.EnableServiceLinks {
			t.Errorf("%s: Service environment variables (enableServiceLinks) on", w.name)
		}
		for _, c := range w.spec.Containers {
			checkResources(t, w, c)
			sc := c.SecurityContext
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil ||
				!*sc.ReadOnlyRootFilesystem || sc.Capabilities == nil || indexOf(capNames(sc.Capabilities.Drop), "ALL") < 0 {
				t.Errorf("%s/%s: want no privilege escalation, a read-only root and every capability dropped", w.name, c.Name)
			}
			if strings.Contains(c.Image, "go-smtp-source") && c.Image != ourImage {
				t.Errorf("%s/%s: image %s, want %s everywhere (one sed replaces it: README)", w.name, c.Name, c.Image, ourImage)
			}
			if c.Image != ourImage {
				if len(c.Command) == 0 {
					t.Errorf("%s/%s: no command: another image's entrypoint is not ours to rely on", w.name, c.Name)
				}
				continue
			}
			if len(c.Command) > 0 {
				if _, ok := img.lookup(c.Command[0]); !ok {
					t.Errorf("%s/%s: command %s is not in the image", w.name, c.Name, c.Command[0])
				}
			}
			for _, vm := range c.VolumeMounts {
				if !vm.ReadOnly && claimOf(w, vm.Name) != "" && (pod.FSGroup == nil || *pod.FSGroup != gid) {
					t.Errorf("%s: writes to a volume without fsGroup %d (the image's group)", w.name, gid)
				}
			}
		}
	}
}

func capNames(cs []corev1.Capability) []string {
	var s []string
	for _, c := range cs {
		s = append(s, string(c))
	}
	return s
}

func checkResources(t *testing.T, w *workload, c corev1.Container) {
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[r]
		lim, okLim := c.Resources.Limits[r]
		if !okReq || !okLim || req.Cmp(lim) > 0 {
			t.Errorf("%s/%s: %s request %v and limit %v: want both, request ≤ limit", w.name, c.Name, r, req.String(), lim.String())
		}
	}
}

// claimOf is the PVC behind a pod's volume, "" for any other volume.
func claimOf(w *workload, volume string) string {
	for _, v := range w.spec.Volumes {
		if v.Name == volume && v.PersistentVolumeClaim != nil {
			return v.PersistentVolumeClaim.ClaimName
		}
	}
	return ""
}

func checkReferences(t *testing.T, m *manifests) {
	for _, w := range m.workloads {
		for _, c := range w.spec.Containers {
			env, err := m.containerEnv(w, c, "pod", 0, nil)
			if err != nil {
				t.Error(err)
				continue
			}
			secret := map[string]bool{}
			for _, e := range c.Env {
				secret[e.Name] = e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
			}
			for _, a := range append(append([]string{}, c.Command...), c.Args...) {
				if _, undefined := expand(a, env); len(undefined) > 0 {
					t.Errorf("%s/%s: %q refers to %v, which the container does not define", w.name, c.Name, a, undefined)
				}
				for name := range env {
					if secret[name] && strings.Contains(a, "$("+name+")") {
						t.Errorf("%s/%s: the secret %s on the command line (visible in ps)", w.name, c.Name, name)
					}
				}
			}
			checkVolumes(t, m, w, c)
		}
	}
}

func checkVolumes(t *testing.T, m *manifests, w *workload, c corev1.Container) {
	for _, vm := range c.VolumeMounts {
		found := false
		for _, v := range w.spec.Volumes {
			if v.Name != vm.Name {
				continue
			}
			found = true
			if v.ConfigMap != nil && m.configMaps[v.ConfigMap.Name] == nil {
				t.Errorf("%s: no ConfigMap %s", w.name, v.ConfigMap.Name)
			}
			if v.PersistentVolumeClaim != nil && m.claims[v.PersistentVolumeClaim.ClaimName] == nil {
				t.Errorf("%s: no PersistentVolumeClaim %s", w.name, v.PersistentVolumeClaim.ClaimName)
			}
			if v.ConfigMap == nil && v.PersistentVolumeClaim == nil {
				t.Errorf("%s: volume %s is neither a ConfigMap nor a PVC", w.name, v.Name)
			}
		}
		if !found {
			t.Errorf("%s/%s: mounts %s, which the pod does not define", w.name, c.Name, vm.Name)
		}
	}
}

func checkServices(t *testing.T, m *manifests) {
	for _, s := range m.services {
		w, err := m.selected(s)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, p := range s.Spec.Ports {
			if _, ok := containerPort(w, p.TargetPort); !ok {
				t.Errorf("Service %s port %d: %s is no container port of %s", s.Name, p.Port, p.TargetPort.String(), w.name)
			}
		}
	}
	for _, w := range m.workloads {
		if w.kind != "Deployment" {
			continue
		}
		for k, v := range w.selector {
			if w.labels[k] != v || len(w.selector) == 0 {
				t.Errorf("Deployment %s: selector %v does not match its pods' labels %v", w.name, w.selector, w.labels)
			}
		}
	}
}

// checkJobs: a restarted worker or shard would send its messages twice.
func checkJobs(t *testing.T, m *manifests) {
	for _, w := range m.workloads {
		if w.job == nil {
			continue
		}
		s := w.job.Spec
		if w.spec.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("%s: restartPolicy %s, want Never", w.name, w.spec.RestartPolicy)
		}
		if s.Parallelism == nil || s.Completions == nil || *s.Parallelism != *s.Completions || *s.Completions < 1 {
			t.Errorf("%s: parallelism %v, completions %v: want equal", w.name, s.Parallelism, s.Completions)
		}
		if w.indexed() && (s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex != 0) {
			t.Errorf("%s: an Indexed Job without backoffLimitPerIndex 0", w.name)
		}
		if !w.indexed() && (s.BackoffLimit == nil || *s.BackoffLimit != 0) {
			t.Errorf("%s: backoffLimit %v, want 0", w.name, s.BackoffLimit)
		}
	}
}

// flagValue is the argument after flag in the container's args ("" if none).
func flagValue(w *workload, flag string) string {
	args := w.spec.Containers[0].Args
	if i := indexOf(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

func lastArg(w *workload) string {
	args := w.spec.Containers[0].Args
	return args[len(args)-1]
}

// checkCluster: the coordinator wants as many workers as the Job has and the Deployment
// offers; all reach NATS by its Service; the workers allow the coordinator's target.
func checkCluster(t *testing.T, m *manifests) {
	coord, job, pool := m.workload(t, "gss-coordinator"), m.workload(t, "gss-workers"), m.workload(t, "gss-worker")
	n, err := strconv.Atoi(flagValue(coord, "--cluster-workers"))
	if err != nil || n != job.replicas || n > pool.replicas {
		t.Errorf("--cluster-workers %q; the Job has %d workers, the Deployment %d", flagValue(coord, "--cluster-workers"), job.replicas, pool.replicas)
	}
	svc := m.services["nats"]
	if svc == nil || len(svc.Spec.Ports) != 1 {
		t.Fatal("no Service nats with one port")
	}
	url := fmt.Sprintf("nats://%s:%d", svc.Name, svc.Spec.Ports[0].Port)
	if flagValue(coord, "--cluster-nats") != url || flagValue(job, "--nats") != url || flagValue(pool, "--nats") != url {
		t.Errorf("NATS URLs %q %q %q, want the Service's %s", flagValue(coord, "--cluster-nats"), flagValue(job, "--nats"), flagValue(pool, "--nats"), url)
	}
	for _, w := range []*workload{job, pool} {
		for _, target := range []string{lastArg(coord), lastArg(m.workload(t, "gss-shards"))} {
			if indexOf(strings.Split(flagValue(w, "--allow-target"), ","), target) < 0 {
				t.Errorf("%s: --allow-target %q refuses the target %s", w.name, flagValue(w, "--allow-target"), target)
			}
		}
		if flagValue(w, "--event-loops") != "$(GSS_EVENT_LOOPS)" || !fromCPULimit(w, "GSS_EVENT_LOOPS") {
			t.Errorf("%s: want --event-loops from the CPU limit", w.name)
		}
	}
	if !fromCPULimit(m.workload(t, "gss-sink"), "GSS_EVENT_LOOPS") || flagValue(m.workload(t, "gss-sink"), "--loops") != "$(GSS_EVENT_LOOPS)" {
		t.Error("gss-sink: want --loops from the CPU limit")
	}
	checkResultPath(t, m, coord, flagValue(coord, "--json"))
}

// fromCPULimit: env name holds the container's CPU limit in whole CPUs (Go's NumCPU, which
// the event loops default to, is the node's).
func fromCPULimit(w *workload, name string) bool {
	for _, e := range w.spec.Containers[0].Env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil {
			r := e.ValueFrom.ResourceFieldRef
			return r.Resource == "limits.cpu" && r.Divisor.String() == "1"
		}
	}
	return false
}

// checkResultPath: a result document is written to the results volume, where
// results-reader.yaml can read it.
func checkResultPath(t *testing.T, m *manifests, w *workload, file string) {
	t.Helper()
	reader := m.workload(t, "gss-results")
	for _, vm := range w.spec.Containers[0].VolumeMounts {
		if strings.HasPrefix(file, vm.MountPath+"/") && claimOf(w, vm.Name) == "gss-results" && !vm.ReadOnly {
			rm := reader.spec.Containers[0].VolumeMounts
			if len(rm) != 1 || rm[0].MountPath != vm.MountPath || claimOf(reader, rm[0].Name) != "gss-results" {
				t.Errorf("results-reader.yaml does not mount gss-results at %s", vm.MountPath)
			}
			return
		}
	}
	t.Errorf("%s writes %q outside a writable gss-results mount", w.name, file)
}

// checkBrokerless: the shards are indexed n ways, start at a time the user sets (none is
// shipped), write one report each to the volume, and the merge Job lists exactly those.
func checkBrokerless(t *testing.T, m *manifests) {
	shards, merge := m.workload(t, "gss-shards"), m.workload(t, "gss-merge")
	if !shards.indexed() || *shards.job.Spec.CompletionMode != batchv1.IndexedCompletion {
		t.Fatal("gss-shards is not an Indexed Job")
	}
	if want := fmt.Sprintf("$(JOB_COMPLETION_INDEX)/%d", shards.replicas); flagValue(shards, "--shard") != want {
		t.Errorf("--shard %q, want %q", flagValue(shards, "--shard"), want)
	}
	if flagValue(shards, "--start-at") != "$(GSS_START_AT)" {
		t.Errorf("--start-at %q, want $(GSS_START_AT), set when the Job is created", flagValue(shards, "--start-at"))
	}
	env, err := m.containerEnv(shards, shards.spec.Containers[0], "pod", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse(time.RFC3339, env["GSS_START_AT"]); err == nil {
		t.Errorf("GSS_START_AT is shipped as %s: a fixed start in the past refuses every run", env["GSS_START_AT"])
	}
	report := flagValue(shards, "--json")
	args := merge.spec.Containers[0].Args
	if len(args) != 3+shards.replicas || args[0] != "merge" || args[1] != "--json" {
		t.Fatalf("gss-merge args %q: want merge --json OUT and one report per shard", args)
	}
	for i := range shards.replicas {
		want, _ := expand(report, map[string]string{"JOB_COMPLETION_INDEX": fmt.Sprint(i)})
		if args[3+i] != want {
			t.Errorf("gss-merge reads %s, shard %d writes %s", args[3+i], i, want)
		}
		if path.Dir(want) != path.Dir(args[2]) {
			t.Errorf("shard %d writes %s, merge %s: not one directory", i, want, args[2])
		}
	}
	checkResultPath(t, m, shards, report)
	checkResultPath(t, m, merge, args[2])
}

var (
	natsTokenChars = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	confAddr       = regexp.MustCompile(`(?m)^\s*(listen|http):\s*0\.0\.0\.0:(\d+)\s*$`)
)

// checkNATS: the token comes from the Secret through the environment into the
// configuration file (never argv), the file sets max_payload and the ports that the Service
// and the readiness probe use.
func checkNATS(t *testing.T, m *manifests) {
	w := m.workload(t, "nats")
	c := w.spec.Containers[0]
	var tokenVar string
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == "gss-nats" {
			tokenVar = e.Name
		}
	}
	if len(w.spec.Volumes) != 1 || w.spec.Volumes[0].ConfigMap == nil {
		t.Fatal("nats: want one volume, its ConfigMap")
	}
	conf := m.configMaps[w.spec.Volumes[0].ConfigMap.Name].Data["nats.conf"]
	if tokenVar == "" || !regexp.MustCompile(`(?m)^\s*token:\s*\$`+tokenVar+`\s*$`).MatchString(conf) {
		t.Errorf("nats.conf does not take its token from $%s (the Secret):\n%s", tokenVar, conf)
	}
	if !regexp.MustCompile(`(?m)^\s*max_payload:\s*8MB\s*$`).MatchString(conf) {
		t.Errorf("nats.conf sets no max_payload of 8MB (the embedded server's):\n%s", conf)
	}
	if tok := m.secrets["gss-nats"].StringData["token"]; !natsTokenChars.MatchString(tok) {
		t.Errorf("the token %q is not one nats.conf reads as the same string", tok)
	}
	ports := map[string]string{}
	for _, a := range confAddr.FindAllStringSubmatch(conf, -1) {
		ports[a[1]] = a[2]
	}
	probe := c.ReadinessProbe
	if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != "/healthz" {
		t.Fatal("nats: want a readiness probe on /healthz")
	}
	monitor, _ := containerPort(w, probe.HTTPGet.Port)
	client, _ := containerPort(w, m.services["nats"].Spec.Ports[0].TargetPort)
	if ports["http"] != fmt.Sprint(monitor) || ports["listen"] != fmt.Sprint(client) {
		t.Errorf("nats.conf listens on %v; the probe asks port %d, the Service port %d", ports, monitor, client)
	}
}
