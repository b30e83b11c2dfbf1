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

for repo in buroa+k8s-gitops fluxcd+flux2-kustomize-helm-example; do
  [[ -d $shared/corpus/$repo ]] || continue
  cp -r "$shared/corpus/$repo" "$work/$repo"
  python3 "$root/.ci/suites/diff_changed_only.py" "$capstan" "$work/$repo" "$work/$repo" "corpus/$repo"
done
# flux-local's test clusters name their paths from the top of flux-local's repository: the whole
# repository is the git repository, the cluster a folder in it
if [[ -d $shared/corpus/allenporter+flux-local ]]; then
  for cluster in cluster cluster8; do
    copy=$work/flux-local-$cluster
    cp -r "$shared/corpus/allenporter+flux-local" "$copy"
    python3 "$root/.ci/suites/diff_changed_only.py" "$capstan" "$copy" "$copy/tests/testdata/$cluster" \
      "corpus/allenporter+flux-local/tests/testdata/$cluster"
  done
fi

bash "$root/benches/diff-buroa.sh" "$capstan" 21
