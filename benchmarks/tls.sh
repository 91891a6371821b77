#!/usr/bin/env bash
# TLS speed and memory of go-smtp-source (issue 4's speed section), against the TLS test
# server in benchmarks/tlsserver (until go-smtp-sink speaks TLS):
#   1. --tls encrypt -d -s 100 -m 20000 against our own plaintext run of the same shape;
#   2. a connection (and a full handshake) per message at -s 100: handshakes/s and client
#      CPU per handshake; PEER_BIN=path PEER_ARGS="..." runs another client the same way;
#   3. -s 5000 established sessions parked between messages: client RSS per session,
#      TLS minus plaintext.
# Prints a Markdown table (also written to benchmarks/out/tls.md).
# Usage: benchmarks/tls.sh   (MESSAGES=20000 HANDSHAKES=5000 PARKED=5000 to change the sizes)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
MESSAGES=${MESSAGES:-20000}
HANDSHAKES=${HANDSHAKES:-5000}
PARKED=${PARKED:-5000}
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
mkdir -p benchmarks/out bin
go build -o bin/ ./cmd/go-smtp-source
go build -o bin/tlsserver ./benchmarks/tlsserver
out=benchmarks/out
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
bin/tlsserver -listen "127.0.0.1:$port" >"$out/tlsserver.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  grep -q listening "$out/tlsserver.log" 2>/dev/null && break
  sleep 0.1
done
target="127.0.0.1:$port"

# rate FILE: messages/s from a --json result
rate() { python3 -c "import json,sys; print('%.0f' % json.load(open(sys.argv[1]))['summary']['rate_per_s'])" "$1"; }
counter() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['counters'].get(sys.argv[2], 0))" "$1" "$2"; }

# cpu_run NAME ARGS...: runs a client under /usr/bin/time-like accounting (user+sys s).
cpu_run() {
  local name=$1; shift
  local start end
  start=$(awk '{print $14+$15+$16+$17}' /proc/self/stat)
  /usr/bin/env time -f "%U %S" -o "$out/$name.time" "$@" >/dev/null 2>"$out/$name.err" || {
    echo "tls.sh: $name failed:" >&2; tail -3 "$out/$name.err" >&2; exit 1; }
  awk '{printf "%.2f", $1+$2}' "$out/$name.time"
}

echo "1. -d -s 100 -m $MESSAGES: plaintext (EHLO) vs --tls encrypt" >&2
cpu_plain=$(cpu_run plain bin/go-smtp-source --quiet --ehlo -d -s 100 -m "$MESSAGES" --json "$out/plain.json" "$target")
cpu_tls=$(cpu_run tls bin/go-smtp-source --quiet --tls encrypt -d -s 100 -m "$MESSAGES" --json "$out/tls.json" "$target")
r_plain=$(rate "$out/plain.json"); r_tls=$(rate "$out/tls.json")
ratio=$(python3 -c "print('%.2f' % ($r_tls / $r_plain))")

echo "2. a handshake per message: -s 100 -m $HANDSHAKES --tls encrypt" >&2
cpu_hs=$(cpu_run hs bin/go-smtp-source --quiet --tls encrypt -s 100 -m "$HANDSHAKES" --json "$out/hs.json" "$target")
r_hs=$(rate "$out/hs.json")
hs_us=$(python3 -c "print('%.0f' % ($cpu_hs / $HANDSHAKES * 1e6))")
cpu_res=$(cpu_run hsres bin/go-smtp-source --quiet --tls encrypt --tls-resume -s 100 -m "$HANDSHAKES" --json "$out/hsres.json" "$target")
r_res=$(rate "$out/hsres.json"); resumed=$(counter "$out/hsres.json" tls_resumed)
res_us=$(python3 -c "print('%.0f' % ($cpu_res / $HANDSHAKES * 1e6))")
peer_row="| another client | (none given: PEER_BIN=path PEER_ARGS=\"...\" compares one) | | |"
if [ -n "${PEER_BIN:-}" ]; then
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  cpu_peer=$(cpu_run peer "$PEER_BIN" ${PEER_ARGS:-} -s 100 -m "$HANDSHAKES" "$target")
  el=$(python3 -c "import time; print(time.time() - $start)")
  peer_row="| $(basename "$PEER_BIN") ${PEER_ARGS:-} | $(python3 -c "print('%.0f' % ($HANDSHAKES / $el))") handshakes/s (wall clock incl. start) | $(python3 -c "print('%.0f' % ($cpu_peer / $HANDSHAKES * 1e6))") µs | |"
