#!/usr/bin/env bash
# Measures Duplex's codecs (go test -bench in package parser) and the
# official Node codecs (engine.io-parser, socket.io-parser,
# socket.io-msgpack-parser) on the same packets, in one run, and prints a
# markdown table of ns/op with the ratio Go/Node (below 1: Go is faster).
#
#   interop/bench/compare-parsers.sh          (from anywhere; npm ci first)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
names='AppendPacket|DecodePacket|AppendPayload|DecodePayload|EncodeEvent|EncodeBinaryEvent|DecodeEvent|DecodeBinaryEvent|MsgpackEncodeEvent|MsgpackEncodeBinaryEvent|MsgpackDecodeEvent|MsgpackDecodeBinaryEvent'
gofile="$(mktemp)"; nodefile="$(mktemp)"
trap 'rm -f "$gofile" "$nodefile"' EXIT
(cd "$root" && go test ./parser -run '^$' -bench "^Benchmark($names)\$" -benchmem -count 1) |
  awk '/^Benchmark/ { name=$1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name); for (i=2;i<=NF;i++) { if ($(i+1)=="ns/op") ns=$i; if ($(i+1)=="allocs/op") al=$i } print name, ns, al }' > "$gofile"
node "$here/parsers.mjs" > "$nodefile"
echo "| operation | Go ns/op | Go allocs/op | Node ns/op | Go/Node |"
echo "| --- | ---: | ---: | ---: | ---: |"
awk 'NR==FNR { node[$1]=$2; next } ($1 in node) { printf "| %s | %.0f | %s | %.0f | %.2f |\n", $1, $2, $3, node[$1], $2/node[$1] }' "$nodefile" "$gofile"
