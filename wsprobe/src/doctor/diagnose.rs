//! From an answer to a diagnosis: pure functions, so every case is unit-tested.

use super::report::Diagnosis;

/// The lines that make nginx pass WebSocket upgrades and keep quiet connections open.
pub fn nginx_fix() -> Vec<String> {
    [
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection \"upgrade\";",
        "proxy_read_timeout 3600s;",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Whether the `Server` header names nginx (or OpenResty, built on it).
pub fn is_nginx(server: Option<&str>) -> bool {
    server.is_some_and(|s| {
        let s = s.to_ascii_lowercase();
        s.contains("nginx") || s.contains("openresty")
    })
}

/// A header's value (first, ASCII case-insensitive name).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The first non-empty line of a body (an HTML page gives its `<title>` instead), cut to
/// 200 characters.
pub fn body_reason(body: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let text = match (lower.find("<title>"), lower.find("</title>")) {
        (Some(a), Some(b)) if b > a + 7 => body.get(a + 7..b).unwrap_or(""),
        _ => body
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or(""),
    };
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(text.chars().take(200).collect())
}

/// Whether the server's reason says that an upgrade header (which doctor sent) is missing,
/// or that the request was HTTP/1.0: something between dropped them.
fn says_upgrade_missing(body: &str) -> bool {
    let b = body.to_ascii_lowercase();
    (b.contains("upgrade") || b.contains("connection") || b.contains("http/1.1"))
        && (b.contains("missing")
            || b.contains("not contain")
            || b.contains("required")
            || b.contains("requires")
            || b.contains("expected")
            || b.contains("must")
            || b.contains("invalid")
            || b.contains("only"))
}

/// The WebSocket URL a redirect's `Location` points to, resolved against the probed URL
/// (`ws[s]://authority` and the path).
pub fn redirect_target(location: &str, secure: bool, authority: &str) -> String {
    let loc = location.trim();
    if let Some(rest) = loc.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = loc.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if loc.starts_with("ws://") || loc.starts_with("wss://") {
        loc.to_string()
    } else if let Some(rest) = loc.strip_prefix("//") {
        format!("{}://{rest}", if secure { "wss" } else { "ws" })
    } else {
        let path = if loc.starts_with('/') {
            loc.to_string()
        } else {
            format!("/{loc}")
        };
        format!("{}://{authority}{path}", if secure { "wss" } else { "ws" })
    }
}

/// The request's context for a diagnosis.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// `wss://`.
    pub secure: bool,
    /// `host[:port]` as in the URL.
    pub authority: &'a str,
    /// The path requested.
    pub path: &'a str,
}

/// Diagnoses a non-101 answer.
pub fn rejection(
    status: u16,
    headers: &[(String, String)],
    body: &str,
    cx: Context<'_>,
) -> Diagnosis {
    let server = header(headers, "server");
    let nginx = is_nginx(server);
    let proxy = match server {
        Some(s) => format!("a reverse proxy, here {s}"),
        None => "a reverse proxy".into(),
    };
    let reason = body_reason(body);
    let said = reason
        .as_deref()
        .map(|r| format!(" The server says: \"{r}\"."))
        .unwrap_or_default();
    let via = server
        .map(|s| format!(" (Server: {s})"))
        .unwrap_or_default();
    let upgrade_lost = |status: u16| Diagnosis {
        id: "upgrade_not_passed",
        fatal: true,
        problem: format!(
            "the server answered {status} and says the upgrade headers are missing, but doctor \
             sent `Upgrade: websocket` and `Connection: Upgrade` over HTTP/1.1: something \
             between ({proxy}) dropped them. Upgrade and Connection are \
             hop-by-hop headers: a proxy passes them only when told to.{said}"
        ),
        fix: vec![
            "configure the reverse proxy to pass WebSocket upgrades (HTTP/1.1 to the backend, \
             forward Upgrade and set Connection: upgrade)"
                .into(),
            "behind a CDN or load balancer, enable its WebSocket support".into(),
        ],
        nginx: nginx_fix(),
    };
    match status {
        404 => Diagnosis {
            id: "not_found",
            fatal: true,
            problem: format!(
                "404 Not Found: nothing answers WebSocket upgrades at the path {}{via}.{said}",
                cx.path
            ),
            fix: vec![
                "check the path: the server's WebSocket route (e.g. /ws, /socket, /graphql) \
                 must match exactly, trailing slash included"
                    .into(),
                "behind a reverse proxy: check that its location/route for this path reaches \
                 the WebSocket server"
                    .into(),
            ],
            nginx: Vec::new(),
        },
        301 | 302 | 303 | 307 | 308 => {
            let location = header(headers, "location");
            let (problem, fix) = match location {
                Some(loc) => {
                    let target = redirect_target(loc, cx.secure, cx.authority);
                    let to_tls = !cx.secure && target.starts_with("wss://");
                    (
                        format!(
                            "{status} redirect to {loc}{}: browsers' WebSocket does not follow \
                             redirects (the connection just fails), and neither do most \
                             clients",
                            if to_tls {
                                " (the server wants TLS)"
                            } else {
                                ""
                            }
                        ),
                        vec![format!("connect to {target} directly")],
                    )
                }
                None => (
                    format!(
                        "{status} redirect without a Location header: browsers' WebSocket does \
                         not follow redirects anyway"
                    ),
                    vec!["find the URL the server expects and connect to it directly".into()],
                ),
            };
            Diagnosis {
                id: "redirect",
                fatal: true,
                problem,
                fix,
                nginx: Vec::new(),
            }
        }
        400 | 426 if says_upgrade_missing(body) => upgrade_lost(status),
        426 => {
            let version = header(headers, "sec-websocket-version");
            Diagnosis {
                id: "upgrade_required",
                fatal: true,
                problem: format!(
                    "426 Upgrade Required: the server wants a different upgrade{}{via}.{said}",
                    version
                        .map(|v| format!(
                            " (it supports Sec-WebSocket-Version: {v}; doctor sent 13)"
                        ))
                        .unwrap_or_default()
                ),
                fix: vec![
                    "if a proxy is in between, make it pass the Upgrade and Connection headers"
                        .into(),
                    "otherwise check what the server's reason asks for".into(),
                ],
                nginx: if nginx { nginx_fix() } else { Vec::new() },
            }
        }
        400 => Diagnosis {
            id: "bad_request",
            fatal: true,
            problem: format!(
                "400 Bad Request: the server refused the handshake{via}.{}",
                if said.is_empty() {
                    " It gave no reason.".to_string()
                } else {
                    said.clone()
                }
            ),
            fix: vec![
                "read the server's reason above; a missing header (Origin, a subprotocol with \
                 --protocol, a token with --header) is the usual cause"
                    .into(),
            ],
            nginx: Vec::new(),
        },
        200..=299 => Diagnosis {
            id: "plain_http",
            fatal: true,
            problem: format!(
                "{status} instead of 101: a plain web server answered (it ignores the Upgrade \
                 header), or a reverse proxy that does not pass upgrades forwarded the request \
                 as ordinary HTTP{via}.{said}"
            ),
            fix: vec![
                "check that the URL points to the WebSocket endpoint, not a web page or static \
                 files"
                    .into(),
                "behind a reverse proxy: make it pass WebSocket upgrades (HTTP/1.1 to the \
                 backend, Upgrade and Connection headers)"
                    .into(),
            ],
            nginx: if nginx { nginx_fix() } else { Vec::new() },
        },
        401 | 407 => Diagnosis {
            id: "auth_required",
            fatal: true,
            problem: format!(
                "{status}: the endpoint needs credentials{}{via}.{said}",
                header(headers, "www-authenticate")
                    .map(|a| format!(" (WWW-Authenticate: {a})"))
                    .unwrap_or_default()
            ),
            fix: vec![
                "send them: --header 'Authorization: Bearer …' or a token in the query string, \
                 as the application expects (browsers cannot set headers on a WebSocket: use a \
                 cookie or a query parameter)"
                    .into(),
            ],
            nginx: Vec::new(),
        },
        403 => Diagnosis {
            id: "forbidden",
            fatal: true,
            problem: format!(
                "403 Forbidden: the server refuses this client: usually an Origin check \
                 (browsers always send Origin; doctor sends none unless --origin is given), or \
                 missing credentials{via}.{said}"
            ),
            fix: vec![
                "try the page's origin: --origin https://your.site".into(),
                "add the origin to the server's allowed list, or send credentials with --header"
                    .into(),
            ],
            nginx: Vec::new(),
        },
        405 => Diagnosis {
            id: "method_not_allowed",
            fatal: true,
            problem: format!(
                "405 Method Not Allowed: this URL does not accept GET: it is not a WebSocket \
                 endpoint{via}.{said}"
            ),
            fix: vec!["check the path".into()],
            nginx: Vec::new(),
        },
        502..=504 => Diagnosis {
            id: "proxy_upstream",
            fatal: true,
            problem: format!(
                "{status}: a proxy or gateway answered because it could not reach the WebSocket \
                 server behind it ({}){via}.{said}",
                match status {
                    502 => "502 Bad Gateway: connection refused or a bad answer from upstream",
                    503 => "503 Service Unavailable: no healthy upstream, or overloaded",
                    _ => "504 Gateway Timeout: upstream too slow to answer",
                }
            ),
            fix: vec![
                "check that the WebSocket server runs and listens where the proxy sends it \
                 (nginx: the proxy_pass address; the proxy's error log names the failure)"
                    .into(),
            ],
            nginx: Vec::new(),
        },
        500..=599 => Diagnosis {
            id: "server_error",
            fatal: true,
            problem: format!("{status}: the server failed while handling the upgrade{via}.{said}"),
            fix: vec!["look at the server's log for this request".into()],
            nginx: Vec::new(),
        },
        _ => Diagnosis {
            id: "not_101",
            fatal: true,
            problem: format!(
                "{status} instead of 101 Switching Protocols: the server did not accept the \
                 WebSocket upgrade{via}.{said}"
            ),
            fix: vec!["read the response above for the server's reason".into()],
            nginx: Vec::new(),
        },
    }
}

/// What is wrong with a 101, from the crate's precise [`ClientError`](rfc6455::handshake::ClientError).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad101 {
    /// No `Upgrade: websocket` or no `Connection: upgrade`.
    MissingUpgradeHeaders,
    /// `Sec-WebSocket-Accept` missing, duplicated or wrong.
    Accept,
    /// Anything else (subprotocol, extensions, HTTP version).
    Other,
}

