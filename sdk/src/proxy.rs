//! Proxies: HTTP CONNECT (with optional basic auth) and SOCKS5 (with optional
//! username/password), for ws and wss, from explicit configuration or, when the user opts in,
//! from `HTTP_PROXY` / `HTTPS_PROXY` / `ALL_PROXY` / `NO_PROXY`.

use std::fmt;
use std::net::IpAddr;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

use crate::error::{Error, ErrorKind, Result};
use crate::request::Scheme;

/// A proxy to reach WebSocket servers through.
///
/// # Examples
///
/// ```
/// use typed_ws::Proxy;
/// let http = Proxy::parse("http://user:pass@127.0.0.1:3128")?;
/// let socks = Proxy::parse("socks5://127.0.0.1:1080")?;
/// assert_eq!(format!("{http:?}"), "Proxy(http://<credentials>@127.0.0.1:3128)");
/// # let _ = socks;
/// # Ok::<(), typed_ws::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    kind: ProxyKind,
    host: String,
    port: u16,
    auth: Option<(String, String)>,
}

/// The proxy protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyKind {
    /// An HTTP proxy, tunnelling with `CONNECT`.
    Http,
    /// A SOCKS5 proxy (`socks5://` resolves names locally, `socks5h://` at the proxy).
    Socks5 {
        /// `true` for `socks5h`: the proxy resolves the host name.
        remote_dns: bool,
    },
}

