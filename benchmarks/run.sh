#!/usr/bin/env bash
# make bench: Postfix smtp-source vs go-smtp-source against the same Postfix smtp-sink on
# loopback. Prints a Markdown table (messages/s, CPU seconds per 10,000 messages, peak
# RSS, our/their ratios, the targets marked pass/fail) and writes it to
# benchmarks/out/bench.md. Progress goes to stderr.
#
# Usage: benchmarks/run.sh [driver options]   (make build first; make bench does)
#   -runs N        runs per tool and case, medians reported (default 3)
#   -scale F       multiply every case's message count (default 1; 0.1 for a quick look)
#   -cases a,b     only these cases: s1,d-s1,s100,d-s100,d-s100-pipe,s1000,d-s1000
#   -ours PATH     the go-smtp-source binary (default bin/go-smtp-source)
#   -theirs PATH   Postfix smtp-source (default from PATH or /usr/sbin)
#   -sink PATH     Postfix smtp-sink (default from PATH or /usr/sbin)
#   -timeout D     limit for one run of one tool (default 10m)
#   -floor PATH    in d-s100, also run this build of benchmarks/floor (the bound on user CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH:/usr/sbin"

ours=bin/go-smtp-source
for a in "$@"; do
  case "$a" in -ours=*) ours=${a#-ours=} ;; esac
done
prev=""
for a in "$@"; do
  if [ "$prev" = "-ours" ]; then ours=$a; fi
  prev=$a
done
if [ ! -x "$ours" ]; then
  echo "run.sh: $ours not found; run 'make build' first (make bench does)" >&2
  exit 2
fi
for p in smtp-source smtp-sink; do
  if ! command -v "$p" >/dev/null 2>&1; then
    echo "run.sh: $p not found (Debian: apt-get install postfix)" >&2
    exit 2
  fi
done
# -s 1000 needs well over 1000 descriptors in each tool.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

mkdir -p benchmarks/out
go build -o benchmarks/out/compare ./benchmarks/compare
exec benchmarks/out/compare -ours "$ours" -out benchmarks/out/bench.md "$@"
