#!/usr/bin/env bash
# Benchmark: `capstan build all --path REPO` (best wall time of 3 runs, CPU time, peak RSS) against
# `kubectl kustomize` run once per Flux Kustomization path the build rendered. The machines CI
# runs on are shared, so CPU time (user + sys) is printed next to wall time.
# Usage: bash build-bench.sh CAPSTAN REPO
set -euo pipefail
capstan=$1
repo=$2
kubectl=$(command -v kubectl || echo "${CAPSTAN_ORACLES:-$HOME/.cache/capstan-oracles}/bin/kubectl")
measure() { # prints "wall cpu rss"
  /usr/bin/time -f '%e %U %S %M' -o /tmp/capstan-bench-time "$@" >/dev/null 2>&1 || true
  tail -1 /tmp/capstan-bench-time | awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}'
}

best=
for _ in 1 2 3; do
  read -r wall cpu rss < <(measure "$capstan" build all --offline --path "$repo")
  if [[ -z $best ]] || (($(echo "$wall < $best" | bc))); then best=$wall; best_cpu=$cpu; best_rss=$rss; fi
done
"$capstan" build ks --offline --path "$repo" -o json 2>/dev/null >/tmp/capstan-bench-ks.json || true
mapfile -t paths < <(python3 -c '
import json
for r in json.load(open("/tmp/capstan-bench-ks.json")):
    if r.get("path") and r["status"] == "rendered": print(r["path"])')
echo "capstan build all: ${best}s wall, ${best_cpu}s CPU, peak RSS ${best_rss} KiB (best of 3; ${#paths[@]} Kustomization paths rendered)"
if [[ -x $kubectl ]]; then
  printf '%s\n' "${paths[@]}" >/tmp/capstan-bench-paths
  read -r wall cpu rss < <(measure bash -c '
    while read -r p; do "$0" kustomize --load-restrictor LoadRestrictionsNone "$1/$p" >/dev/null 2>&1 || true; done </tmp/capstan-bench-paths
  ' "$kubectl" "$repo")
  echo "kubectl kustomize once per path: ${wall}s wall, ${cpu}s CPU"
  echo "speed-up: $(echo "scale=1; $wall / $best" | bc)x wall, $(echo "scale=1; $cpu / $best_cpu" | bc)x CPU"
else
  echo "kubectl not found: skipping the comparison"
fi
