#!/usr/bin/env bash
# Runs every benchmark scenario against Duplex, the official Node server
# and the floor (a bare gorilla/websocket server), one server process per
# run, the server pinned to one core and the load tool to the other, and
# writes a markdown table of the figures and their ratios to stdout and to
# bench/results/latest.md (the JSON lines go to bench/results/latest.jsonl,
# and a chart of them to bench/results/latest.svg).
#
#   bench/run.sh                      the default run, a few minutes
#   CONNECT_N=10000 bench/run.sh      memory per client at 10,000 clients
#   SCALE_N=19000 bench/run.sh        also hold 19,000 clients through heartbeats
#   CONNECT_N=10000 SCALE_N=19000 CASES="connect connect-rooms connect-scale connect-rooms-scale" bench/run.sh
#                                     memory per idle client, plain and in rooms, at both sizes
#   SERVERS="duplex node" bench/run.sh
#   BASELINE=HEAD~3 CASES="connect echo" REPEAT=3 bench/run.sh
#
# BASELINE=<git revision> also builds bench/servers/duplex at that revision
# and runs it as the server "baseline", right before duplex in every case,
# so the table gains a baseline column and the ratio duplex/baseline.
#
# Every knob is an environment variable; see the defaults below and
# bench/README.md.
set -euo pipefail
cd "$(dirname "$0")"
BENCH=$PWD
ROOT=$(cd .. && pwd)

: "${SERVERS:=duplex node floor}"
: "${BASELINE:=}"            # a git revision: also run Duplex built from it, as "baseline"
: "${DURATION:=5s}"          # measurement window of each run
: "${WARMUP:=1s}"            # run before the window
: "${CONNECT_N:=2000}"       # connect: clients, held for the memory figures
: "${CONNECT_C:=50}"         # connect: clients dialing at once
: "${CONNECT_HOLD:=5s}"      # connect, connect-rooms: idle time before the memory is read
: "${CLIENT_ROOMS:=3}"       # connect-rooms: rooms each client joins
: "${POLL_CONNECT_N:=1000}"  # polling handshakes
: "${POLL_IDLE_N:=1000}"     # polling-idle: sessions held, each long-polling on two connections ...
: "${POLL_IDLE_HOLD:=35s}"   # ... for this long: past the first heartbeat (25s) and Node's keep-alive timeout (5s)
: "${ECHO_C:=50}"            # echo: clients in the closed loop
: "${ECHO_RATE:=5000}"       # echo at a fixed rate: acks/s
: "${BCAST_N:=1000}"         # broadcast: clients
: "${BCAST_WINDOW:=2}"       # broadcast: broadcasts in flight
: "${BCAST_RATE:=20000}"     # broadcast at a fixed rate: deliveries/s ...
: "${RATE_N:=1000}"          # ... to this many clients
: "${ROOMS_N:=1000}"         # rooms: clients ...
: "${ROOMS:=100}"            # ... in this many rooms
: "${ROOMS_WINDOW:=16}"      # rooms: broadcasts in flight
: "${POLL_C:=20}"            # polling echo: clients
: "${POLL_RATE:=1000}"       # polling echo at a fixed rate: acks/s
: "${PAYLOAD:=32}"           # bytes of the string each event carries
: "${SCALE_CASES:=echo broadcast}" # closed-loop cases run again with the server on both cores
: "${SCALE_N:=0}"            # when set, hold this many clients through heartbeats, plain and in rooms
: "${SCALE_HOLD:=30s}"       # ... for this long (the ping interval is 25s)
: "${PROFILE:=0}"            # 1: CPU profiles of the Go servers in $OUT/profiles
: "${CASES:=}"               # the cases to run (names as in the table's notes); empty: all
: "${REPEAT:=1}"             # runs of each case per server; the table shows medians
: "${QUIET_WAIT:=30}"        # seconds to wait, before each run, for the machine to be idle
: "${SERVER_CPUS:=0}"
: "${TOOL_CPUS:=1}"
: "${OUT:=$BENCH/results}"

