//! The Flux Operator's objects, read as the operator acts on them: a `FluxInstance` is a cluster
//! root ([`fluxinstance`]); a `ResourceSet` expands into the objects the operator applies
//! ([`resourceset`]) from its input sets ([`inputs`]) through its template language
//! ([`template`], [`functions`]); [`version`] tells which Flux a repository runs and so how
//! undefined substitution variables behave; [`runtime`] lists the Secrets and ConfigMaps the
//! repository arranges to exist only at runtime; [`copy`] fills the objects the operator copies
//! from another (`copyFrom`).
//!
//! Discovery feeds what these produce back in as generated documents, with provenance naming the
//! ResourceSet, the template field and the input set.

pub mod copy;
pub mod fluxinstance;
pub mod functions;
pub mod inputs;
pub mod resourceset;
pub mod runtime;
pub mod template;
pub mod version;

#[cfg(test)]
mod tests;
