//! The policy crate's tests: parsing and its errors, the worked examples, evaluation
//! details, and properties. One binary with modules, so it links once.

mod evaluate;
mod examples;
mod parse;
mod props;
mod support;
