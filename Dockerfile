# capstan's container image: a build stage that runs the same release build as CI
# (.ci/release-build.sh), and a small runtime with capstan, git and helm.
#
#   docker build -t capstan .
#   docker build -t capstan --build-arg CAPSTAN_GIT_REVISION=$(git rev-parse --short=12 HEAD) .
#   docker run --rm -v "$PWD:/repo" -w /repo capstan check --path .
#
# .git is not sent to the build (see .dockerignore): pass CAPSTAN_GIT_REVISION so
# `capstan version` names the revision.

ARG RUST_VERSION=1.90
ARG DEBIAN=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN} AS build
ARG CAPSTAN_GIT_REVISION=""
ARG CAPSTAN_GIT_DATE=""
ENV CAPSTAN_GIT_REVISION=${CAPSTAN_GIT_REVISION} CAPSTAN_GIT_DATE=${CAPSTAN_GIT_DATE}
WORKDIR /src
COPY . .
# the release profile keeps line tables for profiling (~150 MB); the image gets the stripped binary
RUN .ci/release-build.sh && install -s -m 0755 target/release/capstan /usr/local/bin/capstan

FROM debian:${DEBIAN}-slim AS helm
ARG HELM_VERSION=4.1.4
ARG TARGETARCH=amd64
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && curl -fsSLO "https://get.helm.sh/helm-v${HELM_VERSION}-linux-${TARGETARCH}.tar.gz" \
 && curl -fsSLO "https://get.helm.sh/helm-v${HELM_VERSION}-linux-${TARGETARCH}.tar.gz.sha256sum" \
 && sha256sum -c "helm-v${HELM_VERSION}-linux-${TARGETARCH}.tar.gz.sha256sum" \
 && tar -xzf "helm-v${HELM_VERSION}-linux-${TARGETARCH}.tar.gz" \
 && install -m 0755 "linux-${TARGETARCH}/helm" /usr/local/bin/helm

FROM debian:${DEBIAN}-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 65532 capstan
COPY --from=helm /usr/local/bin/helm /usr/local/bin/helm
COPY --from=build /usr/local/bin/capstan /usr/local/bin/capstan
USER 65532
WORKDIR /repo
ENTRYPOINT ["capstan"]
CMD ["--help"]
