#!/usr/bin/env bash
# What --metrics-addr costs: go-smtp-source against go-smtp-sink on loopback, runs with
# and without the Prometheus endpoint alternating (A, B, A, B, …), the endpoint scraped
# once a second while it is on (as Prometheus would). Prints a Markdown table of each
# run's messages/s and the medians' ratio.
#
# Usage: benchmarks/metrics.sh [runs] [messages] [sessions]   (make build first)
#   defaults: 7 runs of each, 200000 messages, 50 sessions
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
messages=${2:-200000}
sessions=${3:-50}
src=${GSS:-bin/go-smtp-source}
sink=${GSINK:-bin/go-smtp-sink}
for b in "$src" "$sink"; do
  [ -x "$b" ] || { echo "metrics.sh: $b not found; run 'make build' first" >&2; exit 2; }
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
smtp=127.0.0.1:$(free_port)
"$sink" "$smtp" 1024 >/dev/null 2>&1 &
sink_pid=$!
trap 'kill $sink_pid 2>/dev/null || true' EXIT
sleep 0.5

# rate RUN-OUTPUT: the summary line's messages/s.
rate() { sed -n 's/.*s, \([0-9.]*\) msg\/s$/\1/p' "$1" | head -1; }

run() { # run off|on
  local out; out=$(mktemp)
  if [ "$1" = on ]; then
    local maddr=127.0.0.1:$(free_port)
    "$src" -s "$sessions" -m "$messages" --metrics-addr "$maddr" "$smtp" 2>"$out" &
    local pid=$!
    while kill -0 $pid 2>/dev/null; do
      curl -s -o /dev/null "http://$maddr/metrics" || true
      sleep 1
    done
    wait $pid
  else
    "$src" -s "$sessions" -m "$messages" "$smtp" 2>"$out"
  fi
  rate "$out"; rm -f "$out"
}

off=(); on=()
for i in $(seq "$runs"); do
  off+=("$(run off)")
  on+=("$(run on)")
  echo "run $i: off ${off[-1]} msg/s, on ${on[-1]} msg/s" >&2
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mo=$(median "${off[@]}"); mn=$(median "${on[@]}")
echo "| run | metrics off (msg/s) | --metrics-addr, scraped 1/s (msg/s) |"
echo "| --- | ---: | ---: |"
for i in $(seq 0 $((runs-1))); do echo "| $((i+1)) | ${off[$i]} | ${on[$i]} |"; done
echo "| median | $mo | $mn |"
awk -v a="$mo" -v b="$mn" 'BEGIN { printf "\non/off = %.3f (%+.1f %%)\n", b/a, (b/a-1)*100 }'