started=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# File descriptors: one per client in each process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nofile=$(ulimit -n)
need=$(( CONNECT_N > SCALE_N ? CONNECT_N : SCALE_N ))
need=$(( need > 2 * POLL_IDLE_N ? need : 2 * POLL_IDLE_N )) # a polling session holds two connections
if [ "$nofile" != unlimited ] && [ "$need" -gt $(( nofile - 100 )) ]; then
  echo "run.sh: ulimit -n is $nofile, too low for $need clients; raise the hard limit" >&2
  exit 1
fi

if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
  server_pin=(taskset -c "$SERVER_CPUS")
  both_pin=(taskset -c "0-$(( $(nproc) - 1 ))")
  tool_pin=(taskset -c "$TOOL_CPUS")
  pinning="server on CPU $SERVER_CPUS, load tool on CPU $TOOL_CPUS (taskset)"
else
  server_pin=()
  both_pin=()
  tool_pin=()
  pinning="not pinned: taskset missing or fewer than 2 CPUs; the server and the load tool share the CPUs"
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

baseline_rev=""
if [ -n "$BASELINE" ]; then
  if ! baseline_rev=$(git -C "$ROOT" rev-parse --short --verify --quiet "$BASELINE^{commit}"); then
    echo "run.sh: BASELINE=$BASELINE is not a revision of $ROOT" >&2
    exit 1
  fi
  # baseline runs right before duplex, so the two runs of a case are back to back.
  if [[ " $SERVERS " == *" duplex "* ]]; then
    SERVERS=$(for s in $SERVERS; do [ "$s" = duplex ] && printf 'baseline '; printf '%s ' "$s"; done)
  else
    SERVERS="baseline $SERVERS"
  fi
  SERVERS=${SERVERS% }
elif [[ " $SERVERS " == *" baseline "* ]]; then
  echo "run.sh: the server baseline needs BASELINE=<git revision>" >&2
  exit 1
fi

echo "==> building" >&2
(cd "$ROOT" && go build -o "$work/sioload" ./bench/cmd/sioload \
  && go build -o "$work/benchtable" ./bench/cmd/benchtable \
  && go build -o "$work/duplex" ./bench/servers/duplex \
  && go build -o "$work/floor" ./bench/servers/floor)
if [ -n "$BASELINE" ]; then
  # git archive, not a worktree: nothing to undo in the repository afterwards.
  echo "==> building baseline: Duplex at $baseline_rev ($BASELINE)" >&2
  mkdir "$work/baseline-src"
  git -C "$ROOT" archive "$baseline_rev" | tar -x -C "$work/baseline-src"
  if ! (cd "$work/baseline-src" && go build -o "$work/baseline" ./bench/servers/duplex); then
    echo "run.sh: bench/servers/duplex does not build at $BASELINE ($baseline_rev)" >&2
    exit 1
  fi
fi
if [[ " $SERVERS " == *" node "* ]]; then
  if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    echo "==> npm ci (bench/servers/node)" >&2
    if ! (cd "$BENCH/servers/node" && npm ci --no-audit --no-fund --loglevel=error >&2); then
      echo "run.sh: npm ci failed: the Node server is left out" >&2
      SERVERS=${SERVERS//node/}
    fi
  else
    echo "run.sh: node or npm missing: the Node server is left out" >&2
    SERVERS=${SERVERS//node/}
  fi
fi

# seconds DURATION: whole seconds in a Go duration such as 5s, 1500ms or 1m.
seconds() {
  case $1 in
    *ms) echo $(( ${1%ms} / 1000 )) ;;
    *m) echo $(( ${1%m} * 60 )) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
  esac
}

# busy_sample: prints "busy total" jiffies of all CPUs from /proc/stat.
busy_sample() {
  local _ u n s i w q sq st
  read -r _ u n s i w q sq st _ < /proc/stat
  echo "$(( u + n + s + q + sq + st )) $(( u + n + s + i + w + q + sq + st ))"
}

# quiet: waits up to QUIET_WAIT seconds for a second in which other
# processes keep less than a fifth of a CPU busy (the machine may be shared).
quiet() {
  local deadline=$(( $(date +%s) + QUIET_WAIT )) b0 t0 b1 t1
  while :; do
    read -r b0 t0 <<< "$(busy_sample)"
    sleep 1
    read -r b1 t1 <<< "$(busy_sample)"
    # busy CPUs × 1000 = (busy / total) × CPUs × 1000
    if [ $(( (b1 - b0) * $(nproc) * 1000 / (t1 - t0 + 1) )) -lt 200 ] || [ "$(date +%s)" -ge "$deadline" ]; then
      return 0
    fi
  done
}

