//! JSON encoding that refuses non-finite floats instead of writing them as `null`.

use serde::Serialize;

/// Serializes `value` to a JSON string, failing on NaN and infinities.
pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(value)
}
