//! Derive macros for typed-ws. Use them through `typed_ws` (feature `macros`).
