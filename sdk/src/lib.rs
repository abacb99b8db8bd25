//! typed-ws
