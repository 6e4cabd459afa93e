//! Choosing a proxy from the environment, as Python's `websockets` (through `urllib`) does
//! (feature `std`).

// Layer 2 is the std layer: std paths are the point here.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::fmt;
use std::net::IpAddr;
use std::string::String;

use super::url::{ProxyUrl, ProxyUrlError};

/// A proxy variable holds a value that is not a usable proxy URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyEnvError {
    /// The variable, e.g. `https_proxy`.
    pub variable: &'static str,
    /// What is wrong with its value.
    pub error: ProxyUrlError,
}

impl fmt::Display for ProxyEnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid proxy in ${}: {}", self.variable, self.error)
    }
}

impl std::error::Error for ProxyEnvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// The proxy for a WebSocket connection to `host:port`, from the process environment.
///
/// Same as [`proxy_for_with`] with [`std::env::var`] as the lookup. `secure` is `true` for
/// `wss://`. `Ok(None)` means connect directly.
pub fn proxy_for(secure: bool, host: &str, port: u16) -> Result<Option<ProxyUrl>, ProxyEnvError> {
    proxy_for_with(secure, host, port, |name| std::env::var(name).ok())
}

/// The proxy for a WebSocket connection to `host:port`, reading variables through `lookup`
/// (so tests need not touch the process environment). `Ok(None)` means connect directly.
///
/// The rules are those of Python's `websockets` (which uses `urllib.request.getproxies` and
/// `proxy_bypass`):
///
/// - `ws://` (`secure == false`) uses `ws_proxy`, else `http_proxy`; `wss://` uses
///   `wss_proxy`, else `https_proxy`.
/// - Each name is looked up in lower case first, then in upper case (`WS_PROXY`, ...). A
///   lower-case variable that is set but empty disables that proxy even if the upper-case one
///   is set; an empty upper-case variable counts as unset.
/// - `HTTP_PROXY` (upper case only) is ignored when `REQUEST_METHOD` is set, i.e. in a CGI
///   script, where it could come from a client's `Proxy:` header ("httpoxy").
/// - `no_proxy` / `NO_PROXY` (same precedence) lists destinations to reach directly; see
///   [`no_proxy_matches`]. It is checked before the proxy URL is parsed.
///
/// A proxy value that is not a valid `http://` URL (see [`ProxyUrl::parse`]) is an error
/// naming the variable.
pub fn proxy_for_with(
    secure: bool,
    host: &str,
    port: u16,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<ProxyUrl>, ProxyEnvError> {
    let cgi = lookup("REQUEST_METHOD").is_some();
    let var = |lower: &'static str, upper: &'static str| -> Option<(&'static str, String)> {
        match lookup(lower) {
            Some(v) if v.trim().is_empty() => None,
            Some(v) => Some((lower, v)),
            None if upper == "HTTP_PROXY" && cgi => None,
            None => lookup(upper)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (upper, v)),
        }
    };
    if let Some((_, no_proxy)) = var("no_proxy", "NO_PROXY")
        && no_proxy_matches(&no_proxy, host, port)
    {
        return Ok(None);
    }
    let chosen = if secure {
        var("wss_proxy", "WSS_PROXY").or_else(|| var("https_proxy", "HTTPS_PROXY"))
    } else {
        var("ws_proxy", "WS_PROXY").or_else(|| var("http_proxy", "HTTP_PROXY"))
    };
    match chosen {
        None => Ok(None),
        Some((variable, value)) => ProxyUrl::parse(&value)
            .map(Some)
            .map_err(|error| ProxyEnvError { variable, error }),
    }
}

/// Whether a `no_proxy` value says to reach `host:port` directly.
///
/// The value is a comma-separated list; each entry is one of:
///
/// - `*`: every destination;
/// - a domain, with or without a leading dot: `example.com` and `.example.com` both match
///   `example.com` and any `*.example.com` (ASCII case-insensitive, a trailing dot ignored);
/// - an IP literal (`127.0.0.1`, `::1`, `[::1]`), compared as addresses, or a CIDR block
///   (`10.0.0.0/8`, `fd00::/8`); an IP destination never matches a domain suffix;
/// - any of these with `:port` (`example.com:8080`, `[::1]:9001`): only that port.
///
/// Entries that cannot be understood (a bad port or prefix) are ignored.
pub fn no_proxy_matches(no_proxy: &str, host: &str, port: u16) -> bool {
    let host = normalize(host);
    let host_ip = host.parse::<IpAddr>().ok();
    no_proxy
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| entry_matches(entry, &host, host_ip, port))
}

