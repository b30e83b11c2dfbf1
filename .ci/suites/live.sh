#!/usr/bin/env bash
# The live engine: exactly one rustls crypto provider (ring; aws-lc-rs must never be built), and
# the live benchmark against kube-fake (10,000 objects in 250 Kustomizations: cold apply time,
# peak RSS, requests per unchanged object at steady state, which must stay at most 0.1).
# Called as: bash live.sh REPO_ROOT SHARED_DIR
set -euo pipefail
root=$1
cd "$root"

echo "== one rustls crypto provider"
if cargo tree -e features --workspace 2>/dev/null | grep -q "aws-lc"; then
  echo "FAIL: aws-lc-rs is in the dependency tree (kube must use ring only)"
  exit 1
fi
cargo tree -e features -i ring --workspace 2>/dev/null | head -1

echo "== benchmark: live apply against kube-fake"
out=$(cargo bench -q -p capstan-cluster --bench live 2>/dev/null)
echo "$out"
ratio=$(echo "$out" | sed -n 's/.*requests per unchanged object at steady state: //p')
awk -v r="$ratio" 'BEGIN { exit !(r != "" && r <= 0.1) }' || {
  echo "FAIL: $ratio requests per unchanged object at steady state (at most 0.1)"
  exit 1
}
watched=$(echo "$out" | sed -n 's/.*requests per unchanged object with the watch-fed cache: //p')
awk -v r="$watched" 'BEGIN { exit !(r != "" && r <= 0.1) }' || {
  echo "FAIL: $watched requests per unchanged object with the watch-fed cache (at most 0.1)"
  exit 1
}
