#!/usr/bin/env bash
# Refreshes dist/ from npm: the browser bundles of socket.io-client that the
# reference server serves (serveClient), their source maps and the
# package's LICENSE, copied unchanged from the package of the version
# pinned by the Version constant in clientdist.go. To move to another
# release, change Version and run this script.
#
#   socketio/clientdist/refresh.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="$(sed -n 's/^const Version = "\(.*\)"$/\1/p' "$here/clientdist.go")"
if [ -z "$version" ]; then
  echo "refresh.sh: no Version constant in clientdist.go" >&2
  exit 1
fi
files=(
  socket.io.esm.min.js socket.io.esm.min.js.map
  socket.io.js socket.io.js.map
  socket.io.min.js socket.io.min.js.map
  socket.io.msgpack.min.js socket.io.msgpack.min.js.map
)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "socket.io-client@$version" >/dev/null)
tar -xzf "$tmp"/socket.io-client-"$version".tgz -C "$tmp"
got="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$tmp/package/package.json")"
if [ "$got" != "$version" ]; then
  echo "refresh.sh: npm gave socket.io-client $got, not $version" >&2
  exit 1
fi
rm -rf "$here/dist"
mkdir -p "$here/dist"
cp "$tmp/package/LICENSE" "$here/dist/LICENSE"
for f in "${files[@]}"; do
  cp "$tmp/package/dist/$f" "$here/dist/$f"
done
echo "socket.io-client $version: ${#files[@]} files and LICENSE in $here/dist"
