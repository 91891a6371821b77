#!/usr/bin/env bash
# Cluster scale run (issue 6): 3 workers on this machine hold WORKER_SESSIONS sessions each
# (default 15,000: 45,000 in all, more than one process's open-file cap allows) against
# several go-smtp-sink processes sharing one port through SO_REUSEPORT; each worker
# connects from its own loopback address (a source address has ~28,000 ports to one
# destination). The sinks hold every session on DATA for HOLD seconds, so all are open at
# once. Prints the sessions held, messages/s, and the coordinator's CPU and I/O.
set -euo pipefail
cd "$(dirname "$0")/../.."
PER=${WORKER_SESSIONS:-15000}
SINKS=${SINKS:-4}
HOLD=${HOLD:-20}
TOTAL=$((3 * PER))
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
go build -o "$tmp/" ./cmd/go-smtp-source ./cmd/go-smtp-sink
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port); nport=$(free_port)
for i in $(seq 1 "$SINKS"); do
  "$tmp/go-smtp-sink" -w "$HOLD" --stats "$tmp/sink$i.json" "127.0.0.1:$port" 4096 & pids+=($!)
done
sleep 1
"$tmp/go-smtp-source" --cluster-listen "127.0.0.1:$nport" --cluster-token scale --cluster-workers 3 --progress \
  --json "$tmp/run.json" --timeout 120s -m "$TOTAL" -s "$TOTAL" "127.0.0.1:$port" 2> "$tmp/coord.err" & coord=$!; pids+=($coord)
sleep 1
for i in 0 1 2; do
  GSS_NATS_TOKEN=scale "$tmp/go-smtp-source" worker --nats "nats://127.0.0.1:$nport" --name "w$i" \
    --source-addr "127.0.0.$((i + 2))" --once 2> "$tmp/w$i.err" & pids+=($!)
done
until grep -q "all ready" "$tmp/coord.err"; do sleep 0.2; kill -0 $coord; done
read -r c0 < <(awk '{print $14 + $15}' /proc/$coord/stat)
io0=$(awk '/^rchar|^wchar/ {s += $2} END {print s}' /proc/$coord/io)
t0=$(date +%s.%N)
c1=$c0; io1=$io0; t1=$t0
while kill -0 $coord 2>/dev/null; do
  if read -r c < <(awk '{print $14 + $15}' /proc/$coord/stat 2>/dev/null); then
    c1=$c; io1=$(awk '/^rchar|^wchar/ {s += $2} END {print s}' /proc/$coord/io 2>/dev/null || echo "$io1"); t1=$(date +%s.%N)
  fi
  sleep 0.5
done
wait $coord && status=0 || status=$?
for i in $(seq 1 "$SINKS"); do kill -USR1 "${pids[$((i - 1))]}"; done
sleep 1
grep -E "cluster: +[0-9]+s" "$tmp/coord.err" | tail -n 3
echo "most sessions in flight at once (merged progress): $(grep -oE 'in flight [0-9]+' "$tmp/coord.err" | awk '$3 > m {m = $3} END {print m + 0}')"
grep -E "^(Messages|Accounting|Sessions) " "$tmp/coord.err" || true
python3 - "$tmp" "$SINKS" "$status" "$c0" "$c1" "$io0" "$io1" "$t0" "$t1" <<'PY'
import json, sys
tmp, sinks, status = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c0, c1, io0, io1 = (int(x) for x in sys.argv[4:8])
t0, t1 = float(sys.argv[8]), float(sys.argv[9])
peak = sum(json.load(open(f"{tmp}/sink{i}.json"))["sessions_peak"] for i in range(1, sinks + 1))
acc = sum(json.load(open(f"{tmp}/sink{i}.json"))["messages_accepted"] for i in range(1, sinks + 1))
run = json.load(open(f"{tmp}/run.json"))
secs = t1 - t0
print(f"coordinator exit {status}; sinks: {acc} accepted, peak sessions (sum over {sinks} sinks) {peak}")
print(f"merged: {run['totals']}, {run['summary']['rate_per_s']:.0f} msg/s over {run['elapsed_ns']/1e9:.1f} s")
print(f"coordinator: {(c1 - c0) / 100:.2f} s CPU over {secs:.1f} s = {100 * (c1 - c0) / 100 / secs:.2f}% of a core; "
      f"{(io1 - io0) / 1024:.0f} KiB read+written ({(io1 - io0) / 1024 / secs:.1f} KiB/s, NATS included)")
PY
