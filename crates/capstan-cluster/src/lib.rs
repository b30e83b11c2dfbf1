//! capstan's live side: staged server-side apply, inventory, prune, health and drift against a
//! Kubernetes API. Only this crate and the binary touch kube or tokio.

pub mod release;
