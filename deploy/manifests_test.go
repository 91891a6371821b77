package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// manifestDir holds the manifests, relative to this package.
const manifestDir = "k8s"

// kinds are the types a manifest may hold, by apiVersion/kind: any other document is refused.
var kinds = map[string]func() metav1.Object{
	"v1/Secret":                func() metav1.Object { return &corev1.Secret{} },
	"v1/ConfigMap":             func() metav1.Object { return &corev1.ConfigMap{} },
	"v1/Service":               func() metav1.Object { return &corev1.Service{} },
	"v1/PersistentVolumeClaim": func() metav1.Object { return &corev1.PersistentVolumeClaim{} },
	"v1/Pod":                   func() metav1.Object { return &corev1.Pod{} },
	"apps/v1/Deployment":       func() metav1.Object { return &appsv1.Deployment{} },
	"batch/v1/Job":             func() metav1.Object { return &batchv1.Job{} },
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeDocument decodes one YAML document as the API server does with strict field
// validation: duplicate keys, unknown fields and fields in the wrong case are errors, and
// so is a kind that is not in kinds. It returns nil for an empty document.
func decodeDocument(doc []byte) (kind string, obj metav1.Object, err error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return "", nil, err
	}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return "", nil, nil
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return "", nil, err
	}
	newObject, ok := kinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return "", nil, fmt.Errorf("apiVersion %q kind %q: not a kind these manifests may hold", tm.APIVersion, tm.Kind)
	}
	obj = newObject()
	strict, err := kjson.UnmarshalStrict(js, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	if len(strict) > 0 {
		return "", nil, fmt.Errorf("%s: %w", tm.Kind, errors.Join(strict...))
	}
	if obj.GetName() == "" {
		return "", nil, fmt.Errorf("%s without metadata.name", tm.Kind)
	}
	return tm.Kind, obj, nil
}

// workload is whatever runs pods: a Deployment, a Job or a bare Pod.
type workload struct {
	file, kind, name string
	labels           map[string]string // the pods'
	selector         map[string]string // a Deployment's matchLabels
	spec             corev1.PodSpec
	replicas         int // a Deployment's replicas, a Job's completions, 1 for a Pod
	job              *batchv1.Job
}

func (w *workload) indexed() bool {
	return w.job != nil && w.job.Spec.CompletionMode != nil && *w.job.Spec.CompletionMode == batchv1.IndexedCompletion
}

// manifests is every object of deploy/k8s, by kind and name.
type manifests struct {
	files      map[string]int // file → objects in it
	secrets    map[string]*corev1.Secret
	configMaps map[string]*corev1.ConfigMap
	services   map[string]*corev1.Service
	claims     map[string]*corev1.PersistentVolumeClaim
	workloads  map[string]*workload
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(manifestDir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests in %s: %v", manifestDir, err)
	}
	m := &manifests{files: map[string]int{}, secrets: map[string]*corev1.Secret{}, configMaps: map[string]*corev1.ConfigMap{},
		services: map[string]*corev1.Service{}, claims: map[string]*corev1.PersistentVolumeClaim{}, workloads: map[string]*workload{}}
	for _, path := range paths {
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Base(path)
		if bytes.ContainsRune(text, '\t') {
			t.Errorf("%s: a tab (YAML indents with spaces)", file)
		}
		for i, doc := range docSeparator.Split(string(text), -1) {
			kind, obj, err := decodeDocument([]byte(doc))
			if err != nil {
				t.Fatalf("%s, document %d: %v", file, i+1, err)
			}
			if obj != nil {
				m.files[file]++
				m.add(t, file, kind, obj)
			}
		}
		if m.files[file] == 0 {
			t.Errorf("%s: no object", file)
		}
	}
	return m
}

func (m *manifests) add(t *testing.T, file, kind string, obj metav1.Object) {
	t.Helper()
	name := obj.GetName()
	seen := func(ok bool) {
		if ok {
			t.Errorf("%s: a second %s %q", file, kind, name)
		}
	}
	switch o := obj.(type) {
	case *corev1.Secret:
		_, dup := m.secrets[name]
		seen(dup)
		m.secrets[name] = o
	case *corev1.ConfigMap:
		_, dup := m.configMaps[name]
		seen(dup)
		m.configMaps[name] = o
	case *corev1.Service:
		_, dup := m.services[name]
		seen(dup)
		m.services[name] = o
	case *corev1.PersistentVolumeClaim:
		_, dup := m.claims[name]
		seen(dup)
		m.claims[name] = o
	default:
		_, dup := m.workloads[name]
		seen(dup)
		m.workloads[name] = newWorkload(file, kind, obj)
	}
}

func newWorkload(file, kind string, obj metav1.Object) *workload {
	w := &workload{file: file, kind: kind, name: obj.GetName(), replicas: 1}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		w.labels, w.spec = o.Spec.Template.Labels, o.Spec.Template.Spec
		if o.Spec.Selector != nil {
			w.selector = o.Spec.Selector.MatchLabels
		}
		if o.Spec.Replicas != nil {
			w.replicas = int(*o.Spec.Replicas)
		}
	case *batchv1.Job:
		w.labels, w.spec, w.job = o.Spec.Template.Labels, o.Spec.Template.Spec, o
		if o.Spec.Completions != nil {
			w.replicas = int(*o.Spec.Completions)
		}
	case *corev1.Pod:
		w.labels, w.spec = o.Labels, o.Spec
	}
	return w
}

// workload returns the named workload or fails the test.
func (m *manifests) workload(t *testing.T, name string) *workload {
	t.Helper()
	w, ok := m.workloads[name]
	if !ok {
		t.Fatalf("no workload %q in %s", name, manifestDir)
	}
	return w
}

// The decoder refuses what the API server would refuse with strict field validation, so
// that the manifests passing it means something.
func TestDecodeRefuses(t *testing.T) {
	const job = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\nspec:\n  template:\n    spec:\n      containers:\n        - name: c\n"
	for _, c := range []struct{ doc, want string }{
		{job + "          imagee: x\n", `unknown field "spec.template.spec.containers[0].imagee"`},
		{job + "          Image: x\n", `unknown field "spec.template.spec.containers[0].Image"`},
		{job + "          image: x\n          image: y\n", `key "image" already set in map`},
		{job + "          args: --once\n", "cannot unmarshal string"},
		{strings.Replace(job, "batch/v1", "batch/v2", 1), `apiVersion "batch/v2" kind "Job"`},
		{strings.Replace(job, "kind: Job", "kind: CronJob", 1), `kind "CronJob": not a kind`},
		{strings.Replace(job, "  name: j\n", "", 1), "without metadata.name"},
	} {
		_, _, err := decodeDocument([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.doc, err, c.want)
		}
	}
	if kind, obj, err := decodeDocument([]byte(job + "          image: x\n")); err != nil || kind != "Job" || obj.GetName() != "j" {
		t.Errorf("a valid Job: %q %v %v", kind, obj, err)
	}
}

// Every document of every manifest decodes strictly into its Kubernetes type.
func TestManifestsDecode(t *testing.T) {
	m := loadManifests(t)
	var files []string
	for f := range m.files {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, want := range []string{"brokerless-indexed-job.yaml", "coordinator-job.yaml", "merge-job.yaml", "nats.yaml",
		"results-pvc.yaml", "results-reader.yaml", "secret.yaml", "sink.yaml", "workers-deployment.yaml", "workers-job.yaml"} {
		if m.files[want] == 0 {
			t.Errorf("%s missing (have %v)", want, files)
		}
	}
}
