//! An in-memory Kubernetes API server for tests: the real HTTP API over HTTPS with a generated CA
//! and bearer-token auth on loopback.
