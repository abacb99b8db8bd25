//! [`Utf8Bytes`], the payload of a Text frame: immutable UTF-8 text in a shared [`Bytes`]
//! buffer.
//!
//! The crate forbids `unsafe`, so the "these bytes are valid UTF-8" invariant is kept by
//! tungstenite's `Utf8Bytes`, which this type wraps. That also lets the driver move a received
//! text payload into a [`Frame`](crate::Frame) and back onto the wire without a copy or a second
//! UTF-8 check. The tungstenite type never appears in a public signature: the two conversions
//! the driver needs are in `tungstenite_text`, re-exported hidden as `__tungstenite`.

use std::borrow::{Borrow, Cow};
use std::cmp::Ordering;
use std::error::Error as StdError;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::str::{self, Utf8Error};

use bytes::Bytes;

/// Immutable UTF-8 text backed by [`Bytes`]: the payload of [`Frame::Text`](crate::Frame::Text).
///
/// Cloning is cheap (a reference count, never a copy of the text), so one serialized frame can
/// be sent to many sessions, and a received text payload reaches the application without being
/// copied into a `String`. It dereferences to [`prim@str`], so every `str` method works on it, and
/// it compares, hashes and orders exactly as its `str` does.
///
/// | from | cost |
/// |---|---|
/// | `String`, `Box<str>` | free (the allocation is taken over) |
/// | [`Utf8Bytes::from_static`] | free (`const`) |
/// | `&str`, `&String`, `Cow::Borrowed` | one copy (`From<&str>` copies, so any `&str` works, not only `'static` ones) |
/// | [`Bytes`], `Vec<u8>` | a UTF-8 check, no copy (`TryFrom`, fails with [`InvalidUtf8`]) |
///
/// Back out: [`into_bytes`](Utf8Bytes::into_bytes) / `Bytes::from` are free; `String::from`
/// is free when this value holds the only reference to a buffer made from a `String` or a
/// `Vec<u8>`, and otherwise copies.
///
/// # Examples
///
/// ```
/// use typed_ws_converters::{Bytes, Frame, Utf8Bytes};
///
/// let text = Utf8Bytes::from(String::from("héllo"));
/// let shared = text.clone(); // same buffer, no copy
/// assert_eq!(shared.as_ptr(), text.as_ptr());
/// assert_eq!(text, "héllo");
/// assert_eq!(text.len(), 6);
/// assert!(text.starts_with("hé")); // any `str` method
///
/// let frame = Frame::Text(text);
/// assert_eq!(frame.read_text(), Some("héllo"));
///
/// assert!(Utf8Bytes::try_from(Bytes::from_static(b"\xff")).is_err());
/// ```
#[derive(Clone, Default)]
pub struct Utf8Bytes(tungstenite::Utf8Bytes);

impl Utf8Bytes {
    /// Empty text.
    pub const fn new() -> Self {
        Self::from_static("")
    }

