//! What to connect to: [`Request`], its builder and [`IntoRequest`].

use std::fmt;
use std::time::Duration;

use url::Url;

use crate::error::{Deferred, Error, Result};

/// The WebSocket scheme: plain `ws` or TLS `wss`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `ws://`, default port 80.
    Ws,
    /// `wss://` (TLS), default port 443.
    Wss,
}

impl Scheme {
    /// The port used when none is given: 80 for `ws`, 443 for `wss`.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Ws => 80,
            Scheme::Wss => 443,
        }
    }

    /// `"ws"` or `"wss"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A WebSocket connection request: where to connect and what to send in the upgrade.
///
/// Build one with [`Request::builder`], or pass a URL string or [`url::Url`] wherever an
/// [`IntoRequest`] is expected.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use typed_ws::{Request, Scheme};
///
/// let request = Request::builder()
///     .host("api.example.com")
///     .port(8080)
///     .path("/socket")
///     .header("Authorization", "Bearer secret")
///     .query("room", "42")
///     .subprotocols(["v1.json"])
///     .connect_timeout(Duration::from_secs(5))
///     .build()?;
/// assert_eq!(request.scheme(), Scheme::Ws);
/// assert_eq!(request.port(), 8080);
/// assert_eq!(request.path_and_query(), "/socket?room=42");
/// # Ok::<(), typed_ws::Error>(())
/// ```
#[derive(Clone)]
pub struct Request {
    scheme: Scheme,
    host: String,
    port: Option<u16>,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    subprotocols: Vec<String>,
    connect_timeout: Option<Duration>,
}

impl Request {
    /// A builder for a request to `ws://localhost:80/`, to be changed with its setters.
    pub fn builder() -> RequestBuilder {
        RequestBuilder {
            request: Request {
                scheme: Scheme::Ws,
                host: "localhost".into(),
                port: None,
                path: "/".into(),
                query: Vec::new(),
                headers: Vec::new(),
                subprotocols: Vec::new(),
                connect_timeout: None,
            },
            error: None,
        }
    }

    /// Parses a `ws://`, `wss://`, `http://` or `https://` URL.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for a malformed URL, another scheme or a
    /// URL without a host.
    pub fn from_url(url: &str) -> Result<Request> {
        Request::builder().url(url).build()
    }

    /// `ws` or `wss`.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host name or IP address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port: the one given, else the scheme's default.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(self.scheme.default_port())
    }

    /// The path, starting with `/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query parameters, in order.
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// The extra headers, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The subprotocols offered, in order of preference.
    pub fn subprotocols(&self) -> &[String] {
        &self.subprotocols
    }

    /// The per-request connect timeout, if one was set.
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// The path with the percent-encoded query string.
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.query.iter())
            .finish();
        format!("{}?{query}", self.path)
    }

    pub(crate) fn set_subprotocols(&mut self, protocols: Vec<String>) {
        self.subprotocols = protocols;
    }

    /// Switches to `wss` (Ktor's `wss { }`); a request without a port then goes to 443.
    pub(crate) fn force_wss(&mut self) {
        self.scheme = Scheme::Wss;
    }

    /// The host as it goes in a URL or a `Host` header (IPv6 in brackets).
    pub(crate) fn host_for_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// The URL for logs: query values replaced by `<redacted>`.
    pub(crate) fn redacted(&self) -> String {
        let mut out = format!(
            "{}://{}:{}{}",
            self.scheme,
            self.host_for_url(),
            self.port(),
            self.path
        );
        for (i, (key, _)) in self.query.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(key);
            out.push_str("=<redacted>");
        }
        out
    }
}

impl fmt::Debug for Request {
    /// Header values and query values are redacted: they often hold credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Request")
            .field("url", &self.redacted())
            .field("headers", &headers)
            .field("subprotocols", &self.subprotocols)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// Builds a [`Request`]. Bad input (a malformed URL, an invalid header name) is remembered and
/// reported once, by [`build`](RequestBuilder::build) or by the connect call it is passed to.
#[must_use]
#[derive(Clone, Debug)]
pub struct RequestBuilder {
    request: Request,
    error: Option<Deferred>,
}

impl RequestBuilder {
    fn fail(&mut self, message: String) {
        self.fail_with(Error::config(message));
    }

    /// Remembers the first bad input, kind and source kept, for `build` to report.
    fn fail_with(&mut self, error: Error) {
        if self.error.is_none() {
            self.error = Some(Deferred::new(error));
        }
    }