impl Proxy {
    /// Parses `http://[user:pass@]host:port`, `socks5://…` or `socks5h://…`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] for a malformed URL or another scheme.
    pub fn parse(url: &str) -> Result<Proxy> {
        let parsed = Url::parse(url).map_err(|e| {
            Error::config("invalid proxy URL; expected http://host:port or socks5://host:port")
                .with_source(e)
        })?;
        let (kind, default_port) = match parsed.scheme() {
            "http" => (ProxyKind::Http, 80),
            "socks5" => (ProxyKind::Socks5 { remote_dns: false }, 1080),
            "socks5h" => (ProxyKind::Socks5 { remote_dns: true }, 1080),
            other => {
                return Err(Error::config(format!(
                    "unsupported proxy scheme `{other}`; use http://, socks5:// or socks5h://"
                )));
            }
        };
        let host = parsed
            .host_str()
            .ok_or_else(|| Error::config("proxy URL has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let auth = if parsed.username().is_empty() {
            None
        } else {
            // percent-decoding only: a `+` in userinfo is a plus, not a space
            let decode = |s: &str| percent_decode(s);
            Some((
                decode(parsed.username()),
                decode(parsed.password().unwrap_or("")),
            ))
        };
        Ok(Proxy {
            kind,
            host,
            port: parsed.port().unwrap_or(default_port),
            auth,
        })
    }

    /// The proxy protocol.
    pub fn kind(&self) -> ProxyKind {
        self.kind
    }

    /// The proxy from the environment for a connection to `host` over `scheme`:
    /// `HTTPS_PROXY` for wss, `HTTP_PROXY` for ws, then `ALL_PROXY` (upper or lower case),
    /// unless `NO_PROXY` matches the host. `None` when no proxy applies.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when the variable holds a malformed URL.
    pub fn from_env(scheme: Scheme, host: &str) -> Result<Option<Proxy>> {
        Self::from_vars(scheme, host, |name| std::env::var(name).ok())
    }

    /// [`from_env`](Proxy::from_env) over any variable lookup (tests pass a map).
    pub(crate) fn from_vars(
        scheme: Scheme,
        host: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Proxy>> {
        let var = |name: &str| {
            lookup(name)
                .or_else(|| lookup(&name.to_ascii_lowercase()))
                .filter(|v| !v.trim().is_empty())
        };
        if let Some(no_proxy) = var("NO_PROXY")
            && no_proxy_matches(&no_proxy, host)
        {
            return Ok(None);
        }
        let specific = match scheme {
            Scheme::Ws => var("HTTP_PROXY"),
            Scheme::Wss => var("HTTPS_PROXY"),
        };
        match specific.or_else(|| var("ALL_PROXY")) {
            Some(url) => Proxy::parse(&url).map(Some),
            None => Ok(None),
        }
    }

    fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Opens a TCP connection to `host:port` through this proxy.
    pub(crate) async fn connect(&self, host: &str, port: u16) -> Result<TcpStream> {
        let mut tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::Connect,
                    format!("could not connect to the proxy at {}", self.address()),
                )
                .with_source(e)
            })?;
        let _ = tcp.set_nodelay(true);
        let result = match self.kind {
            ProxyKind::Http => self.http_connect(&mut tcp, host, port).await,
            ProxyKind::Socks5 { remote_dns } => self.socks5(&mut tcp, host, port, remote_dns).await,
        };
        result.map(|()| tcp)
    }

    async fn http_connect(&self, tcp: &mut TcpStream, host: &str, port: u16) -> Result<()> {
        let target = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        if let Some((user, pass)) = &self.auth {
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            head.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
        }
        head.push_str("\r\n");
        tcp.write_all(head.as_bytes())
            .await
            .map_err(|e| self.io(e))?;
        let mut response = Vec::new();
        let mut byte = [0u8; 1];
        // byte by byte: nothing past the head may be consumed, it belongs to the tunnel
        while !response.ends_with(b"\r\n\r\n") {
            if response.len() > 16 * 1024 {
                return Err(self.refused("the proxy's CONNECT response head is over 16 KiB"));
            }
            let n = tcp.read(&mut byte).await.map_err(|e| self.io(e))?;
            if n == 0 {
                return Err(self.refused("the proxy closed the connection during CONNECT"));
            }
            response.push(byte[0]);
        }
        let mut slots = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut slots);
        match parsed.parse(&response) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => {
                return Err(
                    self.refused("the proxy answered CONNECT with something that is not HTTP")
                );
            }
        }
        match parsed.code {
            Some(code) if (200..300).contains(&code) => Ok(()),
            Some(407) => Err(self.refused(
                "the proxy requires authentication (407); put user:password in the proxy URL",
            )),
            Some(code) => Err(self.refused(&format!(
                "the proxy refused CONNECT to {target} with {code}"
            ))),
            None => Err(self.refused("the proxy's CONNECT response has no status")),
        }
    }

    async fn socks5(
        &self,
        tcp: &mut TcpStream,
        host: &str,
        port: u16,
        remote_dns: bool,
    ) -> Result<()> {
        let greeting: &[u8] = if self.auth.is_some() {
            &[5, 2, 0, 2]
        } else {
            &[5, 1, 0]
        };
        tcp.write_all(greeting).await.map_err(|e| self.io(e))?;
        let mut choice = [0u8; 2];
        tcp.read_exact(&mut choice).await.map_err(|e| self.io(e))?;
        if choice[0] != 5 {
            return Err(self.refused("the proxy does not speak SOCKS5"));
        }
        match (choice[1], &self.auth) {
            (0, _) => {}
            (2, Some((user, pass))) => {
                if user.len() > 255 || pass.len() > 255 {
                    return Err(Error::config(
                        "SOCKS5 user name and password must be at most 255 bytes",
                    ));
                }
                let mut auth = vec![1, user.len() as u8];
                auth.extend_from_slice(user.as_bytes());
                auth.push(pass.len() as u8);
                auth.extend_from_slice(pass.as_bytes());
                tcp.write_all(&auth).await.map_err(|e| self.io(e))?;
                let mut status = [0u8; 2];
                match tcp.read_exact(&mut status).await {
                    Ok(_) => {}
                    // some proxies hang up instead of answering a failed login
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                        return Err(self.refused(
                            "the SOCKS5 proxy rejected the user name or password (it closed the connection)",
                        ));
                    }
                    Err(e) => return Err(self.io(e)),
                }
                if status[1] != 0 {
                    return Err(self.refused("the SOCKS5 proxy rejected the user name or password"));
                }
            }
            (0xff, _) | (2, None) => {
                return Err(self.refused(
                    "the SOCKS5 proxy accepts none of our authentication methods; put user:password in the proxy URL if it needs them",
                ));
            }
            (other, _) => {
                return Err(self.refused(&format!("the SOCKS5 proxy chose unknown method {other}")));
            }
        }
        let mut request = vec![5, 1, 0];
        match host.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => {
                request.push(1);
                request.extend_from_slice(&ip.octets());
            }
            Ok(IpAddr::V6(ip)) => {
                request.push(4);
                request.extend_from_slice(&ip.octets());
            }
            Err(_) if remote_dns => {
                if host.len() > 255 {
                    return Err(Error::config("host name is over 255 bytes"));
                }
                request.push(3);
                request.push(host.len() as u8);
                request.extend_from_slice(host.as_bytes());
            }
            Err(_) => {
                let ip = tokio::net::lookup_host((host, port))
                    .await
                    .map_err(|e| {
                        Error::new(ErrorKind::Connect, format!("could not resolve {host}"))
                            .with_source(e)
                    })?
                    .next()
                    .ok_or_else(|| {
                        Error::new(ErrorKind::Connect, format!("{host} has no address"))
                    })?
                    .ip();
                match ip {
                    IpAddr::V4(ip) => {
                        request.push(1);
                        request.extend_from_slice(&ip.octets());
                    }
                    IpAddr::V6(ip) => {
                        request.push(4);
                        request.extend_from_slice(&ip.octets());
                    }
                }
            }
        }
        request.extend_from_slice(&port.to_be_bytes());
        tcp.write_all(&request).await.map_err(|e| self.io(e))?;
        let mut reply = [0u8; 4];
        tcp.read_exact(&mut reply).await.map_err(|e| self.io(e))?;
        if reply[1] != 0 {
            let why = match reply[1] {
                1 => "general failure",
                2 => "connection not allowed by ruleset",
                3 => "network unreachable",
                4 => "host unreachable",
                5 => "connection refused",
                6 => "TTL expired",
                7 => "command not supported",
                8 => "address type not supported",
                _ => "unknown error",
            };
            return Err(self.refused(&format!(
                "the SOCKS5 proxy could not reach {host}:{port}: {why}"
            )));
        }
        let skip = match reply[3] {
            1 => 4 + 2,
            4 => 16 + 2,
            3 => {
                let mut len = [0u8; 1];
                tcp.read_exact(&mut len).await.map_err(|e| self.io(e))?;
                usize::from(len[0]) + 2
            }
            _ => return Err(self.refused("the SOCKS5 proxy sent an unknown address type")),
        };
        let mut rest = vec![0u8; skip];
        tcp.read_exact(&mut rest).await.map_err(|e| self.io(e))?;
        Ok(())
    }

    fn io(&self, e: std::io::Error) -> Error {
        Error::new(
            ErrorKind::Connect,
            format!("connection to the proxy at {} failed", self.address()),
        )
        .with_source(e)
    }

    fn refused(&self, message: &str) -> Error {
        Error::new(
            ErrorKind::Connect,
            format!("{message} (proxy {})", self.address()),
        )
    }
}

