#!/usr/bin/env bash
# Runs the cluster example on this machine until Ctrl-C: a redis-server,
# three Duplex nodes and nginx in front of them, all on loopback, with
# their files in a temporary directory that is removed on exit.
#
#   ./run.sh                          # then open http://127.0.0.1:8080 in a few tabs
#   PORT=9000 ADAPTER=streams ./run.sh
#   STICKY=false ./run.sh             # nginx round-robin, no sticky sessions
#
# PORT is nginx's port (default 8080), ADAPTER the nodes' Redis adapter:
# pubsub (default), sharded or streams; STICKY=false starts the nodes with
# -sticky=false and nginx balancing every request round-robin. Needs go,
# redis-server and nginx
# (Debian: apt-get install golang redis-server nginx).
set -euo pipefail
cd "$(dirname "$0")"
PORT="${PORT:-8080}"
ADAPTER="${ADAPTER:-pubsub}"
STICKY="${STICKY:-true}"
NODES=3

PATH="$PATH:/usr/sbin" # where Debian puts nginx
for cmd in go redis-server nginx; do
  command -v "$cmd" >/dev/null || { echo "run.sh: $cmd not found" >&2; exit 1; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/duplex-cluster.XXXXXX")
pids=() # started processes, in order

# Stop everything in the reverse order of starting (nginx, the nodes,
# Redis), each waited for, then remove the directory.
cleanup() {
  trap - EXIT INT TERM
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start COMMAND...: run COMMAND in the background, in a session of its own so
# that Ctrl-C reaches only this script, which then stops everything in order.
start() {
  if command -v setsid >/dev/null; then setsid "$@" & else "$@" & fi
  pids+=($!)
}

# wait_for WHAT PID COMMAND...: poll COMMAND for 10s, failing early if PID exits.
wait_for() {
  local what=$1 pid=$2
  shift 2
  for _ in $(seq 100); do
    "$@" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { echo "run.sh: $what exited" >&2; return 1; }
    sleep 0.1
  done
  echo "run.sh: $what did not start" >&2
  return 1
}

echo "building the node"
go build -o "$dir/node" .

# Redis on a Unix socket in the directory: no port to find or to clash.
start redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 \
  --dir "$dir" --save "" --appendonly no --logfile "$dir/redis.log"
wait_for redis-server "${pids[-1]}" test -S "$dir/redis.sock" || { cat "$dir/redis.log" >&2; exit 1; }

# The nodes listen on free loopback ports and print them; they log here.
servers=""
for i in $(seq "$NODES"); do
  start "$dir/node" -addr 127.0.0.1:0 -redis "unix://$dir/redis.sock" -name "node-$i" \
    -adapter "$ADAPTER" -sticky="$STICKY" >"$dir/node-$i.out"
  wait_for "node-$i" "${pids[-1]}" grep -q '^listening on ' "$dir/node-$i.out"
  addr=$(sed -n 's|^listening on http://||p' "$dir/node-$i.out")
  echo "node-$i on http://$addr"
  servers+="        server $addr max_fails=0;"$'\n'
done

# nginx with nginx.conf.tmpl filled in; "daemon off" keeps it our child.
conf=$(<nginx.conf.tmpl)
conf=${conf//@LISTEN@/127.0.0.1:$PORT}
conf=${conf//@SERVERS@/${servers%$'\n'}}
if [ "$STICKY" = false ]; then
  conf=${conf//@BALANCE@/# round-robin: every request to the next node}
else
  conf=${conf//@BALANCE@/hash \$sticky_key consistent;}
fi
printf '%s\n' "$conf" >"$dir/nginx.conf"
start nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log"
wait_for nginx "${pids[-1]}" bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" || { cat "$dir/error.log" >&2; exit 1; }

cat <<EOF

cluster up: http://127.0.0.1:$PORT (nginx, in front of $NODES nodes on the $ADAPTER adapter)
nginx's access log, with the node of each request: $dir/access.log
Ctrl-C stops it.
EOF
wait -n # until Ctrl-C, or until one of them stops
echo "run.sh: a process stopped; stopping the others" >&2
exit 1
