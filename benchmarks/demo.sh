#!/usr/bin/env bash
# make demo: the main job against a sink the project starts itself.
#
# Starts the project's own go-smtp-sink (bin/go-smtp-sink, built by make build) on a free
# loopback port, runs `bin/go-smtp-source -d -s 100 -m 10000` against it, prints the result,
# and stops the sink by its PID. Builds nothing: make demo runs make build first.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin"

src=bin/go-smtp-source
if [ ! -x "$src" ]; then
  echo "demo.sh: $src not found; run 'make build' first (make demo does)" >&2
  exit 2
fi
sink_bin=bin/go-smtp-sink
if [ ! -x "$sink_bin" ]; then
  echo "demo.sh: $sink_bin not found; run 'make build' first (make demo does)" >&2
  exit 2
fi

sink_pid=""
stop_sink() {
  if [ -n "$sink_pid" ] && kill -0 "$sink_pid" 2>/dev/null; then
    kill -TERM "$sink_pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$sink_pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$sink_pid" 2>/dev/null || true
    wait "$sink_pid" 2>/dev/null || true
  fi
  sink_pid=""
}
trap stop_sink EXIT
trap 'stop_sink; exit 130' INT TERM

accepting() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

port=""
for _ in $(seq 1 20); do
  # A port below the ephemeral range (32768-60999) that nothing accepts on.
  p=$((20000 + RANDOM % 12000))
  if accepting "$p"; then continue; fi
  "$sink_bin" -m 2000 "127.0.0.1:$p" 1024 &
  sink_pid=$!
  for _ in $(seq 1 100); do
    if accepting "$p"; then port=$p; break; fi
    kill -0 "$sink_pid" 2>/dev/null || break
    sleep 0.05
  done
  if [ -n "$port" ]; then break; fi
  stop_sink
done
if [ -z "$port" ]; then
  echo "demo.sh: could not start go-smtp-sink on a free loopback port" >&2
  exit 1
fi

cmd=("$src" -d -s 100 -m 10000 "127.0.0.1:$port")
echo "sink:   $sink_bin -m 2000 127.0.0.1:$port 1024 (pid $sink_pid)"
echo "\$ ${cmd[*]}"
start=$(date +%s.%N)
set +e
"${cmd[@]}"
rc=$?
set -e
end=$(date +%s.%N)
echo "exit status $rc; wall time $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f s", e - s }')"
exit "$rc"
