#!/usr/bin/env bash
# `capstan check` over the corpus with the release binary: it must run on every corpus repository
# without failing (exit 0 clean or 1 findings, never 2 or a crash), the bundled example must be
# clean (exit 0), and the finding counts per rule for buroa/k8s-gitops are printed; then the
# check-vs-build benchmark. Called as: bash check.sh REPO_ROOT SHARED_DIR
set -euo pipefail
root=$1
shared=$2
capstan=$root/target/release/capstan
[[ -x $capstan ]] || (cd "$root" && cargo build --release -q)
out=$(mktemp -d)

"$capstan" check --offline --path "$root/examples/home-ops" >"$out/example.txt" || {
  echo "FAIL: capstan check --path examples/home-ops is not clean"
  cat "$out/example.txt"
  exit 1
}
echo "ok: capstan check --path examples/home-ops (exit 0)"

for repo in "$shared"/corpus/buroa+k8s-gitops "$shared"/corpus/fluxcd+flux2-kustomize-helm-example \
  "$shared"/corpus/allenporter+flux-local "$shared"/corpus/allenporter+flux-local/tests/testdata/cluster*; do
  [[ -d $repo ]] || continue
  set +e
  "$capstan" check --offline --path "$repo" -o json >"$out/report.json" 2>"$out/stderr"
  code=$?
  set -e
  if ((code > 1)); then
    echo "FAIL: capstan check --path $repo exited $code"
    cat "$out/stderr"
    exit 1
  fi
  echo "ok: capstan check --path ${repo#"$shared"/} (exit $code)"
  if [[ $repo == *buroa+k8s-gitops ]]; then
    python3 - "$out/report.json" <<'PY'
import collections, json, sys
report = json.load(open(sys.argv[1]))
counts = collections.Counter((f["rule"], f["severity"]) for f in report["findings"])
print("buroa/k8s-gitops findings per rule:")
for (rule, severity), n in sorted(counts.items()):
    print(f"  {n:5} {severity:8} {rule}")
print("  verdicts:", dict(collections.Counter(u["verdict"] for u in report["units"])))
PY
  fi
done

(cd "$root" && CAPSTAN_SHARED=$shared CAPSTAN_BENCH_RUNS=3 cargo bench -q -p capstan --bench check)