/// Diagnoses an invalid 101 (`reason` is the crate's explanation).
pub fn bad_101(kind: Bad101, reason: &str, server: Option<&str>) -> Diagnosis {
    let nginx = is_nginx(server);
    let via = server
        .map(|s| format!(" (Server: {s})"))
        .unwrap_or_default();
    match kind {
        Bad101::MissingUpgradeHeaders => Diagnosis {
            id: "bad_101_headers",
            fatal: true,
            problem: format!(
                "101 Switching Protocols, but {reason}: a proxy rewrote the response and \
                 dropped the hop-by-hop headers, or the server writes an incomplete 101{via}. \
                 Browsers refuse this answer."
            ),
            fix: vec![
                "make the proxy pass Upgrade and Connection in both directions".into(),
                "if the server writes the 101 itself, it must send Upgrade: websocket and \
                 Connection: Upgrade"
                    .into(),
            ],
            nginx: nginx_fix(),
        },
        Bad101::Accept => Diagnosis {
            id: "bad_accept",
            fatal: true,
            problem: format!(
                "101 Switching Protocols, but {reason}: the answer was not computed from this \
                 request's Sec-WebSocket-Key, so a proxy or cache rewrote or replayed the \
                 response, or the server computes the key wrongly (RFC 6455 §4.2.2: \
                 base64(SHA-1(key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11))){via}"
            ),
            fix: vec![
                "make sure nothing between caches or rewrites the handshake response".into(),
                "check the server's accept key computation".into(),
            ],
            nginx: if nginx { nginx_fix() } else { Vec::new() },
        },
        Bad101::Other => Diagnosis {
            id: "bad_101",
            fatal: true,
            problem: format!("the 101 answer is not a valid WebSocket handshake: {reason}{via}"),
            fix: vec!["fix the server's handshake response".into()],
            nginx: Vec::new(),
        },
    }
}

