//! Header-value grammar shared by both sides: tokens, comma-separated lists (RFC 9110 §5.6),
//! and extension offers with parameters (RFC 6455 §9.1).

use core::fmt;

/// Whether `b` is a `tchar` (RFC 9110 §5.6.2).
pub(crate) const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_'
        | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Whether `s` is a non-empty `token`.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Strips optional whitespace (SP / HTAB) at both ends.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Whether a header value is safe to write: no CR, LF, NUL or other control bytes but HTAB.
pub(crate) fn is_field_value(s: &[u8]) -> bool {
    s.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Whether a value is visible ASCII (plus inner spaces): used for Host and Origin.
pub(crate) fn is_visible_ascii(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| (0x21..0x7f).contains(&b))
}

/// The non-empty elements of a comma-separated list value, trimmed (empty elements are
/// skipped, as RFC 9110 §5.6.1 asks of recipients).
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// Whether a comma-separated list value contains `token` (ASCII case-insensitive).
pub(crate) fn list_contains(value: &[u8], token: &str) -> bool {
    list_elements(value).any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
}

/// A `&str` from bytes already checked to be ASCII.
pub(crate) fn ascii_str(b: &[u8]) -> &str {
    // Callers only pass token / visible-ASCII bytes; the fallback is never taken.
    core::str::from_utf8(b).unwrap_or("")
}

/// Validates a `Sec-WebSocket-Protocol` value: a list of tokens.
pub(crate) fn valid_protocol_list(value: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .all(|e| e.is_empty() || is_token(e))
}

/// One extension in a `Sec-WebSocket-Extensions` header: its name and its parameters
/// (RFC 6455 §9.1).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ExtensionOffer<'a> {
    name: &'a str,
    params: &'a str,
}

impl<'a> ExtensionOffer<'a> {
    /// The extension token, e.g. `permessage-deflate`.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The parameters, in order, e.g. `("client_max_window_bits", None)`.
    pub fn params(&self) -> Params<'a> {
        Params {
            rest: self.params.as_bytes(),
        }
    }

    /// The parameters exactly as received (after the name, starting with `;`, or empty).
    pub fn raw_params(&self) -> &'a str {
        self.params
    }
}

impl fmt::Debug for ExtensionOffer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtensionOffer")
            .field("name", &self.name)
            .field("params", &self.params())
            .finish()
    }
}

/// A parameter value: a token or the content of a quoted-string (RFC 6455 §9.1 requires the
/// unescaped content to be a token too).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ParamValue<'a> {
    raw: &'a str,
    quoted: bool,
}

impl<'a> ParamValue<'a> {
    /// The value without quotes, if it has no backslash escapes (the usual case, including
    /// every value of permessage-deflate). `None` means: use [`chars`](Self::chars) or
    /// compare with `==`.
    pub fn as_str(&self) -> Option<&'a str> {
        if self.quoted && self.raw.contains('\\') {
            None
        } else {
            Some(self.raw)
        }
    }

    /// Whether the value was sent as a quoted-string.
    pub fn is_quoted(&self) -> bool {
        self.quoted
    }

    /// The value as received, inside the quotes if quoted, escapes included.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The value's characters with escapes removed.
    pub fn chars(&self) -> impl Iterator<Item = char> + 'a {
        let quoted = self.quoted;
        let mut escaped = false;
        self.raw.chars().filter(move |&c| {
            if quoted && !escaped && c == '\\' {
                escaped = true;
                false
            } else {
                escaped = false;
                true
            }
        })
    }
}

impl PartialEq<str> for ParamValue<'_> {
    fn eq(&self, other: &str) -> bool {
        self.chars().eq(other.chars())
    }
}

impl PartialEq<&str> for ParamValue<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl fmt::Display for ParamValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        self.chars().try_for_each(|c| f.write_char(c))
    }
}

impl fmt::Debug for ParamValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.quoted {
            write!(f, "\"{}\"", self.raw)
        } else {
            f.write_str(self.raw)
        }
    }
}

