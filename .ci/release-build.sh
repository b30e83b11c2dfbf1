#!/usr/bin/env bash
# The release build, shared by .ci/run and the Dockerfile so the image holds exactly what CI builds.
# CAPSTAN_GIT_REVISION / CAPSTAN_GIT_DATE, when set, name the revision where .git is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
