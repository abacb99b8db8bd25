//! Shared pieces of the typed-ws examples.
