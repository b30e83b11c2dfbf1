#!/usr/bin/env bash
# capstan kustomize vs kubectl kustomize on every kustomization folder of ../shared/corpus:
# byte-identical output where kubectl builds, failure where kubectl fails.
# Called by .ci/run as `bash suite.sh REPO_ROOT SHARED_DIR`.
set -euo pipefail
root=${1:?repo root}
shared=${2:?shared dir}
if [[ ! -d $shared/corpus ]]; then
  echo "corpus not found under $shared: skipping"
  exit 0
fi
cd "$root"
CAPSTAN_SHARED=$shared cargo bench -q -p capstan-kustomize --bench corpus -- compare
