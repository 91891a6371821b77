// Package deploy holds no code: its tests check the Kubernetes manifests in k8s/ and the
// repository's Dockerfile by decoding them strictly and running their command lines for real.
// It is a module of its own so that k8s.io/api stays out of the binaries' go.mod.
package deploy
