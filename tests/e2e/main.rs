//! End-to-end tests: the real `vouch` binary against real ledgers in temp directories.

mod cli;
mod crash;
mod history;
mod nats;
mod release;
mod support;
