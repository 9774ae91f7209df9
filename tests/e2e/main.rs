//! End-to-end tests: the real `vouch` binary against real ledgers in temp directories.

mod artifacts;
mod attest;
mod browser;
mod cli;
mod client;
mod crash;
mod damage;
mod diagnose;
mod edges;
mod history;
mod http;
mod mlflow;
mod mlflow_edges;
mod nats;
mod nats_serve;
mod proven_bundle;
mod release;
mod second_verifier;
mod support;
mod tables;
mod transparency;
mod transparency_attacks;
mod ui_forms;
mod witness;