impl fmt::Debug for Proxy {
    /// Credentials are never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.kind {
            ProxyKind::Http => "http",
            ProxyKind::Socks5 { remote_dns: false } => "socks5",
            ProxyKind::Socks5 { remote_dns: true } => "socks5h",
        };
        let credentials = if self.auth.is_some() {
            "<credentials>@"
        } else {
            ""
        };
        write!(f, "Proxy({scheme}://{credentials}{})", self.address())
    }
}

/// Decodes `%XX` escapes (invalid escapes are kept as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `true` when `NO_PROXY` (comma-separated hosts, domain suffixes, IPs, `*`) covers `host`.
fn no_proxy_matches(no_proxy: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    no_proxy
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            let entry = entry.to_ascii_lowercase();
            let entry = entry.trim_start_matches('[');
            let entry = entry.split(']').next().unwrap_or(entry);
            if entry == "*" {
                return true;
            }
            let bare = entry.trim_start_matches('.');
            host == bare || host.ends_with(&format!(".{bare}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_redacts() {
        let p = Proxy::parse("http://u%40x:p%3Ass@proxy.local:3128").unwrap();
        assert_eq!(p.kind(), ProxyKind::Http);
        assert_eq!(p.auth, Some(("u@x".into(), "p:ss".into())));
        let plus = Proxy::parse("http://user:a+b%2Bc@proxy.local:3128").unwrap();
        assert_eq!(plus.auth, Some(("user".into(), "a+b+c".into())));
        assert_eq!(
            format!("{p:?}"),
            "Proxy(http://<credentials>@proxy.local:3128)"
        );
        let s = Proxy::parse("socks5h://[::1]").unwrap();
        assert_eq!(s.kind(), ProxyKind::Socks5 { remote_dns: true });
        assert_eq!(s.address(), "[::1]:1080");
        let err = Proxy::parse("ftp://x").unwrap_err();
        assert!(
            err.to_string().contains("unsupported proxy scheme"),
            "{err}"
        );
    }

    #[test]
    fn environment_lookup_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let vars: &[(&str, &str)] = &[
            ("HTTP_PROXY", "http://h:1"),
            ("https_proxy", "http://s:2"),
            ("ALL_PROXY", "socks5://a:3"),
            ("NO_PROXY", "internal.example"),
        ];
        let ws = Proxy::from_vars(Scheme::Ws, "x.org", env(vars))
            .unwrap()
            .unwrap();
        assert_eq!(ws.address(), "h:1");
        let wss = Proxy::from_vars(Scheme::Wss, "x.org", env(vars))
            .unwrap()
            .unwrap();
        assert_eq!(wss.address(), "s:2");
        let none = Proxy::from_vars(Scheme::Ws, "db.internal.example", env(vars)).unwrap();
        assert!(none.is_none());
        let all = Proxy::from_vars(Scheme::Wss, "x.org", env(&[("ALL_PROXY", "socks5://a:3")]))
            .unwrap()
            .unwrap();
        assert_eq!(all.kind(), ProxyKind::Socks5 { remote_dns: false });
        assert!(
            Proxy::from_vars(Scheme::Ws, "x.org", env(&[]))
                .unwrap()
                .is_none()
        );
        assert!(Proxy::from_vars(Scheme::Ws, "x", env(&[("HTTP_PROXY", "::bad")])).is_err());
    }

    #[test]
    fn no_proxy_rules() {
        assert!(no_proxy_matches(
            "localhost,.example.com",
            "api.example.com"
        ));
        assert!(no_proxy_matches("example.com", "example.com"));
        assert!(!no_proxy_matches("example.com", "badexample.com"));
        assert!(no_proxy_matches("*", "anything"));
        assert!(no_proxy_matches("127.0.0.1, ::1", "::1"));
        assert!(!no_proxy_matches("", "x"));
    }
}