    /// Starts from a URL: scheme, host, port, path and query are taken from it
    /// (`http`/`https` are read as `ws`/`wss`).
    ///
    /// Default: `ws://localhost:80/`.
    pub fn url(mut self, url: &str) -> Self {
        match Url::parse(url) {
            Ok(parsed) => self.apply_url(&parsed),
            Err(e) => self.fail_with(
                Error::config(format!(
                    "invalid URL {:?}; expected something like ws://host:port/path",
                    redact_url_str(url)
                ))
                .with_source(e),
            ),
        }
        self
    }

    fn apply_url(&mut self, url: &Url) {
        let scheme = match url.scheme() {
            "ws" | "http" => Scheme::Ws,
            "wss" | "https" => Scheme::Wss,
            other => {
                return self.fail(format!(
                    "unsupported URL scheme `{other}`; use ws:// or wss://"
                ));
            }
        };
        let Some(host) = url.host_str() else {
            return self.fail("URL has no host; expected ws://host:port/path".into());
        };
        let request = &mut self.request;
        request.scheme = scheme;
        request.host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        request.port = url.port();
        request.path = if url.path().is_empty() {
            "/".into()
        } else {
            url.path().to_owned()
        };
        request.query = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    }

    /// The scheme; `Scheme::Wss` connects over TLS (Ktor's `url { protocol = WSS }`).
    ///
    /// Default: `Scheme::Ws`, or the URL's.
    pub fn protocol(mut self, scheme: Scheme) -> Self {
        self.request.scheme = scheme;
        self
    }

    /// The host name or IP address.
    ///
    /// Default: `localhost`, or the URL's.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        let host: String = host.into();
        if host.is_empty() {
            self.fail("host must not be empty".into());
        } else if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:[]%".contains(&b))
        {
            self.fail(format!(
                "invalid host {host:?}: use a DNS name or an IP address (IDNs in their xn-- form)"
            ));
        }
        self.request.host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        self
    }

    /// The port.
    ///
    /// Default: 80 for `ws`, 443 for `wss`, or the URL's.
    pub fn port(mut self, port: u16) -> Self {
        self.request.port = Some(port);
        self
    }

    /// The path; a leading `/` is added when missing.
    ///
    /// Default: `/`, or the URL's.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let path: String = path.into();
        if let Some(bad) = path
            .chars()
            .find(|c| c.is_control() || c.is_whitespace() || matches!(c, '?' | '#'))
        {
            self.fail(format!(
                "invalid path {path:?}: {bad:?} is not allowed; percent-encode it, and pass query parameters with query()"
            ));
        }
        self.request.path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        self
    }

    /// Appends a query parameter (percent-encoded on the wire; redacted in logs).
    ///
    /// Default: none, or the URL's.
    pub fn query(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.request.query.push((key.into(), value.to_string()));
        self
    }

    /// Appends a header to the upgrade request (values are never logged).
    ///
    /// Default: none.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name: String = name.into();
        let value: String = value.into();
        if let Err(message) = validate_header(&name, &value) {
            self.fail(message);
        }
        self.request.headers.push((name, value));
        self
    }

    /// The subprotocols to offer, in order of preference (`Sec-WebSocket-Protocol`). The one the
    /// server selects is in `session.handshake().subprotocol()`.
    ///
    /// Default: none.
    pub fn subprotocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for protocol in protocols {
            let protocol: String = protocol.into();
            if protocol.is_empty() || !protocol.bytes().all(is_token_byte) {
                self.fail(format!(
                    "invalid subprotocol {protocol:?}: use letters, digits and !#$%&'*+-.^_`|~"
                ));
            }
            self.request.subprotocols.push(protocol);
        }
        self
    }

    /// A connect timeout for this request only, overriding the client's.
    ///
    /// Default: the client's `connect_timeout`.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        if timeout.is_zero() {
            self.fail("connect_timeout must be greater than zero".into());
        }
        self.request.connect_timeout = Some(timeout);
        self
    }

    /// The request, or the first bad input given to the builder.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) naming the bad input.
    pub fn build(self) -> Result<Request> {
        match self.error {
            Some(deferred) => Err(deferred.error()),
            None => Ok(self.request),
        }
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn validate_header(name: &str, value: &str) -> std::result::Result<(), String> {
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(format!(
            "invalid header name {name:?}: use letters, digits and !#$%&'*+-.^_`|~"
        ));
    }
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(format!(
            "invalid value for header `{name}`: control characters (such as CR or LF) are not allowed"
        ));
    }
    let lower = name.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "host"
            | "upgrade"
            | "connection"
            | "sec-websocket-key"
            | "sec-websocket-version"
            | "sec-websocket-protocol"
            | "sec-websocket-extensions"
    ) {
        return Err(format!(
            "header `{name}` is set by typed-ws itself; use subprotocols() for Sec-WebSocket-Protocol"
        ));
    }
    Ok(())
}