fn entry_matches(entry: &str, host: &str, host_ip: Option<IpAddr>, port: u16) -> bool {
    if entry == "*" {
        return true;
    }
    let Some((name, entry_port)) = split_entry(entry) else {
        return false;
    };
    if entry_port.is_some_and(|p| p != port) {
        return false;
    }
    if let Some((net, prefix)) = name.split_once('/') {
        return match (host_ip, net.parse::<IpAddr>(), prefix.parse::<u8>()) {
            (Some(ip), Ok(net), Ok(prefix)) => in_cidr(ip, net, prefix),
            _ => false,
        };
    }
    let name = normalize(name.trim_start_matches('.'));
    if name.is_empty() {
        return false;
    }
    match (host_ip, name.parse::<IpAddr>()) {
        (Some(ip), Ok(entry_ip)) => ip == entry_ip,
        (Some(_), Err(_)) | (None, Ok(_)) => false,
        (None, Err(_)) => {
            host == name
                || (host.len() > name.len()
                    && host.ends_with(&*name)
                    && host.as_bytes()[host.len() - name.len() - 1] == b'.')
        }
    }
}

/// `name[:port]`, `[v6][:port]`, a bare IPv6 literal or CIDR block (no port). `None` for a
/// bad port.
fn split_entry(entry: &str) -> Option<(&str, Option<u16>)> {
    let (name, port) = if let Some(v6) = entry.strip_prefix('[') {
        let (name, after) = v6.split_once(']')?;
        match after {
            "" => (name, None),
            p => (name, Some(p.strip_prefix(':')?)),
        }
    } else if entry.matches(':').count() > 1 {
        (entry, None) // a bare IPv6 literal or block
    } else {
        match entry.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (entry, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok()?),
    };
    Some((name, port))
}

