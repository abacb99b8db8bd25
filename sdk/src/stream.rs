//! The transport under a client session: plain TCP or TLS over TCP.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A client connection: TCP, or TLS over TCP.
pub(crate) enum MaybeTls {
    Plain(TcpStream),
    #[cfg(feature = "rustls")]
    Rustls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    #[cfg(feature = "native-tls")]
    Native(Box<tokio_native_tls::TlsStream<TcpStream>>),
    /// Any of the above under the deflate layer (every session: it passes bytes through when no
    /// extension was agreed, and enforces the frame size limit).
    Deflate(Box<crate::deflate::DeflateStream<MaybeTls>>),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            MaybeTls::Plain($s) => $e,
            #[cfg(feature = "rustls")]
            MaybeTls::Rustls($s) => $e,
            #[cfg(feature = "native-tls")]
            MaybeTls::Native($s) => $e,
            MaybeTls::Deflate($s) => $e,
        }
    };
}

impl AsyncRead for MaybeTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        dispatch!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for MaybeTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        dispatch!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        dispatch!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTls::Plain(s) => s.is_write_vectored(),
            #[cfg(feature = "rustls")]
            MaybeTls::Rustls(s) => s.is_write_vectored(),
            #[cfg(feature = "native-tls")]
            MaybeTls::Native(s) => s.is_write_vectored(),
            MaybeTls::Deflate(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        dispatch!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        dispatch!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

impl crate::deflate::Transport for MaybeTls {
    // every session's stream is under the deflate layer (see `Client::open`)
    fn set_max_frame_size(&mut self, bytes: usize) {
        if let MaybeTls::Deflate(stream) = self {
            stream.set_max_frame_size(bytes);
        }
    }

    fn idle_release(&self) -> Option<(std::time::Duration, u64)> {
        match self {
            MaybeTls::Deflate(stream) => stream.idle_release(),
            _ => None,
        }
    }

    fn release_idle(&mut self) -> bool {
        match self {
            MaybeTls::Deflate(stream) => stream.release_idle(),
            _ => false,
        }
    }
}
