#!/usr/bin/env bash
# make demo, second part: an HTML report of a short run on loopback.
#
# Starts bin/go-smtp-sink on 127.0.0.1 port 0 (STARTTLS with a self-signed certificate,
# 1% of recipients refused, the trace header counted, /trace on another port 0), finds
# the port it bound with ss(8) by its PID, runs bin/go-smtp-source against it for 6
# seconds of open-model arrivals (a ramp 50 → 200 → 50 messages/s, STARTTLS, end to
# end through the sink's /trace, two thresholds), writes the run's JSON and HTML, stops
# the sink by its PID and prints the page's path. Builds nothing: make demo builds first.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

src=bin/go-smtp-source
sink_bin=bin/go-smtp-sink
for b in "$src" "$sink_bin"; do
  if [ ! -x "$b" ]; then
    echo "report/demo.sh: $b not found; run 'make build' first (make demo does)" >&2
    exit 2
  fi
done
command -v ss >/dev/null || { echo "report/demo.sh: ss not found (Debian package iproute2)" >&2; exit 2; }
out=${DEMO_OUT:-benchmarks/out}
mkdir -p "$out"
work=$(mktemp -d)
sink_pid=""
cleanup() {
  if [ -n "$sink_pid" ] && kill -0 "$sink_pid" 2>/dev/null; then
    kill -TERM "$sink_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$sink_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$sink_pid" 2>/dev/null || true
    wait "$sink_pid" 2>/dev/null || true
  fi
  sink_pid=""
  rm -rf "$work"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

"$sink_bin" --starttls --trace --http 127.0.0.1:0 --reject rcpt=550:1% 127.0.0.1:0 1024 2>"$work/sink.err" &
sink_pid=$!

# The /trace address is printed on stderr; the SMTP port is the sink's other listener.
http=""
smtp=""
for _ in $(seq 1 100); do
  kill -0 "$sink_pid" 2>/dev/null || { cat "$work/sink.err" >&2; exit 1; }
  http=$(sed -n 's/.*http: listening on \([0-9.:]*\).*/\1/p' "$work/sink.err")
  if [ -n "$http" ]; then
    smtp=$(ss -Hltnp 2>/dev/null | awk -v pid="pid=$sink_pid," -v http="$http" \
      'index($0, pid) && $4 != http && $4 ~ /^127\.0\.0\.1:/ { print $4; exit }')
    [ -n "$smtp" ] && break
  fi
  sleep 0.1
done
if [ -z "$smtp" ]; then
  echo "report/demo.sh: go-smtp-sink (pid $sink_pid) did not report its ports" >&2
  exit 1
fi

cmd=("$src" -A --ehlo --tls encrypt --rate 50 --stages 2s:200,2s:200,2s:50 --max-sessions 200
  --trace --e2e-sink "http://$http" --e2e-wait 5s
  --threshold 'eod.p99<500ms' --threshold 'errors<2%'
  --json "$out/report-demo.json" --html "$out/report-demo.html" "$smtp")
echo "sink:   $sink_bin on $smtp, /trace on $http (pid $sink_pid)"
echo "\$ ${cmd[*]}"
set +e
timeout 60 "${cmd[@]}"
rc=$?
set -e
echo "exit status $rc"
if [ -s "$out/report-demo.html" ]; then
  echo "report: $(cd "$out" && pwd)/report-demo.html ($(wc -c <"$out/report-demo.html") bytes)"
fi
exit "$rc"