# start_server NAME PIN...: starts a server, sets server_pid and port.
start_server() {
  local name=$1; shift
  local cmd
  case $name in
    duplex) cmd=("$work/duplex") ;;
    baseline) cmd=("$work/baseline") ;;
    floor) cmd=("$work/floor") ;;
    node) cmd=(node --expose-gc "$BENCH/servers/node/server.mjs") ;;
    *) echo "run.sh: unknown server $name" >&2; return 1 ;;
  esac
  : > "$work/server.out"
  PORT=0 "$@" "${cmd[@]}" > "$work/server.out" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$work/server.out")
    [ -n "$port" ] && return 0
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "run.sh: $name did not start:" >&2
  cat "$work/server.out" >&2
  return 1
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

results="$work/results.jsonl"
: > "$results"

# run_case CASE SERVER-PIN-NAME ARGS...: runs the load tool once against each server.
run_case() {
  local tag=$1 pin=$2; shift 2
  local s rep
  if [ -n "$CASES" ] && [[ " $CASES " != *" $tag "* ]]; then return 0; fi
  for rep in $(seq "$REPEAT"); do
  for s in $SERVERS; do
    quiet
    if [ "$pin" = both ]; then
      start_server "$s" "${both_pin[@]}" || continue
    else
      start_server "$s" "${server_pin[@]}" || continue
    fi
    echo "==> $tag: $s" >&2
    local prof_pid=""
    if [ "$PROFILE" = 1 ] && [ "$s" != node ]; then
      mkdir -p "$OUT/profiles"
      # The measurement window, less a second of margin, after the warm-up.
      (sleep "$(seconds "$WARMUP")"; curl -s -o "$OUT/profiles/$tag-$s.pprof" \
        "http://127.0.0.1:$port/debug/pprof/profile?seconds=$(( $(seconds "$DURATION") > 1 ? $(seconds "$DURATION") - 1 : 1 ))") &
      prof_pid=$!
    fi
    "${tool_pin[@]}" "$work/sioload" -url "http://127.0.0.1:$port" -pid "$server_pid" \
      -label "$s" -case "$tag" -duration "$DURATION" -warmup "$WARMUP" -payload "$PAYLOAD" "$@" \
      | tee -a "$results" >&2 || echo "run.sh: $tag against $s failed" >&2
    if [ -n "$prof_pid" ]; then wait "$prof_pid" || true; fi
    stop_server
  done
  done
}

run_case connect one -scenario connect -n "$CONNECT_N" -c "$CONNECT_C" -hold "$CONNECT_HOLD"
run_case connect-rooms one -scenario connect -n "$CONNECT_N" -c "$CONNECT_C" -join "$CLIENT_ROOMS" -hold "$CONNECT_HOLD"
run_case connect-polling one -scenario connect -transport polling -n "$POLL_CONNECT_N" -c "$CONNECT_C"
run_case polling-idle one -scenario polling-idle -n "$POLL_IDLE_N" -c "$CONNECT_C" -hold "$POLL_IDLE_HOLD" \
  -timeout "$(( $(seconds "$POLL_IDLE_HOLD") + 120 ))s"
run_case echo one -scenario echo -c "$ECHO_C"
run_case echo-rate one -scenario echo -c "$ECHO_C" -rate "$ECHO_RATE"
run_case broadcast one -scenario broadcast -n "$BCAST_N" -window "$BCAST_WINDOW"
run_case broadcast-rate one -scenario broadcast -n "$RATE_N" -rate "$BCAST_RATE"
run_case rooms one -scenario rooms -n "$ROOMS_N" -rooms "$ROOMS" -window "$ROOMS_WINDOW"
run_case polling one -scenario polling -c "$POLL_C"
run_case polling-rate one -scenario polling -c "$POLL_C" -rate "$POLL_RATE"
if [ ${#both_pin[@]} -gt 0 ]; then
  for c in $SCALE_CASES; do
    case $c in
      echo) run_case echo-2cores both -scenario echo -c "$ECHO_C" ;;
      broadcast) run_case broadcast-2cores both -scenario broadcast -n "$BCAST_N" -window "$BCAST_WINDOW" ;;
    esac
  done
