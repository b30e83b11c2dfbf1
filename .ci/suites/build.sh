#!/usr/bin/env bash
# capstan build against its peers: flux-local's golden build snapshots (object for object, per
# Flux Kustomization; ratchet on the identity match), the bundled example repository, and the
# `build all` benchmark on buroa/k8s-gitops (time and peak RSS) next to `kubectl kustomize` run
# once per Flux Kustomization path.
# Called as: bash build.sh REPO_ROOT SHARED_DIR
set -euo pipefail
root=$1
shared=$2
capstan=$root/target/release/capstan
[[ -x $capstan ]] || (cd "$root" && cargo build --release -q)

echo "== flux-local golden snapshots"
python3 "$root/.ci/suites/build_flux_local.py" "$capstan" "$shared/corpus/allenporter+flux-local/tests" --min-match 0.99 | grep -v '^  '

echo "== examples/home-ops"
"$capstan" build all --offline --path "$root/examples/home-ops" >/dev/null 2>/tmp/capstan-build-home-ops || {
  cat /tmp/capstan-build-home-ops
  echo "FAIL: capstan build all on examples/home-ops"
  exit 1
}
grep -v '^skipped: .*chart not available offline' /tmp/capstan-build-home-ops || true

echo "== benchmark: build all on buroa+k8s-gitops"
bash "$root/.ci/lib/build-bench.sh" "$capstan" "$shared/corpus/buroa+k8s-gitops"
