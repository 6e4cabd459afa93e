//! `http://[user:pass@]host[:port]` proxy URLs (feature `std`).

// Layer 2 is the std layer: std paths are the point here.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::fmt;
use std::string::{String, ToString};
use std::vec::Vec;

use super::connect::Credentials;
use crate::handshake::valid_host;

/// Why a string is not a usable proxy URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyUrlError {
    /// The URL is empty.
    Empty,
    /// `https://`: TLS to the proxy itself is not supported.
    HttpsNotSupported,
    /// Another scheme (e.g. `socks5`); only `http` is supported.
    UnsupportedScheme(String),
    /// The host is empty or holds characters a URI host may not (IPv6 literals go in
    /// brackets).
    Host,
    /// The port is not a number from 1 to 65535.
    Port,
    /// The user name or password has a bad percent-escape or is not UTF-8 once decoded.
    Credentials,
}

impl fmt::Display for ProxyUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyUrlError::Empty => f.write_str("empty proxy URL"),
            ProxyUrlError::HttpsNotSupported => f.write_str(
                "https:// proxies (TLS to the proxy) are not supported, use an http:// proxy",
            ),
            ProxyUrlError::UnsupportedScheme(s) => {
                write!(
                    f,
                    "unsupported proxy scheme {s}://, only http:// is supported"
                )
            }
            ProxyUrlError::Host => f.write_str("invalid host in proxy URL"),
            ProxyUrlError::Port => f.write_str("invalid port in proxy URL"),
            ProxyUrlError::Credentials => {
                f.write_str("invalid percent-encoding in proxy URL user name or password")
            }
        }
    }
}

impl std::error::Error for ProxyUrlError {}

/// An HTTP proxy: `http://[user[:password]@]host[:port][/]`.
///
/// The user name and password are percent-decoded; the port defaults to 80; a URL without a
/// scheme (`proxy.corp:3128`) is taken as `http://`, as curl and Python's `requests` do; a
/// path is ignored. `Display` and `Debug` never show the password.
///
/// ```
/// use rfc6455::proxy::ProxyUrl;
/// let proxy = ProxyUrl::parse("http://alice:p%40ss@[::1]:3128/").unwrap();
/// assert_eq!((proxy.host(), proxy.port()), ("::1", 3128));
/// assert_eq!(proxy.credentials().unwrap().password(), "p@ss");
/// assert_eq!(proxy.to_string(), "http://alice@[::1]:3128");
/// assert!(ProxyUrl::parse("https://proxy:3128").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    host: String,
    port: u16,
    user: Option<String>,
    password: String,
}