/// Iterator over an extension's parameters: `(name, value)` with `None` for a bare name.
#[derive(Clone)]
pub struct Params<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Params<'a> {
    type Item = (&'a str, Option<ParamValue<'a>>);

    fn next(&mut self) -> Option<Self::Item> {
        let mut pos = 0;
        match lex_param(self.rest, &mut pos) {
            Ok(Some(p)) => {
                self.rest = &self.rest[pos..];
                Some(p)
            }
            // Values were validated before an offer is handed out; stop quietly otherwise.
            _ => {
                self.rest = &[];
                None
            }
        }
    }
}

impl fmt::Debug for Params<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// The grammar was violated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

fn skip_ows(s: &[u8], pos: &mut usize) {
    while matches!(s.get(*pos), Some(b' ' | b'\t')) {
        *pos += 1;
    }
}

fn lex_token<'a>(s: &'a [u8], pos: &mut usize) -> Result<&'a str, Malformed> {
    let start = *pos;
    while s.get(*pos).is_some_and(|&b| is_tchar(b)) {
        *pos += 1;
    }
    if *pos == start {
        Err(Malformed)
    } else {
        Ok(ascii_str(&s[start..*pos]))
    }
}

/// A quoted-string whose unescaped content is a token (RFC 6455 §9.1). `pos` is on the `"`.
fn lex_quoted<'a>(s: &'a [u8], pos: &mut usize) -> Result<&'a str, Malformed> {
    *pos += 1;
    let start = *pos;
    let mut len = 0usize;
    loop {
        match s.get(*pos) {
            Some(b'"') => break,
            Some(b'\\') => match s.get(*pos + 1) {
                Some(&b) if is_tchar(b) => *pos += 2,
                _ => return Err(Malformed),
            },
            Some(&b) if is_tchar(b) => *pos += 1,
            _ => return Err(Malformed),
        }
        len += 1;
    }
    let raw = ascii_str(&s[start..*pos]);
    *pos += 1;
    if len == 0 { Err(Malformed) } else { Ok(raw) }
}

/// One `; name[=value]` at `pos` (leading OWS allowed). `Ok(None)` at the end of the params.
fn lex_param<'a>(
    s: &'a [u8],
    pos: &mut usize,
) -> Result<Option<(&'a str, Option<ParamValue<'a>>)>, Malformed> {
    skip_ows(s, pos);
    match s.get(*pos) {
        None => return Ok(None),
        Some(b';') => *pos += 1,
        Some(_) => return Err(Malformed),
    }
    skip_ows(s, pos);
    let name = lex_token(s, pos)?;
    let mut after = *pos;
    skip_ows(s, &mut after);
    if s.get(after) != Some(&b'=') {
        return Ok(Some((name, None)));
    }
    *pos = after + 1;
    skip_ows(s, pos);
    let value = if s.get(*pos) == Some(&b'"') {
        ParamValue {
            raw: lex_quoted(s, pos)?,
            quoted: true,
        }
    } else {
        ParamValue {
            raw: lex_token(s, pos)?,
            quoted: false,
        }
    };
    Ok(Some((name, Some(value))))
}

/// Where an extension's parameters end: at the end of the value or before the next `,`.
fn params_end(s: &[u8], mut pos: usize) -> Result<usize, Malformed> {
    loop {
        let mut p = pos;
        skip_ows(s, &mut p);
        match s.get(p) {
            None | Some(b',') => return Ok(pos),
            _ => {}
        }
        match lex_param(s, &mut pos)? {
            Some(_) => {}
            None => return Ok(pos),
        }
    }
}

