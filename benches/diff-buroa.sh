#!/usr/bin/env bash
# Times `capstan diff all` on a temporary git copy of the buroa corpus repository with a one-file
# change: changed-only (the default) against --full. Not run by CI; numbers go in notes.
#   usage: benches/diff-buroa.sh [CAPSTAN_BINARY] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/target/release/capstan}
runs=${2:-5}
shared=${CAPSTAN_SHARED:-$root/../shared}
[[ -d $shared/corpus ]] || shared=/work/shared
corpus=$shared/corpus/buroa+k8s-gitops
[[ -d $corpus ]] || { echo "skipping: $corpus not found"; exit 0; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus" "$work/repo"
cd "$work/repo"
git init -q -b main && git add -A
git -c user.name=b -c user.email=b@b -c commit.gpgsign=false commit -qm base
# one file: an application's HelmRelease gets a new value
file=$(grep -rl "kind: HelmRelease" kubernetes/apps | head -1)
printf '\n# bench edit\n' >> "$file"
sed -i '0,/^spec:/s//spec:\n  timeout: 11m/' "$file"
echo "changed: $file"
# prints "best median" in milliseconds
time_ms() {
  local times=()
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s%N)
    "$bin" "$@" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000000 )))
  done
  local sorted
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  echo "$(echo "$sorted" | head -1) ms best, $(echo "$sorted" | sed -n "$(( (runs + 1) / 2 ))p") ms median"
}
echo "changed-only: $(time_ms diff all --path . --base HEAD --offline) (of $runs runs)"
echo "full:         $(time_ms diff all --path . --base HEAD --offline --full) (of $runs runs)"
"$bin" diff all --path . --base HEAD --offline | tail -3 || true
