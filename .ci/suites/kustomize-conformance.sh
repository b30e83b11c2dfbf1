#!/usr/bin/env bash
# kustomize conformance ratchet: every case listed in tests/kustomize-conformance.baseline must
# still pass byte for byte against ../shared/conformance/kustomize (kustomize v5.6.0's own cases).
# Called by .ci/run as `bash suite.sh REPO_ROOT SHARED_DIR` after the release build.
set -euo pipefail
root=${1:?repo root}
shared=${2:?shared dir}
if [[ ! -d $shared/conformance/kustomize ]]; then
  echo "kustomize conformance cases not found under $shared: skipping"
  exit 0
fi
cd "$root"
python3 "$shared/tools/kustomize-conformance.py" \
  --cmd "$root/target/release/capstan kustomize" \
  --cases "$shared/conformance/kustomize" \
  --baseline "$root/tests/kustomize-conformance.baseline" \
  --show 5
