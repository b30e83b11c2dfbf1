#!/usr/bin/env bash
# The bundled example against the oracles: every kustomization folder of examples/home-ops builds
# with `kubectl kustomize`, and what it builds — plus the in-repo chart rendered by `helm
# template` — validates against Kubernetes 1.33's strict schemas (kinds without a schema, the
# CRDs, are reported and skipped by kubernetes-validate). Called as: bash suite.sh REPO_ROOT SHARED_DIR
set -euo pipefail
root=$1
bin=${CAPSTAN_ORACLES:-$HOME/.cache/capstan-oracles}/bin
example=$root/examples/home-ops
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

count=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  grep -q '^kind: Component' "$file" && continue
  name=$(realpath --relative-to="$example" "$dir" | tr / _)
  "$bin/kubectl" kustomize "$dir" >"$out/$name.yaml"
  count=$((count + 1))
done < <(find "$example" -name kustomization.yaml | sort)

"$bin/helm" template home-assistant "$example/charts/home-assistant" --namespace home-automation \
  --set ingress.enabled=true --set ingress.host=home-assistant.lab.example.com >"$out/chart_home-assistant.yaml"

"$bin/kubernetes-validate" --strict -k 1.33.0 --quiet --no-warn "$out"/*.yaml
echo "examples/home-ops: $count kustomization folders and 1 chart built and validated (Kubernetes 1.33, strict)"
