#!/usr/bin/env bash
# TLS speed and memory (issue 4's speed section): go-smtp-source against go-smtp-sink, both
# on the event loop (tlsconn/), on the same machine:
#   1. --tls encrypt -d -s 100 -m 20000 against our own plaintext run of the same shape;
#   2. a connection (and a full handshake) per message at -s 100: handshakes/s and CPU per
#      handshake, client and sink; PEER_BIN=path PEER_ARGS="..." runs another client the
#      same way;
#   3. -s 5000 established sessions parked between messages: RSS per session, TLS minus
#      plaintext, of the client and of the sink (a fresh sink for each run).
# Prints a Markdown table (also written to benchmarks/out/tls.md).
# Measurements 1 and 3 run RUNS times (default 9 and 3), plaintext and TLS alternating, and
# report medians with the range: on a 2-core machine one run's rate swings by 10-20%.
# Usage: benchmarks/tls.sh   (MESSAGES=20000 HANDSHAKES=5000 PARKED=5000 to change the sizes,
#        RUNS=5 PARKED_RUNS=3 the repetitions;
#        SERVER=tlsserver measures against benchmarks/tlsserver, a goroutine-per-connection
#        Go server, instead of go-smtp-sink)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
MESSAGES=${MESSAGES:-20000}
HANDSHAKES=${HANDSHAKES:-5000}
PARKED=${PARKED:-5000}
RUNS=${RUNS:-9}
PARKED_RUNS=${PARKED_RUNS:-3}
SERVER=${SERVER:-go-smtp-sink}
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
mkdir -p benchmarks/out bin
go build -o bin/ ./cmd/go-smtp-source ./cmd/go-smtp-sink
go build -o bin/tlsserver ./benchmarks/tlsserver
out=benchmarks/out
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
target="127.0.0.1:$port"
server=""
stop_server() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=""
  fi
}
trap stop_server EXIT
# start_server: a fresh server on $target (go-smtp-sink --starttls with its self-signed
# certificate, or benchmarks/tlsserver), waiting until it accepts connections.
start_server() {
  stop_server
  if [ "$SERVER" = tlsserver ]; then
    bin/tlsserver -listen "$target" >"$out/server.log" 2>&1 &
  else
    bin/go-smtp-sink --starttls --stats "$out/sink-stats.json" "$target" 4096 >"$out/server.log" 2>&1 &
  fi
  server=$!
  for _ in $(seq 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.2).close()" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "tls.sh: $SERVER did not start:" >&2; cat "$out/server.log" >&2; exit 1
}
# server_cpu: the server's user+system CPU seconds so far.
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14+$15)/hz}' "/proc/$server/stat"; }

# rate FILE: messages/s from a --json result
rate() { python3 -c "import json,sys; print('%.0f' % json.load(open(sys.argv[1]))['summary']['rate_per_s'])" "$1"; }
counter() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['counters'].get(sys.argv[2], 0))" "$1" "$2"; }
calc() { python3 -c "print($1)"; }

# cpu_run NAME ARGS...: runs a client, prints its user+sys CPU seconds and, after a space,
# the server's CPU seconds spent meanwhile.
cpu_run() {
  local name=$1; shift
  local s0
  s0=$(server_cpu)
  /usr/bin/env time -f "%U %S" -o "$out/$name.time" "$@" >/dev/null 2>"$out/$name.err" || {
    echo "tls.sh: $name failed:" >&2; tail -3 "$out/$name.err" >&2; exit 1; }
  printf '%s %s\n' "$(awk '{printf "%.2f", $1+$2}' "$out/$name.time")" "$(calc "'%.2f' % ($(server_cpu) - $s0)")"
}