else
  echo "tls.sh: no PEER_BIN given: only go-smtp-source is measured" >&2
fi

echo "3. -s $PARKED sessions parked between messages (-d -w 5, three messages each): RSS" >&2
# parked_rss ARGS...: the client's RSS in KiB, sampled every 0.25 s while the sessions
# send a message, wait 5 s, twice more, then QUIT; prints "peak settled", settled being
# the lowest RSS of the run's last 3 s (the end of the last pause and the QUITs), when the
# garbage of the simultaneous handshakes has been collected and mostly returned to the
# system. Both figures are printed: the peak is dominated by the handshakes.
parked_rss() {
  bin/go-smtp-source --quiet -d -w 5 -s "$PARKED" -m "$((PARKED * 3))" --timeout 60s "$@" "$target" >/dev/null 2>"$out/parked.err" &
  local pid=$! rss
  : >"$out/parked.rss"
  while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$rss" ] && echo "$rss" >>"$out/parked.rss"
    sleep 0.25
  done
  wait "$pid" || { echo "tls.sh: parked run failed:" >&2; tail -3 "$out/parked.err" >&2; exit 1; }
  python3 - "$out/parked.rss" <<'PY'
import sys
v = [int(x) for x in open(sys.argv[1]).read().split()]
peak = max(v)
tail = v[max(0, len(v) - 12):]
print(peak, min(x for x in tail if x > 0.3 * peak) if tail else peak)
PY
}
read -r peak_plain rss_plain < <(parked_rss --ehlo)
read -r peak_tls rss_tls < <(parked_rss --tls encrypt)
per_session=$(python3 -c "print('%.1f' % (($rss_tls - $rss_plain) / $PARKED))")
per_session_peak=$(python3 -c "print('%.1f' % (($peak_tls - $peak_plain) / $PARKED))")

{
  echo "| measurement | go-smtp-source | client CPU | note |"
  echo "| --- | --- | --- | --- |"
  echo "| -d -s 100 -m $MESSAGES, plaintext (EHLO) | $r_plain msg/s | ${cpu_plain} s | |"
  echo "| -d -s 100 -m $MESSAGES, --tls encrypt | $r_tls msg/s | ${cpu_tls} s | **$ratio×** plaintext (target ≥ 0.8×) |"
  echo "| a handshake per message, -s 100, --tls encrypt | $r_hs handshakes/s | $hs_us µs/handshake | full handshakes (TLS 1.3, X25519MLKEM768) |"
  echo "| the same with --tls-resume | $r_res handshakes/s | $res_us µs/handshake | $resumed of $HANDSHAKES resumed |"
  echo "$peer_row"
  echo "| -s $PARKED parked sessions, settled RSS | plaintext $((rss_plain / 1024)) MiB, TLS $((rss_tls / 1024)) MiB | | **$per_session KiB** per TLS session above plaintext (target ≤ 16) |"
  echo "| -s $PARKED parked sessions, peak RSS | plaintext $((peak_plain / 1024)) MiB, TLS $((peak_tls / 1024)) MiB | | $per_session_peak KiB per TLS session: includes the garbage of $PARKED simultaneous handshakes |"
  echo
  echo "Server: benchmarks/tlsserver (Go crypto/tls, a goroutine per connection) on the same machine ($(nproc) CPUs); client and server share the CPUs."
} | tee "$out/tls.md"