    /// Text that borrows a static string: no allocation, no copy.
    ///
    /// # Examples
    ///
    /// ```
    /// use typed_ws_converters::Utf8Bytes;
    /// const HELLO: Utf8Bytes = Utf8Bytes::from_static("hello");
    /// assert_eq!(HELLO, "hello");
    /// ```
    pub const fn from_static(text: &'static str) -> Self {
        Self(tungstenite::Utf8Bytes::from_static(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The UTF-8 bytes of the text.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_str().as_bytes()
    }

    /// The underlying buffer, without a copy.
    ///
    /// # Examples
    ///
    /// ```
    /// use typed_ws_converters::Utf8Bytes;
    /// let text = Utf8Bytes::from(String::from("abc"));
    /// let ptr = text.as_ptr();
    /// let bytes = text.into_bytes();
    /// assert_eq!(bytes, b"abc".as_slice());
    /// assert_eq!(bytes.as_ptr(), ptr);
    /// ```
    pub fn into_bytes(self) -> Bytes {
        self.0.into()
    }
}

impl Deref for Utf8Bytes {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<str> for Utf8Bytes {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8Bytes {
    /// As a `str`: quoted and escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl PartialEq for Utf8Bytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Utf8Bytes {}

impl Hash for Utf8Bytes {
    /// As the `str`, so that lookups through `Borrow<str>` work.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for Utf8Bytes {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Utf8Bytes {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

/// `Utf8Bytes == str`, `Utf8Bytes == &str`, `Utf8Bytes == String`, and the mirrored forms.
macro_rules! eq_str {
    ($($other:ty),*) => {$(
        impl PartialEq<$other> for Utf8Bytes {
            fn eq(&self, other: &$other) -> bool {
                self.as_str() == AsRef::<str>::as_ref(other)
            }
        }

        impl PartialEq<Utf8Bytes> for $other {
            fn eq(&self, other: &Utf8Bytes) -> bool {
                AsRef::<str>::as_ref(self) == other.as_str()
            }
        }
    )*};
}

eq_str!(str, &str, String, Cow<'_, str>);

impl From<String> for Utf8Bytes {
    /// Takes over the `String`'s allocation: no copy.
    fn from(text: String) -> Self {
        Self(tungstenite::Utf8Bytes::from(text))
    }
}

impl From<Box<str>> for Utf8Bytes {
    /// Takes over the allocation: no copy.
    fn from(text: Box<str>) -> Self {
        String::from(text).into()
    }
}

impl From<&str> for Utf8Bytes {
    /// Copies the text. For a `&'static str` without a copy, use [`Utf8Bytes::from_static`].
    fn from(text: &str) -> Self {
        Self(tungstenite::Utf8Bytes::from(text))
    }
}

impl From<&String> for Utf8Bytes {
    /// Copies the text.
    fn from(text: &String) -> Self {
        text.as_str().into()
    }
}

impl From<Cow<'_, str>> for Utf8Bytes {
    /// Takes over an owned `String`, copies a borrowed `str`.
    fn from(text: Cow<'_, str>) -> Self {
        match text {
            Cow::Borrowed(text) => text.into(),
            Cow::Owned(text) => text.into(),
        }
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = InvalidUtf8;

    /// Checks that `bytes` are UTF-8 and keeps them, without a copy.
    ///
    /// # Errors
    ///
    /// [`InvalidUtf8`] when they are not; it gives the bytes back.
    fn try_from(bytes: Bytes) -> Result<Self, InvalidUtf8> {
        // the clone is a reference count (kept to give the bytes back on error): one UTF-8
        // pass, where checking here and then in tungstenite's `try_from` would be two
        match tungstenite::Utf8Bytes::try_from(bytes.clone()) {
            Ok(text) => Ok(Self(text)),
            Err(error) => Err(InvalidUtf8 { bytes, error }),
        }
    }
}

impl TryFrom<Vec<u8>> for Utf8Bytes {
    type Error = InvalidUtf8;

    /// Checks that `bytes` are UTF-8 and keeps them, without a copy.
    ///
    /// # Errors
    ///
    /// [`InvalidUtf8`] when they are not; it gives the bytes back.
    fn try_from(bytes: Vec<u8>) -> Result<Self, InvalidUtf8> {
        Bytes::from(bytes).try_into()
    }
}

impl From<Utf8Bytes> for Bytes {
    /// The underlying buffer, without a copy.
    fn from(text: Utf8Bytes) -> Self {
        text.into_bytes()
    }
}

impl From<Utf8Bytes> for String {
    /// Free when `text` holds the only reference to a buffer that came from a `String` or a
    /// `Vec<u8>`; otherwise (a shared or static buffer, a slice of a larger one) one copy.
    fn from(text: Utf8Bytes) -> Self {
        // `Vec::from` takes a unique allocation over and copies a shared one; the UTF-8 check
        // cannot fail (the bytes came from a `Utf8Bytes`), and the lossy path keeps this free
        // of `unwrap`
        match String::from_utf8(Vec::from(text.into_bytes())) {
            Ok(text) => text,
            Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
        }
    }
}

/// The error of `Utf8Bytes::try_from` on bytes that are not valid UTF-8.
///
/// The rejected bytes can be taken back with [`into_bytes`](InvalidUtf8::into_bytes); the
/// position of the first invalid sequence is [`valid_up_to`](InvalidUtf8::valid_up_to).
///
/// # Examples
///
/// ```
/// use typed_ws_converters::{Bytes, Utf8Bytes};
/// let err = Utf8Bytes::try_from(Bytes::from_static(b"ok\xff")).unwrap_err();
/// assert_eq!(err.valid_up_to(), 2);
/// assert_eq!(err.to_string(), "text is not valid UTF-8: invalid byte at offset 2");
/// assert_eq!(err.into_bytes(), b"ok\xff".as_slice());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidUtf8 {
    bytes: Bytes,
    error: Utf8Error,
}

impl InvalidUtf8 {
    /// How many bytes from the start are valid UTF-8.
    pub fn valid_up_to(&self) -> usize {
        self.error.valid_up_to()
    }

    /// The standard library's description of the error (also the [`source`](StdError::source)).
    pub fn utf8_error(&self) -> Utf8Error {
        self.error
    }

    /// The bytes that were refused.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }
}

impl fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error.error_len() {
            Some(_) => write!(
                f,
                "text is not valid UTF-8: invalid byte at offset {}",
                self.error.valid_up_to()
            ),
            None => write!(
                f,
                "text is not valid UTF-8: it ends inside a character at offset {}",
                self.error.valid_up_to()
            ),
        }
    }
}

impl StdError for InvalidUtf8 {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.error)
    }
}

/// Conversions between [`Utf8Bytes`] and tungstenite's `Utf8Bytes` for typed-ws's driver.
/// Not public API: may change in any release.
pub mod tungstenite_text {
    use super::Utf8Bytes;

    /// Wraps tungstenite's text: no copy, no second UTF-8 check.
    pub fn from_tungstenite(text: tungstenite::Utf8Bytes) -> Utf8Bytes {
        Utf8Bytes(text)
    }

    /// Unwraps into tungstenite's text: no copy, no second UTF-8 check.
    pub fn into_tungstenite(text: Utf8Bytes) -> tungstenite::Utf8Bytes {
        text.0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn conversions_keep_the_text() {
        let owned = Utf8Bytes::from(String::from("héllo ✓"));
        assert_eq!(owned.as_str(), "héllo ✓");
        assert_eq!(Utf8Bytes::from("héllo ✓"), owned);
        assert_eq!(Utf8Bytes::from(&String::from("héllo ✓")), owned);
        assert_eq!(Utf8Bytes::from(Box::<str>::from("héllo ✓")), owned);
        assert_eq!(Utf8Bytes::from(Cow::Borrowed("héllo ✓")), owned);
        assert_eq!(Utf8Bytes::from_static("héllo ✓"), owned);
        assert_eq!(
            Utf8Bytes::try_from(Bytes::from_static("héllo ✓".as_bytes())).unwrap(),
            owned
        );
        assert_eq!(
            Utf8Bytes::try_from("héllo ✓".as_bytes().to_vec()).unwrap(),
            owned
        );
        assert_eq!(Bytes::from(owned.clone()), "héllo ✓".as_bytes());
        assert_eq!(String::from(owned.clone()), "héllo ✓");
        assert_eq!(owned.as_bytes(), "héllo ✓".as_bytes());
        assert_eq!(AsRef::<[u8]>::as_ref(&owned), "héllo ✓".as_bytes());
        assert_eq!(AsRef::<str>::as_ref(&owned), "héllo ✓");
        assert_eq!(owned.len(), "héllo ✓".len());
        assert!(Utf8Bytes::default().is_empty());
        assert_eq!(Utf8Bytes::new(), "");
    }

    #[test]
    fn equal_to_str_and_string_both_ways() {
        let text = Utf8Bytes::from_static("abc");
        let same = String::from("abc");
        let shorter = String::from("ab");
        assert!(text == *"abc");
        assert!(text == "abc");
        assert!(text == same);
        assert!(text == Cow::Borrowed("abc"));
        assert!(*"abc" == text);
        assert!("abc" == text);
        assert!(same == text);
        assert!(text != "abd");
        assert!(shorter != text);
        let (a, b, ab) = (
            Utf8Bytes::from("a"),
            Utf8Bytes::from("b"),
            Utf8Bytes::from("ab"),
        );
        assert!(a < b);
        assert_eq!(b.cmp(&ab), "b".cmp("ab"));
        assert_eq!(ab.partial_cmp(&a), Some("ab".cmp("a")));
    }

    #[test]
    fn hashes_as_str() {
        let set: HashSet<Utf8Bytes> = ["a", "b"].into_iter().map(Utf8Bytes::from).collect();
        assert!(set.contains("a"));
        assert!(!set.contains("c"));
    }

    #[test]
    fn invalid_utf8_is_refused_with_our_error() {
        let err = Utf8Bytes::try_from(Bytes::from_static(b"ab\xc3\x28")).unwrap_err();
        assert_eq!(err.valid_up_to(), 2);
        assert_eq!(
            err.to_string(),
            "text is not valid UTF-8: invalid byte at offset 2"
        );
        assert!(err.source().is_some());
        assert_eq!(err.clone().into_bytes(), b"ab\xc3\x28".as_slice());

        let cut = Utf8Bytes::try_from(b"ab\xe2\x82".to_vec()).unwrap_err();
        assert_eq!(
            cut.to_string(),
            "text is not valid UTF-8: it ends inside a character at offset 2"
        );
        assert_eq!(cut.utf8_error().error_len(), None);
    }

    #[test]
    fn clone_and_conversions_share_the_buffer() {
        let text = Utf8Bytes::from(String::from("shared payload"));
        let ptr = text.as_ptr();
        let clone = text.clone();
        assert_eq!(clone.as_ptr(), ptr);
        assert_eq!(Bytes::from(clone).as_ptr(), ptr);

        let bytes = Bytes::from(b"from bytes".to_vec());
        let bytes_ptr = bytes.as_ptr();
        assert_eq!(Utf8Bytes::try_from(bytes).unwrap().as_ptr(), bytes_ptr);

        // the only reference: the allocation comes back as the String
        let back = String::from(text);
        assert_eq!(back.as_ptr(), ptr);
        // shared: copied, and the other holder is untouched
        let a = Utf8Bytes::from(String::from("two holders"));
        let b = a.clone();
        let out = String::from(a);
        assert_ne!(out.as_ptr(), b.as_ptr());
        assert_eq!(out, b);

        let wrapped = tungstenite_text::from_tungstenite(tungstenite::Utf8Bytes::from("x y"));
        let wrapped_ptr = wrapped.as_ptr();
        assert_eq!(
            tungstenite_text::into_tungstenite(wrapped).as_ptr(),
            wrapped_ptr
        );
    }

    #[test]
    fn debug_and_display_are_the_str_s() {
        let text = Utf8Bytes::from("say \"hi\"\n");
        assert_eq!(format!("{text:?}"), r#""say \"hi\"\n""#);
        assert_eq!(format!("{text}"), "say \"hi\"\n");
        assert_eq!(format!("{:>4}", Utf8Bytes::from("a")), "   a");
    }
}
