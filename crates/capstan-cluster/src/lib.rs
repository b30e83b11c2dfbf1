//! capstan's live side: server-side apply in Flux's stages and order, the inventory stored in the
//! cluster, safe prune, kstatus health with `healthCheckExprs`, and drift — against any
//! Kubernetes API through the [`Cluster`] trait (kube-rs in [`kube_api`], in memory in [`mem`]).
//!
//! The engine is a thin loop ([`engine`]) over pure decisions ([`plan`], [`fields`], [`stage`],
//! [`policy`], [`kstatus`], [`inventory`], [`ignore`], [`dependency`]); steady state is decided
//! from one LIST per kind, or from watches in a long-lived process ([`cache`],
//! [`kube_api::KubeApi::watching`]), with a server-side dry-run only where the cache cannot tell.

pub mod align;
pub mod bootstrap;
pub mod cache;
pub mod cluster;
pub mod dependency;
pub mod drift;
pub mod engine;
pub mod fields;
pub mod health_expr;
pub mod id;
pub mod ignore;
pub mod inventory;
pub mod kstatus;
pub mod kube_api;
pub mod mem;
pub mod normalize;
pub mod plan;
pub mod policy;
pub mod release;
pub mod stage;
pub mod unit;
pub mod verbs;

pub use cluster::{Cluster, ClusterError, FIELD_MANAGER};
pub use engine::{Engine, Options};
pub use id::ObjectRef;
pub use unit::{Unit, from_build};
