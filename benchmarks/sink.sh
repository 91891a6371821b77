#!/usr/bin/env bash
# go-smtp-sink vs Postfix smtp-sink, driven by the same smtp-source clients in the same
# run; prints the Markdown table (also written to benchmarks/out/sink.md).
# Usage: benchmarks/sink.sh [sinkbench options: -clients N -scale F -cases a,b]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH:/usr/sbin"
for p in smtp-source smtp-sink; do
  command -v "$p" >/dev/null 2>&1 || { echo "sink.sh: $p not found (Debian: apt-get install postfix)" >&2; exit 2; }
done
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
go build -o bin/ ./cmd/go-smtp-sink
if ! go build -o bin/ ./cmd/go-smtp-source; then
  echo "sink.sh: go-smtp-source does not build; the go-smtp-source case uses bin/go-smtp-source if present, else is skipped" >&2
fi
exec go run ./benchmarks/sinkbench "$@"
