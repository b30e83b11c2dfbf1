#!/usr/bin/env bash
# Builds the SSA oracle offline with Debian's Go and Debian's structured-merge-diff sources
# (apt-get install golang-go golang-k8s-sigs-structured-merge-diff-dev).
# Usage: build.sh OUTPUT_BINARY
set -euo pipefail
out=${1:?usage: build.sh OUTPUT_BINARY}
here=$(cd "$(dirname "$0")" && pwd)
src=/usr/share/gocode/src/sigs.k8s.io/structured-merge-diff
[[ -d $src ]] || { echo "missing $src: apt-get install golang-k8s-sigs-structured-merge-diff-dev" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Debian installs the v4 module without its /v4 suffix; GOPATH mode needs the import path.
mkdir -p "$work/gopath/src/sigs.k8s.io/structured-merge-diff"
ln -s "$src" "$work/gopath/src/sigs.k8s.io/structured-merge-diff/v4"
mkdir -p "$(dirname "$out")"
cd "$here"
GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$work/cache" GOFLAGS= \
  go build -o "$out" .
echo "$out"