impl ProxyUrl {
    /// Parses a proxy URL.
    pub fn parse(url: &str) -> Result<ProxyUrl, ProxyUrlError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(ProxyUrlError::Empty);
        }
        let rest = match url.split_once("://") {
            Some((scheme, rest)) => {
                if scheme.eq_ignore_ascii_case("https") {
                    return Err(ProxyUrlError::HttpsNotSupported);
                }
                if !scheme.eq_ignore_ascii_case("http") {
                    return Err(ProxyUrlError::UnsupportedScheme(
                        scheme.to_ascii_lowercase(),
                    ));
                }
                rest
            }
            None => url,
        };
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        // The last `@` ends the user information: a password may hold an unescaped `@`.
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            None => (None, String::new()),
            Some(info) => {
                let (user, password) = info.split_once(':').unwrap_or((info, ""));
                (Some(percent_decode(user)?), percent_decode(password)?)
            }
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or(ProxyUrlError::Host)?;
            match after {
                "" => (host, None),
                p => (host, Some(p.strip_prefix(':').ok_or(ProxyUrlError::Host)?)),
            }
        } else {
            match hostport.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            }
        };
        if !valid_host(host) {
            return Err(ProxyUrlError::Host);
        }
        let port = match port {
            None | Some("") => 80,
            Some(p) if p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
                match p.parse::<u16>() {
                    Ok(0) | Err(_) => return Err(ProxyUrlError::Port),
                    Ok(n) => n,
                }
            }
            Some(_) => return Err(ProxyUrlError::Port),
        };
        Ok(ProxyUrl {
            host: host.to_string(),
            port,
            user,
            password,
        })
    }

    /// The proxy's host, without brackets for an IPv6 literal (what `TcpStream::connect`
    /// wants, as `(host, port)`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port (80 unless given).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The credentials for `Proxy-Authorization: Basic`, if the URL has a user name.
    pub fn credentials(&self) -> Option<Credentials<'_>> {
        self.user
            .as_deref()
            .map(|user| Credentials::new(user, &self.password))
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("http://")?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Decodes `%XX` escapes; the result must be UTF-8.
fn percent_decode(s: &str) -> Result<String, ProxyUrlError> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = |d: Option<u8>| match d {
                Some(d) => (d as char).to_digit(16).ok_or(ProxyUrlError::Credentials),
                None => Err(ProxyUrlError::Credentials),
            };
            let (hi, lo) = (hex(bytes.next())?, hex(bytes.next())?);
            // Two hex digits are at most 0xff.
            out.push((hi * 16 + lo) as u8);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).map_err(|_| ProxyUrlError::Credentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let p = ProxyUrl::parse("http://proxy.corp").unwrap();
        assert_eq!(
            (p.host(), p.port(), p.credentials()),
            ("proxy.corp", 80, None)
        );
        let p = ProxyUrl::parse(" HTTP://u%3Ax:p%40%25ss@10.0.0.1:3128/path?q ").unwrap();
        assert_eq!((p.host(), p.port()), ("10.0.0.1", 3128));
        let c = p.credentials().unwrap();
        assert_eq!((c.user(), c.password()), ("u:x", "p@%ss"));
        let p = ProxyUrl::parse("proxy:8080").unwrap();
        assert_eq!((p.host(), p.port()), ("proxy", 8080));
        let p = ProxyUrl::parse("http://user@[::1]").unwrap();
        assert_eq!((p.host(), p.port()), ("::1", 80));
        assert_eq!(p.credentials().unwrap().password(), "");
        // The last `@` ends the user information.
        let p = ProxyUrl::parse("http://u:p@ss@h:1").unwrap();
        assert_eq!(p.credentials().unwrap().password(), "p@ss");
        assert_eq!(ProxyUrl::parse("http://h:").unwrap().port(), 80);
    }

    #[test]
    fn rejects() {
        use ProxyUrlError::*;
        for (url, error) in [
            ("", Empty),
            ("  ", Empty),
            ("https://proxy:3128", HttpsNotSupported),
            ("HTTPS://proxy", HttpsNotSupported),
            ("socks5://proxy:1080", UnsupportedScheme("socks5".into())),
            ("http://", Host),
            ("http://:3128", Host),
            ("http://a b:1", Host),
            ("http://[::1:80", Host),
            ("http://[::1]x", Host),
            ("http://::1:80", Host),
            ("http://h:0", Port),
            ("http://h:65536", Port),
            ("http://h:-1", Port),
            ("http://h:12a", Port),
            ("http://u%zz:p@h", Credentials),
            ("http://u:%ff@h", Credentials),
            ("http://u:%4@h", Credentials),
        ] {
            assert_eq!(ProxyUrl::parse(url), Err(error), "{url:?}");
        }
        assert_eq!(
            HttpsNotSupported.to_string(),
            "https:// proxies (TLS to the proxy) are not supported, use an http:// proxy"
        );
    }

    #[test]
    fn never_shows_the_password() {
        let p = ProxyUrl::parse("http://alice:secret@proxy:3128").unwrap();
        assert_eq!(p.to_string(), "http://alice@proxy:3128");
        let debug = std::format!("{p:?} {:?}", p.credentials().unwrap());
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("alice"), "{debug}");
    }
}
