//! Support code for the typed-ws integration tests.

pub mod conformance;
pub mod support;