start_server
echo "1. -d -s 100 -m $MESSAGES: plaintext (EHLO) vs --tls encrypt, against $SERVER" >&2
# median V...: the median of the values (the mean of the middle two for an even count).
median() { python3 -c "import statistics,sys; print('%.2f' % statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
span() { python3 -c "import sys; v=[float(x) for x in sys.argv[1:]]; print('%.0f–%.0f' % (min(v), max(v)))" "$@"; }
rates_plain=(); rates_tls=(); cpus_plain=(); cpus_tls=(); scpus_plain=(); scpus_tls=(); ratios=()
for i in $(seq "$RUNS"); do
  read -r c s < <(cpu_run plain bin/go-smtp-source --quiet --ehlo -d -s 100 -m "$MESSAGES" --json "$out/plain.json" "$target")
  rp=$(rate "$out/plain.json"); rates_plain+=("$rp"); cpus_plain+=("$c"); scpus_plain+=("$s")
  read -r c s < <(cpu_run tls bin/go-smtp-source --quiet --tls encrypt -d -s 100 -m "$MESSAGES" --json "$out/tls.json" "$target")
  rt=$(rate "$out/tls.json"); rates_tls+=("$rt"); cpus_tls+=("$c"); scpus_tls+=("$s")
  ratios+=("$(calc "$rt / $rp")")
  echo "   run $i: plaintext $rp msg/s, TLS $rt msg/s" >&2
done
r_plain=$(median "${rates_plain[@]}"); r_tls=$(median "${rates_tls[@]}")
r_plain=${r_plain%.*}; r_tls=${r_tls%.*}
cpu_plain=$(median "${cpus_plain[@]}"); cpu_tls=$(median "${cpus_tls[@]}")
scpu_plain=$(median "${scpus_plain[@]}"); scpu_tls=$(median "${scpus_tls[@]}")
ratio=$(calc "'%.2f' % ($r_tls / $r_plain)")
ratio_span=$(python3 -c "import sys; v=[float(x) for x in sys.argv[1:]]; print('%.2f–%.2f' % (min(v), max(v)))" "${ratios[@]}")

echo "2. a handshake per message: -s 100 -m $HANDSHAKES --tls encrypt" >&2
read -r cpu_hs scpu_hs < <(cpu_run hs bin/go-smtp-source --quiet --tls encrypt -s 100 -m "$HANDSHAKES" --json "$out/hs.json" "$target")
r_hs=$(rate "$out/hs.json")
hs_us=$(calc "'%.0f' % ($cpu_hs / $HANDSHAKES * 1e6)"); shs_us=$(calc "'%.0f' % ($scpu_hs / $HANDSHAKES * 1e6)")
read -r cpu_res scpu_res < <(cpu_run hsres bin/go-smtp-source --quiet --tls encrypt --tls-resume -s 100 -m "$HANDSHAKES" --json "$out/hsres.json" "$target")
r_res=$(rate "$out/hsres.json"); resumed=$(counter "$out/hsres.json" tls_resumed)
res_us=$(calc "'%.0f' % ($cpu_res / $HANDSHAKES * 1e6)"); sres_us=$(calc "'%.0f' % ($scpu_res / $HANDSHAKES * 1e6)")
peer_row="| another client | (none given: PEER_BIN=path PEER_ARGS=\"...\" compares one) | | | |"
if [ -n "${PEER_BIN:-}" ]; then
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  read -r cpu_peer scpu_peer < <(cpu_run peer "$PEER_BIN" ${PEER_ARGS:-} -s 100 -m "$HANDSHAKES" "$target")
  el=$(calc "__import__('time').time() - $start")
  peer_row="| $(basename "$PEER_BIN") ${PEER_ARGS:-} | $(calc "'%.0f' % ($HANDSHAKES / $el)") handshakes/s (wall clock incl. start) | $(calc "'%.0f' % ($cpu_peer / $HANDSHAKES * 1e6)") µs | $(calc "'%.0f' % ($scpu_peer / $HANDSHAKES * 1e6)") µs | |"
else
  echo "tls.sh: no PEER_BIN given: only go-smtp-source is measured" >&2
fi

echo "3. -s $PARKED sessions parked between messages (-d -w 5, three messages each): RSS" >&2
# parked_rss ARGS...: with a fresh server, the client's and the server's RSS in KiB,
# sampled every 0.25 s while the sessions send a message, wait 5 s, twice more, then QUIT;
# prints "peak settled" for the client, then for the server. Settled is the lowest RSS of
# the run's last 3 s (the end of the last pause and the QUITs), when the garbage of the
# simultaneous handshakes has been collected and mostly returned to the system; the peak is
# dominated by the handshakes.
parked_rss() {
  start_server
  bin/go-smtp-source --quiet -d -w 5 -s "$PARKED" -m "$((PARKED * 3))" --timeout 60s "$@" "$target" >/dev/null 2>"$out/parked.err" &
  local pid=$! rss srss
  : >"$out/parked.rss"
  while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || true)
    srss=$(awk '/^VmRSS/{print $2}' "/proc/$server/status" 2>/dev/null || true)
    [ -n "$rss" ] && [ -n "$srss" ] && echo "$rss $srss" >>"$out/parked.rss"
    sleep 0.25
  done
  wait "$pid" || { echo "tls.sh: parked run failed:" >&2; tail -3 "$out/parked.err" >&2; stop_server; exit 1; }
  stop_server # this runs in a subshell (< <(...)): its server is not the main shell's to stop
  python3 - "$out/parked.rss" <<'PY'
import sys
rows = [tuple(int(x) for x in l.split()) for l in open(sys.argv[1]) if l.strip()]
out = []
for col in (0, 1):
    v = [r[col] for r in rows]
    peak = max(v)
    tail = v[max(0, len(v) - 12):]
    out += [peak, min(x for x in tail if x > 0.3 * peak) if tail else peak]
print(*out)
PY
}
# Medians over PARKED_RUNS alternating runs, column by column.
parked_p=(); parked_t=()
for i in $(seq "$PARKED_RUNS"); do
  parked_p+=("$(parked_rss --ehlo)")
  parked_t+=("$(parked_rss --tls encrypt)")
  echo "   run $i: plaintext ${parked_p[-1]}, TLS ${parked_t[-1]} (KiB: client peak settled, sink peak settled)" >&2