/// Checks a whole `Sec-WebSocket-Extensions` value against RFC 6455 §9.1.
pub(crate) fn valid_extension_list(value: &[u8]) -> bool {
    let mut pos = 0;
    loop {
        match next_extension(value, &mut pos) {
            Ok(Some(_)) => {}
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
}

/// The next extension of a list value, starting at `pos`. `Ok(None)` at the end.
pub(crate) fn next_extension<'a>(
    s: &'a [u8],
    pos: &mut usize,
) -> Result<Option<ExtensionOffer<'a>>, Malformed> {
    loop {
        skip_ows(s, pos);
        match s.get(*pos) {
            None => return Ok(None),
            Some(b',') => *pos += 1,
            Some(_) => break,
        }
    }
    let name = lex_token(s, pos)?;
    let params_start = *pos;
    *pos = params_end(s, *pos)?;
    let params = trim_ows(&s[params_start..*pos]);
    skip_ows(s, pos);
    match s.get(*pos) {
        None => {}
        Some(b',') => *pos += 1,
        Some(_) => return Err(Malformed),
    }
    Ok(Some(ExtensionOffer {
        name,
        params: ascii_str(params),
    }))
}

/// Iterator over the extension offers of a sequence of `Sec-WebSocket-Extensions` values.
#[derive(Clone)]
pub(crate) struct ExtensionIter<'a, I> {
    values: I,
    current: &'a [u8],
    pos: usize,
}

impl<'a, I: Iterator<Item = &'a [u8]>> ExtensionIter<'a, I> {
    pub(crate) fn new(values: I) -> Self {
        ExtensionIter {
            values,
            current: &[],
            pos: 0,
        }
    }
}

impl<'a, I: Iterator<Item = &'a [u8]>> Iterator for ExtensionIter<'a, I> {
    type Item = ExtensionOffer<'a>;

    fn next(&mut self) -> Option<ExtensionOffer<'a>> {
        loop {
            match next_extension(self.current, &mut self.pos) {
                Ok(Some(ext)) => return Some(ext),
                // End of this value, or (never for validated input) a malformed rest.
                Ok(None) | Err(_) => {
                    self.current = self.values.next()?;
                    self.pos = 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exts(v: &str) -> Option<usize> {
        valid_extension_list(v.as_bytes())
            .then(|| ExtensionIter::new(core::iter::once(v.as_bytes())).count())
    }

    #[test]
    fn extension_grammar() {
        assert_eq!(exts(""), Some(0));
        assert_eq!(exts("permessage-deflate"), Some(1));
        assert_eq!(
            exts("permessage-deflate; client_max_window_bits, foo ;a=1;b=\"x\" , ,"),
            Some(2)
        );
        assert_eq!(exts("a; b = 10"), Some(1));
        assert_eq!(exts("a;"), None);
        assert_eq!(exts("a b"), None);
        assert_eq!(exts("a; b=\"x y\""), None);
        assert_eq!(exts("a; b=\"\""), None);
        assert_eq!(exts("a; b=\"x"), None);
        assert_eq!(exts("a; b=\"x,y\""), None);
        assert_eq!(exts(";a"), None);
        assert_eq!(exts("a; b="), None);
        assert_eq!(exts("a=1"), None);
    }

    #[test]
    fn params() {
        let v = b"permessage-deflate; client_max_window_bits; server_max_window_bits=\"1\\0\"; x=y";
        let ext = ExtensionIter::new(core::iter::once(&v[..])).next().unwrap();
        assert_eq!(ext.name(), "permessage-deflate");
        let mut p = ext.params();
        assert_eq!(p.next(), Some(("client_max_window_bits", None)));
        let (name, value) = p.next().unwrap();
        assert_eq!(name, "server_max_window_bits");
        let value = value.unwrap();
        assert!(value.is_quoted());
        assert_eq!(value.as_str(), None);
        assert!(value == "10");
        let (name, value) = p.next().unwrap();
        assert_eq!((name, value.unwrap().as_str()), ("x", Some("y")));
        assert_eq!(p.next(), None);
    }

    #[test]
    fn lists() {
        assert!(list_contains(b"keep-alive, Upgrade", "upgrade"));
        assert!(list_contains(b" ,UPGRADE,", "upgrade"));
        assert!(!list_contains(b"upgrade2", "upgrade"));
        assert!(valid_protocol_list(b"chat, superchat,"));
        assert!(!valid_protocol_list(b"chat v2"));
        assert_eq!(trim_ows(b" \t a \t"), b"a");
    }
}