/// Lower case, without brackets or one trailing dot.
fn normalize(host: &str) -> String {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

fn in_cidr(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if prefix <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if prefix <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::string::ToString;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    /// The chosen proxy's `host:port`, or `direct`.
    fn chosen(vars: &[(&str, &str)], secure: bool, host: &str, port: u16) -> String {
        match proxy_for_with(secure, host, port, env(vars)) {
            Ok(Some(p)) => std::format!("{}:{}", p.host(), p.port()),
            Ok(None) => "direct".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn scheme_selection() {
        let all = [
            ("ws_proxy", "http://ws:1"),
            ("http_proxy", "http://http:2"),
            ("wss_proxy", "http://wss:3"),
            ("https_proxy", "http://https:4"),
        ];
        assert_eq!(chosen(&all, false, "h", 80), "ws:1");
        assert_eq!(chosen(&all, true, "h", 443), "wss:3");
        assert_eq!(chosen(&all[1..], false, "h", 80), "http:2");
        assert_eq!(chosen(&all[1..], true, "h", 443), "wss:3");
        assert_eq!(chosen(&[all[1], all[3]], true, "h", 443), "https:4");
        // ws:// never uses https_proxy and wss:// never uses http_proxy.
        assert_eq!(chosen(&[all[3]], false, "h", 80), "direct");
        assert_eq!(chosen(&[all[1]], true, "h", 443), "direct");
        assert_eq!(chosen(&[], false, "h", 80), "direct");
    }

    #[test]
    fn case_precedence() {
        let upper = [("HTTP_PROXY", "http://upper:1"), ("HTTPS_PROXY", "upper:2")];
        assert_eq!(chosen(&upper, false, "h", 80), "upper:1");
        assert_eq!(chosen(&upper, true, "h", 443), "upper:2");
        let both = [
            ("HTTP_PROXY", "http://upper:1"),
            ("http_proxy", "http://lower:1"),
        ];
        assert_eq!(chosen(&both, false, "h", 80), "lower:1");
        // A set but empty lower-case variable disables the upper-case one.
        let disabled = [("HTTP_PROXY", "http://upper:1"), ("http_proxy", "")];
        assert_eq!(chosen(&disabled, false, "h", 80), "direct");
        // ... and falls through to the next name, as an unset one does.
        let fall = [("ws_proxy", ""), ("WS_PROXY", "x:1"), ("http_proxy", "h:2")];
        assert_eq!(chosen(&fall, false, "h", 80), "h:2");
        // An empty upper-case variable counts as unset.
        let empty = [("WSS_PROXY", " "), ("HTTPS_PROXY", "s:3")];
        assert_eq!(chosen(&empty, true, "h", 443), "s:3");
        // CGI: HTTP_PROXY may come from a request header (httpoxy); http_proxy still counts.
        let cgi = [("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "http://evil:1")];
        assert_eq!(chosen(&cgi, false, "h", 80), "direct");
        let cgi_lower = [("REQUEST_METHOD", "GET"), ("http_proxy", "http://ok:1")];
        assert_eq!(chosen(&cgi_lower, false, "h", 80), "ok:1");
        let cgi_ws = [("REQUEST_METHOD", "GET"), ("WS_PROXY", "http://ok:2")];
        assert_eq!(chosen(&cgi_ws, false, "h", 80), "ok:2");
    }

    #[test]
    fn invalid_values_name_the_variable() {
        assert_eq!(
            chosen(&[("HTTPS_PROXY", "https://p:3128")], true, "h", 443),
            "invalid proxy in $HTTPS_PROXY: https:// proxies (TLS to the proxy) are not \
             supported, use an http:// proxy"
        );
        assert_eq!(
            chosen(&[("ws_proxy", "socks5h://p:1080")], false, "h", 80),
            "invalid proxy in $ws_proxy: unsupported proxy scheme socks5h://, only http:// is \
             supported"
        );
        // A bypassed destination never looks at the proxy value.
        let bypassed = [("https_proxy", "https://p"), ("no_proxy", "h")];
        assert_eq!(chosen(&bypassed, true, "h", 443), "direct");
    }

    #[test]
    fn no_proxy_from_env() {
        let vars = [("http_proxy", "p:1"), ("NO_PROXY", "internal, .corp")];
        assert_eq!(chosen(&vars, false, "internal", 80), "direct");
        assert_eq!(chosen(&vars, false, "a.corp", 80), "direct");
        assert_eq!(chosen(&vars, false, "example.com", 80), "p:1");
        let lower_wins = [
            ("http_proxy", "p:1"),
            ("NO_PROXY", "*"),
            ("no_proxy", "internal"),
        ];
        assert_eq!(chosen(&lower_wins, false, "example.com", 80), "p:1");
    }

    #[test]
    fn no_proxy_table() {
        #[rustfmt::skip]
        let table: &[(&str, &str, u16, bool)] = &[
            // (no_proxy, host, port, bypass?)
            ("*", "anything.example", 443, true),
            ("a.com, *", "x.org", 1, true),
            ("", "example.com", 80, false),
            (" , ,", "example.com", 80, false),
            ("example.com", "example.com", 80, true),
            ("example.com", "EXAMPLE.COM.", 80, true),
            ("Example.Com", "www.example.com", 80, true),
            ("example.com", "deep.www.example.com", 80, true),
            ("example.com", "badexample.com", 80, false),
            ("example.com", "example.com.evil", 80, false),
            (".example.com", "example.com", 80, true),
            (".example.com", "www.example.com", 80, true),
            ("..example.com", "www.example.com", 80, true),
            (".", "example.com", 80, false),
            ("example.com:8080", "example.com", 8080, true),
            ("example.com:8080", "example.com", 80, false),
            (".example.com:8080", "a.example.com", 8080, true),
            ("example.com:x", "example.com", 80, false),
            ("other, example.com", "example.com", 80, true),
            ("localhost,127.0.0.1", "127.0.0.1", 9001, true),
            ("127.0.0.1", "127.0.0.2", 9001, false),
            // An IP destination never matches by suffix (Python's ".0.1" would).
            ("0.1", "127.0.0.1", 9001, false),
            ("127.0.0.1:9001", "127.0.0.1", 9001, true),
            ("127.0.0.1:9001", "127.0.0.1", 9002, false),
            ("::1", "::1", 80, true),
            ("::1", "[::1]", 80, true),
            ("[::1]", "::1", 80, true),
            ("[::1]:9001", "::1", 9001, true),
            ("[::1]:9001", "::1", 9002, false),
            ("0:0:0:0:0:0:0:1", "::1", 80, true),
            ("10.0.0.0/8", "10.1.2.3", 80, true),
            ("10.0.0.0/8", "11.1.2.3", 80, false),
            ("10.0.0.0/8", "ten.example", 80, false),
            ("192.168.1.0/24:8080", "192.168.1.7", 8080, true),
            ("0.0.0.0/0", "8.8.8.8", 53, true),
            ("10.0.0.0/33", "10.0.0.1", 80, false),
            ("fd00::/8", "fd12::1", 80, true),
            ("fd00::/8", "fe80::1", 80, false),
            ("[fd00::/8]:443", "fd12::1", 443, true),
            ("127.0.0.1", "localhost", 80, false),
        ];
        for &(no_proxy, host, port, bypass) in table {
            assert_eq!(
                no_proxy_matches(no_proxy, host, port),
                bypass,
                "no_proxy={no_proxy:?} host={host:?} port={port}"
            );
        }
    }
}