done
column_medians() { python3 -c "
import statistics, sys
rows = [[int(x) for x in r.split()] for r in sys.argv[1:]]
print(*[int(statistics.median(c)) for c in zip(*rows)])" "$@"; }
read -r peak_plain rss_plain speak_plain srss_plain < <(column_medians "${parked_p[@]}")
read -r peak_tls rss_tls speak_tls srss_tls < <(column_medians "${parked_t[@]}")
per_session=$(calc "'%.1f' % (($rss_tls - $rss_plain) / $PARKED)")
per_session_peak=$(calc "'%.1f' % (($peak_tls - $peak_plain) / $PARKED)")
s_per_session=$(calc "'%.1f' % (($srss_tls - $srss_plain) / $PARKED)")
s_per_session_peak=$(calc "'%.1f' % (($speak_tls - $speak_plain) / $PARKED)")

{
  echo "| measurement | go-smtp-source | client CPU | $SERVER CPU | note |"
  echo "| --- | --- | --- | --- | --- |"
  echo "| -d -s 100 -m $MESSAGES, plaintext (EHLO), median of $RUNS | $r_plain msg/s ($(span "${rates_plain[@]}")) | ${cpu_plain} s | ${scpu_plain} s | |"
  echo "| -d -s 100 -m $MESSAGES, --tls encrypt, median of $RUNS | $r_tls msg/s ($(span "${rates_tls[@]}")) | ${cpu_tls} s | ${scpu_tls} s | **$ratio×** plaintext (target ≥ 0.8×; run by run $ratio_span) |"
  echo "| a handshake per message, -s 100, --tls encrypt | $r_hs handshakes/s | $hs_us µs/handshake | $shs_us µs/handshake | full handshakes (TLS 1.3, X25519MLKEM768) |"
  echo "| the same with --tls-resume | $r_res handshakes/s | $res_us µs/handshake | $sres_us µs/handshake | $resumed of $HANDSHAKES resumed |"
  echo "$peer_row"
  echo "| -s $PARKED parked sessions (median of $PARKED_RUNS), settled RSS, client | plaintext $((rss_plain / 1024)) MiB, TLS $((rss_tls / 1024)) MiB | | | **$per_session KiB** per TLS session above plaintext (target ≤ 10) |"
  echo "| -s $PARKED parked sessions, settled RSS, $SERVER | plaintext $((srss_plain / 1024)) MiB, TLS $((srss_tls / 1024)) MiB | | | **$s_per_session KiB** per TLS session above plaintext (target ≤ 10) |"
  echo "| -s $PARKED parked sessions, peak RSS | client: plaintext $((peak_plain / 1024)) MiB, TLS $((peak_tls / 1024)) MiB; $SERVER: plaintext $((speak_plain / 1024)) MiB, TLS $((speak_tls / 1024)) MiB | | | $per_session_peak KiB (client), $s_per_session_peak KiB ($SERVER) per TLS session: includes the garbage of $PARKED simultaneous handshakes |"
  echo
  if [ "$SERVER" = tlsserver ]; then
    echo "Server: benchmarks/tlsserver (Go crypto/tls, a goroutine per connection)"
  else
    echo "Server: go-smtp-sink --starttls (self-signed ECDSA P-256 certificate; TLS on its event loops, tlsconn/)"
  fi
  echo "on the same machine ($(nproc) CPUs); client and server share the CPUs."
} | tee "$out/tls.md"