/// Suggested keepalive interval for a cut after `cut_s` seconds of silence: half of it, a
/// little under when the cut is long.
pub fn keepalive_for(cut_s: f64) -> f64 {
    let half = cut_s / 2.0;
    if half >= 10.0 {
        half.floor()
    } else {
        (half * 10.0).floor() / 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    const CX: Context<'static> = Context {
        secure: false,
        authority: "example.com:8080",
        path: "/ws",
    };

    #[test]
    fn statuses() {
        assert_eq!(rejection(404, &[], "", CX).id, "not_found");
        assert_eq!(rejection(200, &[], "<html>", CX).id, "plain_http");
        assert_eq!(rejection(403, &[], "", CX).id, "forbidden");
        assert_eq!(rejection(401, &[], "", CX).id, "auth_required");
        assert_eq!(rejection(502, &[], "", CX).id, "proxy_upstream");
        assert_eq!(rejection(503, &[], "", CX).id, "proxy_upstream");
        assert_eq!(rejection(504, &[], "", CX).id, "proxy_upstream");
        assert_eq!(rejection(500, &[], "", CX).id, "server_error");
        assert_eq!(rejection(418, &[], "", CX).id, "not_101");
        assert_eq!(rejection(400, &[], "bad origin\n", CX).id, "bad_request");
        let d = rejection(426, &[], "missing Upgrade: websocket header\n", CX);
        assert_eq!(d.id, "upgrade_not_passed");
        assert_eq!(d.nginx.len(), 4);
        let d = rejection(
            400,
            &[],
            "WebSocket handshake requires HTTP/1.1 or later\n",
            CX,
        );
        assert_eq!(d.id, "upgrade_not_passed");
        let d = rejection(426, &h(&[("Sec-WebSocket-Version", "8")]), "", CX);
        assert_eq!(d.id, "upgrade_required");
        assert!(d.problem.contains("Sec-WebSocket-Version: 8"));
        let d = rejection(200, &h(&[("Server", "nginx/1.22.1")]), "", CX);
        assert_eq!(d.nginx, nginx_fix());
    }

    #[test]
    fn redirects() {
        let d = rejection(301, &h(&[("Location", "https://example.com/ws")]), "", CX);
        assert_eq!(d.id, "redirect");
        assert!(d.problem.contains("https://example.com/ws"));
        assert!(d.problem.contains("wants TLS"));
        assert_eq!(d.fix[0], "connect to wss://example.com/ws directly");
        let d = rejection(308, &h(&[("location", "/ws/")]), "", CX);
        assert_eq!(d.fix[0], "connect to ws://example.com:8080/ws/ directly");
        assert_eq!(rejection(302, &[], "", CX).id, "redirect");
        assert_eq!(redirect_target("//h/p", true, "x"), "wss://h/p");
        assert_eq!(redirect_target("p", false, "x:1"), "ws://x:1/p");
    }

    #[test]
    fn body_reasons() {
        assert_eq!(
            body_reason("\n\n  hi there \nmore"),
            Some("hi there".into())
        );
        assert_eq!(
            body_reason("<html><head><title>404 Not Found</title></head>"),
            Some("404 Not Found".into())
        );
        assert_eq!(body_reason("   "), None);
        assert_eq!(
            body_reason("<title></title>"),
            Some("<title></title>".into())
        );
    }

    #[test]
    fn keepalive() {
        assert_eq!(keepalive_for(3.0), 1.5);
        assert_eq!(keepalive_for(60.0), 30.0);
        assert_eq!(keepalive_for(61.0), 30.0);
        assert_eq!(keepalive_for(3.05), 1.5);
    }
}