/// A path for logs: each query value replaced by `<redacted>`.
pub(crate) fn redact_path(path: &str) -> String {
    match path.split_once('?') {
        None => path.to_owned(),
        Some((base, query)) => {
            let keys: Vec<String> = query
                .split('&')
                .map(|pair| format!("{}=<redacted>", pair.split('=').next().unwrap_or_default()))
                .collect();
            format!("{base}?{}", keys.join("&"))
        }
    }
}

fn redact_url_str(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?<redacted>"),
        None => url.to_owned(),
    }
}

/// Anything that can be turned into a [`Request`]: `&str`, `String`, `&String`, [`url::Url`],
/// [`Request`] and [`RequestBuilder`].
pub trait IntoRequest {
    /// The request.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for bad input.
    fn into_request(self) -> Result<Request>;
}

impl IntoRequest for Request {
    fn into_request(self) -> Result<Request> {
        Ok(self)
    }
}

impl IntoRequest for RequestBuilder {
    fn into_request(self) -> Result<Request> {
        self.build()
    }
}

impl IntoRequest for &str {
    fn into_request(self) -> Result<Request> {
        Request::from_url(self)
    }
}

impl IntoRequest for String {
    fn into_request(self) -> Result<Request> {
        Request::from_url(&self)
    }
}

impl IntoRequest for &String {
    fn into_request(self) -> Result<Request> {
        Request::from_url(self)
    }
}

impl IntoRequest for Url {
    fn into_request(self) -> Result<Request> {
        let mut builder = Request::builder();
        builder.apply_url(&self);
        builder.build()
    }
}

impl IntoRequest for &Url {
    fn into_request(self) -> Result<Request> {
        self.clone().into_request()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_parts() {
        let r = Request::from_url("wss://example.com/chat?room=1&token=s3cret").unwrap();
        assert_eq!(r.scheme(), Scheme::Wss);
        assert_eq!(r.port(), 443);
        assert_eq!(r.path(), "/chat");
        assert_eq!(r.path_and_query(), "/chat?room=1&token=s3cret");
        assert!(!format!("{r:?}").contains("s3cret"));
        let r = Request::from_url("ws://[::1]:9000").unwrap();
        assert_eq!(r.host(), "::1");
        assert_eq!(r.host_for_url(), "[::1]");
        assert_eq!(r.port(), 9000);
        let r = Request::from_url("http://h/x").unwrap();
        assert_eq!(r.scheme(), Scheme::Ws);
    }

    #[test]
    fn bad_input_is_remembered_and_reported_once() {
        let err = Request::builder()
            .header("Bad Name", "x")
            .header("also:bad", "y")
            .build()
            .unwrap_err();
        assert!(
            err.to_string().contains("invalid header name \"Bad Name\""),
            "{err}"
        );
        let err = Request::from_url("ftp://x/").unwrap_err();
        assert!(
            err.to_string().contains("unsupported URL scheme `ftp`"),
            "{err}"
        );
        let err = Request::from_url("not a url").unwrap_err();
        assert!(err.to_string().contains("invalid URL"), "{err}");
        let err = Request::builder()
            .header("X-A", "a\r\nb")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("control characters"), "{err}");
        let err = Request::builder()
            .subprotocols(["a b"])
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("invalid subprotocol"), "{err}");
        let err = Request::builder()
            .path("/room/x HTTP/1.1\r\nX-Injected: yes")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("invalid path"), "{err}");
        let err = Request::builder().path("/a?b=c").build().unwrap_err();
        assert!(err.to_string().contains("query()"), "{err}");
        let err = Request::builder().host("evil\r\nX: y").build().unwrap_err();
        assert!(err.to_string().contains("invalid host"), "{err}");
        assert!(
            Request::builder()
                .host("::1")
                .path("/r%20oom")
                .build()
                .is_ok()
        );
    }

    #[test]
    fn query_is_encoded_and_redacted_in_logs() {
        let r = Request::builder()
            .path("x")
            .query("token", "a b&c")
            .build()
            .unwrap();
        assert_eq!(r.path_and_query(), "/x?token=a+b%26c");
        assert_eq!(r.redacted(), "ws://localhost:80/x?token=<redacted>");
        assert_eq!(redact_path("/x?a=1&b=2"), "/x?a=<redacted>&b=<redacted>");
        assert_eq!(redact_path("/x"), "/x");
    }
}
