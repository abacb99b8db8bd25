//! [`Handshake`]: what the upgrade agreed.

use std::fmt;

/// The outcome of the upgrade handshake: status, headers and the selected subprotocol.
///
/// Its `Debug` output redacts credentials: query values and the values of `authorization`,
/// `proxy-authorization`, `cookie` and `set-cookie`.
#[derive(Clone, PartialEq, Eq)]
pub struct Handshake {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) subprotocol: Option<String>,
    pub(crate) path: String,
    pub(crate) data: crate::server::ConnectionData,
    pub(crate) compression: Option<crate::NegotiatedCompression>,
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let secret = matches!(
                    name.to_ascii_lowercase().as_str(),
                    "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
                );
                (
                    name.as_str(),
                    if secret { "<redacted>" } else { value.as_str() },
                )
            })
            .collect();
        f.debug_struct("Handshake")
            .field("status", &self.status)
            .field("subprotocol", &self.subprotocol)
            .field("path", &crate::request::redact_path(&self.path))
            .field("compression", &self.compression)
            .field("headers", &headers)
            .finish()
    }
}

impl Handshake {
    /// The HTTP status of the upgrade response (101).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers of the other side's handshake message (on the client: the response; on the
    /// server: the request), names lowercased. On the server, `authorization` and `cookie`
    /// values are kept, so do not log them.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The subprotocol both sides agreed on (`Sec-WebSocket-Protocol`), if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The request path with its query (on the client: the path requested).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// On the server: the per-connection data the pre-upgrade hook attached with
    /// [`Accepted::data`](crate::server::Accepted::data), if it is a `T`. On the client: `None`.
    pub fn data<T: std::any::Any>(&self) -> Option<&T> {
        self.data.get()
    }

    /// The permessage-deflate parameters both sides agreed on, or `None` when the session is
    /// not compressed (disabled here, or not offered or not accepted by the peer).
    pub fn compression(&self) -> Option<&crate::NegotiatedCompression> {
        self.compression.as_ref()
    }
}
