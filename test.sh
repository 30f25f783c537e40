#!/usr/bin/env bash
# Runs every test of the project: go vet, the Go tests under the race
# detector, a short run of every fuzz target, and the interop suites that
# drive the Go server (and the Node reference) with the official Node
# clients. It installs what it needs (npm packages) on a fresh machine.
#
#   ./test.sh            everything
#   FUZZTIME=5000000x ./test.sh  longer fuzz runs (inputs per target)
set -euo pipefail
cd "$(dirname "$0")"
# A count of inputs rather than a duration: with a duration, Go 1.26's fuzz
# coordinator can fail a run that found nothing with "context deadline
# exceeded" as the time runs out (golang/go#75804).
FUZZTIME="${FUZZTIME:-50000x}"

step() { printf '\n==> %s\n' "$*"; }

fuzz() { # fuzz DIR PACKAGE TARGET: a short fuzz run, its output shown only when it fails
  local log
  log="$(mktemp)"
  if ! (cd "$1" && go test "$2" -run '^$' -fuzz "^$3\$" -fuzztime "$FUZZTIME") >"$log" 2>&1; then
    cat "$log"
    echo "fuzz target $3 failed (its failing input is kept under testdata/fuzz/$3 beside the package)"
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

need() { # need COMMAND DEBIAN-PACKAGE: install the package when the command is missing
  command -v "$1" >/dev/null 2>&1 && return 0
  step "installing $2"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
}

need go golang
need node nodejs
need npm npm

# Before the Go tests: socketio/clientdist checks its files against the
# socket.io-client package installed there.
step "interop: npm install"
(cd interop && npm ci --no-audit --no-fund --loglevel=error)

step "go vet"
go vet ./...

step "go test -race"
go test -race -count=1 ./...

step "go test -tags duplex_noclientbundle (a build without the client bundle)"
go test -count=1 -tags duplex_noclientbundle -run 'TestServeClient|TestFile' ./socketio/...

step "fuzz targets (-fuzztime ${FUZZTIME} each)"
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "$pkg $target"
    fuzz . "$pkg" "$target"
  done
done

step "adapter/redis: go vet, go test -race (a real redis-server, the Node adapters)"
need redis-server redis-server
(cd adapter/redis/interop && npm ci --no-audit --no-fund --loglevel=error)
(cd adapter/redis && go vet ./... && go test -race -count=1 ./...)
for target in $(cd adapter/redis && go test -list '^Fuzz' . | grep '^Fuzz' || true); do
  echo "adapter/redis $target"
  fuzz adapter/redis . "$target"
done

step "adapter/postgres: go vet, go test -race (a real PostgreSQL server, the Node adapter and emitter)"
command -v postgres >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need postgres postgresql
(cd adapter/postgres/interop && npm ci --no-audit --no-fund --loglevel=error)
(cd adapter/postgres && go vet ./... && go test -race -count=1 ./...)
for target in $(cd adapter/postgres && go test -list '^Fuzz' . | grep '^Fuzz' || true); do
  echo "adapter/postgres $target"
  fuzz adapter/postgres . "$target"
done

step "adapter/nats: go vet, go test -race (a real nats-server)"
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need nats-server nats-server
(cd adapter/nats && go vet ./... && go test -race -count=1 ./...)
for target in $(cd adapter/nats && go test -list '^Fuzz' . | grep '^Fuzz' || true); do
  echo "adapter/nats $target"
  fuzz adapter/nats . "$target"
done

step "metrics/prometheus: go vet, go test -race (the Prometheus collector and its example)"
(cd metrics/prometheus && go vet ./... && go test -race -count=1 ./...)

step "admin: go vet, go test -race (the Admin UI's server side)"
(cd admin && go vet ./... && go test -race -count=1 ./...)

step "examples/frameworks: go vet, go test -race (net/http, chi, gin, Echo, TLS and HTTP/2)"
(cd examples/frameworks && go vet ./... && go test -race -count=1 ./...)

step "examples/cluster: three nodes behind nginx, sticky and round-robin (a real redis-server, nginx, socket.io-client)"
need redis-server redis-server
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need nginx nginx
(cd examples/cluster/clients && npm ci --no-audit --no-fund --loglevel=error)
(cd examples/cluster && go vet ./... && go test -race -count=1 ./...)

step "interop: Node reference server"
(cd interop && npm run --silent test:node)

step "interop: Go server"
(cd interop && npm run --silent test:go)

step "examples/chat: browser test (Chromium)"
need chromium chromium
(cd examples/chat/e2e && npm ci --no-audit --no-fund --loglevel=error && npm test)

step "admin: the official Admin UI in Chromium"
need chromium chromium
(cd admin/e2e && npm ci --no-audit --no-fund --loglevel=error && npm test)