fi
if [ "$SCALE_N" -gt 0 ]; then
  run_case connect-scale one -scenario connect -n "$SCALE_N" -c "$CONNECT_C" -hold "$SCALE_HOLD" -timeout 10m
  run_case connect-rooms-scale one -scenario connect -n "$SCALE_N" -c "$CONNECT_C" -join "$CLIENT_ROOMS" \
    -hold "$SCALE_HOLD" -timeout 10m
fi

elapsed=$(( $(date +%s) - started ))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
sio_version=$(node -e 'console.log(require(process.argv[1]).packages["node_modules/socket.io"].version)' \
  "$BENCH/servers/node/package-lock.json" 2>/dev/null || echo "?")
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
if [ -n "$(git -C "$ROOT" status --porcelain -- socketio engineio transport parser adapter 2>/dev/null)" ]; then
  commit="$commit (with uncommitted changes to the library)"
fi

mkdir -p "$OUT"
{
  echo "# Benchmark results"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); Duplex at $commit; bench/run.sh took ${elapsed}s."
  if [ -n "$BASELINE" ]; then
    echo "- Baseline: Duplex at $baseline_rev (BASELINE=$BASELINE), the same server built from that revision, run right before duplex in each case."
  fi
  echo "- Machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(free -g | awk '/^Mem:/ {print $2}') GiB, Linux $(uname -r)."
  echo "- $(go version | cut -d' ' -f3), Node $(node --version 2>/dev/null || echo missing), socket.io $sio_version; servers with default options."
  echo "- Pinning: $pinning. ulimit -n $nofile."
  echo "- Knobs: REPEAT=$REPEAT DURATION=$DURATION WARMUP=$WARMUP CONNECT_N=$CONNECT_N CONNECT_C=$CONNECT_C CONNECT_HOLD=$CONNECT_HOLD CLIENT_ROOMS=$CLIENT_ROOMS POLL_CONNECT_N=$POLL_CONNECT_N POLL_IDLE_N=$POLL_IDLE_N POLL_IDLE_HOLD=$POLL_IDLE_HOLD ECHO_C=$ECHO_C ECHO_RATE=$ECHO_RATE BCAST_N=$BCAST_N BCAST_WINDOW=$BCAST_WINDOW BCAST_RATE=$BCAST_RATE RATE_N=$RATE_N ROOMS_N=$ROOMS_N ROOMS=$ROOMS ROOMS_WINDOW=$ROOMS_WINDOW POLL_C=$POLL_C POLL_RATE=$POLL_RATE PAYLOAD=$PAYLOAD SCALE_N=$SCALE_N SCALE_HOLD=$SCALE_HOLD."
  echo "- Load average (1, 5, 15 min) before: $load_before; after: $load_after."
  echo "- Each run: a fresh server process, ${WARMUP} warm-up, ${DURATION} measured; events carry a ${PAYLOAD}-byte string; each case run $REPEAT time(s) per server, the table shows medians."
  echo
  echo "↑ higher is better, ↓ lower is better. Ratios are Duplex's figure over the other server's. Load tool CPU is in cores (1.00 = the tool's core saturated)."
  echo
  refs=$(for s in $SERVERS; do case $s in duplex|baseline) ;; *) printf '%s,' "$s" ;; esac; done)
  baseline_flag=()
  if [ -n "$BASELINE" ]; then baseline_flag=(-baseline baseline); fi
  "$work/benchtable" "${baseline_flag[@]}" -ref "${refs%,}" < "$results"
} > "$work/latest.md"
cp "$results" "$OUT/latest.jsonl"
cp "$work/latest.md" "$OUT/latest.md"
(cd "$ROOT" && go run ./bench/cmd/benchchart -md "$OUT/latest.md" -o "$OUT/latest.svg" < "$OUT/latest.jsonl")
cat "$OUT/latest.md"
