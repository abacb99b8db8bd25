//! The pre-upgrade hook: what it sees ([`UpgradeRequest`]) and how it answers ([`Accepted`] or
//! [`Refusal`]).

use std::any::Any;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// The upgrade request as the pre-upgrade hook sees it: method, path, query, headers and the
/// peer's address. Only requests that are valid WebSocket upgrades reach the hook.
///
/// Its `Debug` output redacts query values and the values of `authorization`,
/// `proxy-authorization` and `cookie`.
#[derive(Clone)]
pub struct UpgradeRequest {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) peer_addr: Option<SocketAddr>,
}

impl fmt::Debug for UpgradeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let secret = matches!(
                    name.as_str(),
                    "authorization" | "proxy-authorization" | "cookie"
                );
                (
                    name.as_str(),
                    if secret { "<redacted>" } else { value.as_str() },
                )
            })
            .collect();
        f.debug_struct("UpgradeRequest")
            .field("method", &self.method)
            .field("target", &crate::request::redact_path(&self.target))
            .field("headers", &headers)
            .field("peer_addr", &self.peer_addr)
            .finish()
    }
}

impl UpgradeRequest {
    /// The request method (always `GET` for a request that reaches the hook).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(path, _)| path)
    }

    /// The raw query (after `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query()?.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// The path with its query, as requested.
    pub fn path_and_query(&self) -> &str {
        &self.target
    }

    /// The request headers, names lowercased, in the order received. They include
    /// credentials (`authorization`, `cookie`): do not log them.
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

    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The peer's address, when the server knows it ([`Server::serve`](super::Server::serve),
    /// [`Server::accept_from`](super::Server::accept_from) and the axum extractor do;
    /// [`Server::accept`](super::Server::accept) does not).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer_addr
    }

    /// The comma-separated tokens of every value of header `name`, trimmed.
    pub(crate) fn tokens<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.header_all(name)
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }
}

/// The pre-upgrade hook's "yes": the upgrade goes ahead, optionally with per-connection data
/// the session handler reads back with [`Handshake::data`](crate::Handshake::data).
///
/// ```
/// use typed_ws::server::Accepted;
///
/// #[derive(Debug)]
/// struct UserId(u64);
///
/// let accepted = Accepted::new().data(UserId(7));
/// # let _ = accepted;
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct Accepted {
    pub(crate) data: ConnectionData,
}

impl Accepted {
    /// Accept, with no per-connection data.
    pub fn new() -> Self {
        Accepted::default()
    }

    /// Attaches `value` to the connection; the session's
    /// [`Handshake::data::<T>()`](crate::Handshake::data) returns it.
    ///
    /// Default: no data.
    pub fn data<T: Any + Send + Sync>(mut self, value: T) -> Self {
        self.data = ConnectionData(Some(Arc::new(value)));
        self
    }
}

/// The pre-upgrade hook's "no": an HTTP answer (status, headers, body) sent instead of the
/// 101, after which the connection is closed.
///
/// A status outside 400..=599, or a header that is not valid HTTP, is remembered and the client
/// gets a 500 instead (the accept call reports the mistake as [`ErrorKind::Config`](crate::ErrorKind::Config)).
///
/// ```
/// use typed_ws::server::Refusal;
///
/// let refusal = Refusal::new(401)
///     .header("WWW-Authenticate", "Bearer")
///     .body("a token is required");
/// # let _ = refusal;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct Refusal {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) error: Option<String>,
}

impl Refusal {
    /// A refusal with `status` (400..=599) and an empty body.
    pub fn new(status: u16) -> Self {
        let error = (!(400..=599).contains(&status)).then(|| {
            format!("a refusal's status must be 400..=599, got {status}; the client got 500")
        });
        Refusal {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            error,
        }
    }

    /// 401 Unauthorized with `body` as plain text.
    pub fn unauthorized(body: impl Into<String>) -> Self {
        Refusal::new(401).body(body.into())
    }

    /// 403 Forbidden with `body` as plain text.
    pub fn forbidden(body: impl Into<String>) -> Self {
        Refusal::new(403).body(body.into())
    }

    /// Adds a response header. `Content-Length` and `Connection` are always set by the server.
    ///
    /// Default: no extra headers.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        let valid_value = value
            .bytes()
            .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f));
        if !valid_name || !valid_value {
            if self.error.is_none() {
                self.error = Some(format!(
                    "refusal header {name:?} is not a valid HTTP header; the client got 500"
                ));
            }
            return self;
        }
        self.headers.push((name, value));
        self
    }

    /// The response body; a text body gets `Content-Type: text/plain; charset=utf-8` unless a
    /// content type was set.
    ///
    /// Default: empty.
    pub fn body(mut self, body: impl Into<RefusalBody>) -> Self {
        let body = body.into();
        if body.text
            && !self
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            self.headers
                .push(("Content-Type".into(), "text/plain; charset=utf-8".into()));
        }
        self.body = body.bytes;
        self
    }

    /// The status sent.
    pub fn status(&self) -> u16 {
        if self.error.is_some() {
            500
        } else {
            self.status
        }
    }
}

/// A refusal's body: text (`String`, `&str`) or bytes (`Vec<u8>`, `&[u8]`).
#[derive(Debug)]
pub struct RefusalBody {
    bytes: Vec<u8>,
    text: bool,
}

impl From<String> for RefusalBody {
    fn from(text: String) -> Self {
        RefusalBody {
            bytes: text.into_bytes(),
            text: true,
        }
    }
}

impl From<&str> for RefusalBody {
    fn from(text: &str) -> Self {
        RefusalBody::from(text.to_owned())
    }
}

impl From<Vec<u8>> for RefusalBody {
    fn from(bytes: Vec<u8>) -> Self {
        RefusalBody { bytes, text: false }
    }
}

impl From<&[u8]> for RefusalBody {
    fn from(bytes: &[u8]) -> Self {
        RefusalBody::from(bytes.to_vec())
    }
}

/// The pre-upgrade hook: `Ok` to upgrade, `Err` to answer with the refusal.
pub(crate) type Hook = Arc<dyn Fn(&UpgradeRequest) -> Result<Accepted, Refusal> + Send + Sync>;

/// Per-connection data attached by the pre-upgrade hook (see [`Accepted::data`]).
#[derive(Clone, Default)]
pub(crate) struct ConnectionData(pub(crate) Option<Arc<dyn Any + Send + Sync>>);

impl ConnectionData {
    pub(crate) fn get<T: Any>(&self) -> Option<&T> {
        self.0.as_deref()?.downcast_ref()
    }
}

impl PartialEq for ConnectionData {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for ConnectionData {}

impl fmt::Debug for ConnectionData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

/// The check behind [`ServerBuilder::allowed_origins`](super::ServerBuilder::allowed_origins):
/// a request with an `Origin` header not in `origins` is refused with 403. Origins compare
/// ASCII case-insensitively, without a trailing slash; a request without `Origin` (not a
/// browser) passes.
pub(crate) fn check_origin(origins: &[String], request: &UpgradeRequest) -> Result<(), Refusal> {
    let Some(origin) = request.header("origin") else {
        return Ok(());
    };
    let origin = origin.trim().trim_end_matches('/');
    if origins
        .iter()
        .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        Ok(())
    } else {
        Err(Refusal::forbidden("origin not allowed"))
    }
}
