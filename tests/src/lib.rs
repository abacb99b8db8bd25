//! Support code for the typed-ws integration tests.
