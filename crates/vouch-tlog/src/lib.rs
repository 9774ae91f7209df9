//! Transparency for Vouch's log: a Merkle tree over every record (RFC 6962 / RFC 9162,
//! SHA-256, for interoperability with checkpoint and witness tooling; BLAKE3 stays for
//! artifacts, evidence digests and the decision chain), inclusion and consistency proofs,
//! and the C2SP formats that carry them: signed notes, tlog-checkpoints,
//! tlog-cosignatures, tlog-proof files, and a witness's add-checkpoint checks. No I/O and
//! no clock: bytes and keys in, bytes and verdicts out.
#![deny(missing_docs)]

pub mod checkpoint;
pub mod cosignature;
pub mod note;
pub mod policy;
pub mod proof;
pub mod proof_file;
pub mod store;
pub mod tree;
pub mod witness;
