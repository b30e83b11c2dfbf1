#!/usr/bin/env bash
# Changed-only `capstan diff` against `--full` on the corpus repositories: each repository is
# copied to a temporary git repository, and for a set of one-file changes (a HelmRelease value, a
# Flux Kustomization's spec, a kustomization file, a component, a resource file deleted, a file
# that stops parsing) both modes must give the same JSON report and exit code. Then the
# changed-only benchmark on buroa (benches/diff-buroa.sh). Called as: bash diff.sh REPO_ROOT SHARED_DIR
set -euo pipefail
root=$1
shared=$2
capstan=$root/target/release/capstan
[[ -x $capstan ]] || (cd "$root" && cargo build --release -q)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for repo in "$shared"/corpus/buroa+k8s-gitops "$shared"/corpus/fluxcd+flux2-kustomize-helm-example \
  "$shared"/corpus/allenporter+flux-local/tests/testdata/cluster "$shared"/corpus/allenporter+flux-local/tests/testdata/cluster8; do
  [[ -d $repo ]] || continue
  copy=$work/$(basename "$repo")
  cp -r "$repo" "$copy"
  python3 "$root/.ci/suites/diff_changed_only.py" "$capstan" "$copy" "${repo#"$shared"/}"
done

bash "$root/benches/diff-buroa.sh" "$capstan" 21
