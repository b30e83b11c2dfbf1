#!/usr/bin/env bash
# Discovery over the corpus with the release binary: `capstan get all -A` and `capstan graph -o json`
# must run on every corpus repository (exit 0 clean or 1 findings, never 2), and the discovery
# benchmark reports its time for buroa/k8s-gitops (target: under 200 ms).
# Called as: bash discovery.sh REPO_ROOT SHARED_DIR
set -euo pipefail
root=$1
shared=$2
capstan=$root/target/release/capstan
[[ -x $capstan ]] || (cd "$root" && cargo build --release -q)

for repo in "$shared"/corpus/buroa+k8s-gitops "$shared"/corpus/fluxcd+flux2-kustomize-helm-example \
  "$shared"/corpus/allenporter+flux-local/tests/testdata/cluster*; do
  [[ -d $repo ]] || continue
  for args in "get all -A" "graph -o json"; do
    set +e
    # shellcheck disable=SC2086
    "$capstan" $args --path "$repo" >/dev/null 2>/tmp/capstan-discovery-stderr
    code=$?
    set -e
    if ((code > 1)); then
      echo "FAIL: capstan $args --path $repo exited $code"
      cat /tmp/capstan-discovery-stderr
      exit 1
    fi
    echo "ok: capstan $args --path ${repo#"$shared"/} (exit $code)"
  done
done

(cd "$root" && CAPSTAN_SHARED=$shared cargo bench -q -p capstan-flux --bench discovery)
