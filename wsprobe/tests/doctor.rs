//! `wsprobe doctor` against small servers on 127.0.0.1, one per diagnosis: a good echo server,
//! canned HTTP answers (404, 200, redirect, 426, broken 101s), a server that closes right after
//! the 101 or after a second of silence, a refused port, and TLS with a self-signed
//! certificate (unknown issuer, name mismatch, `--ca`, `--insecure`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rfc6455::Event;
use rfc6455::blocking;
use wsprobe::doctor::{Options, Outcome, Report, run};

/// Serves `handler` on each of up to `n` connections, in threads.
fn serve<F>(n: usize, handler: F) -> u16
where
    F: Fn(TcpStream) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handler = Arc::new(handler);
    thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let Ok(stream) = stream else { return };
            let h = handler.clone();
            thread::spawn(move || h(stream));
        }
    });
    port
}

/// Echoes until the peer closes.
fn echo<S: Read + Write>(ws: &mut blocking::WebSocket<S>) {
    while let Ok(Some(ev)) = ws.read() {
        if let Event::Message(m) = ev
            && ws.send(m).is_err()
        {
            return;
        }
    }
}

fn echo_server() -> u16 {
    serve(8, |s| {
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        if let Ok(mut ws) = blocking::accept(s) {
            echo(&mut ws);
        }
    })
}

/// Reads the request head, then writes `answer` and closes.
fn canned(answer: &'static str) -> u16 {
    serve(1, move |mut s| {
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let mut head = Vec::new();
        let mut b = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut b) {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&b[..n]),
            }
        }
        let _ = s.write_all(answer.as_bytes());
        let _ = s.shutdown(std::net::Shutdown::Write);
        thread::sleep(Duration::from_millis(200));
    })
}

fn opts(url: String) -> Options {
    let mut o = Options::new(url);
    o.timeout = Duration::from_secs(3);
    o.echo_timeout = Duration::from_millis(500);
    o.pings = 2;
    o
}

fn ids(r: &Report) -> Vec<&'static str> {
    r.diagnoses.iter().map(|d| d.id).collect()
}

fn outcome(r: &Report, step: &str) -> Option<Outcome> {
    r.steps.iter().find(|s| s.name == step).map(|s| s.outcome)
}

#[test]
fn all_green_against_an_echo_server() {
    let port = echo_server();
    let r = run(&opts(format!("ws://127.0.0.1:{port}/ws")));
    print!("{}", r.human());
    assert!(r.ok(), "{:?}", ids(&r));
    assert_eq!(r.exit_code(), 0);
    assert_eq!(r.echo, Some(true));
    assert_eq!(r.ping.map(|p| p.count), Some(2));
    assert_eq!(outcome(&r, "close"), Some(Outcome::Ok));
    assert_eq!(r.status, Some(101));
    assert!(
        r.request
            .as_deref()
            .unwrap()
            .starts_with("GET /ws HTTP/1.1\r\n")
    );
    let json = r.json();
    assert!(json.contains(r#""ok":true"#) && json.contains(r#""echo":true"#));
}

#[test]
fn http_scheme_is_diagnosed_and_probed_as_ws() {
    let port = echo_server();
    let r = run(&opts(format!("http://127.0.0.1:{port}/ws")));
    print!("{}", r.human());
    assert_eq!(ids(&r), ["http_scheme"]);
    assert_eq!(
        r.probed_url.as_deref(),
        Some(&*format!("ws://127.0.0.1:{port}/ws"))
    );
    assert_eq!(r.echo, Some(true));
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn refused_port() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = run(&opts(format!("ws://127.0.0.1:{port}/ws")));
    print!("{}", r.human());
    assert_eq!(ids(&r), ["tcp_refused"]);
    assert_eq!(outcome(&r, "tcp"), Some(Outcome::Fail));
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn bad_port_and_missing_path() {
    let r = run(&opts("ws://127.0.0.1:70000/ws".into()));
    assert_eq!(ids(&r), ["bad_url"]);
    assert!(r.diagnoses[0].problem.contains("port"));
    let port = echo_server();
    let r = run(&opts(format!("ws://127.0.0.1:{port}")));
    assert_eq!(ids(&r), ["missing_path"]);
    assert!(r.ok(), "a missing path is advice, not a failure");
}

#[test]
fn not_found() {
    let port = canned(
        "HTTP/1.1 404 Not Found\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n\
         Content-Length: 56\r\n\r\n<html><head><title>404 Not Found</title></head></html>\r\n",
    );
    let r = run(&opts(format!("ws://127.0.0.1:{port}/nope")));
    print!("{}", r.human());
    assert_eq!(ids(&r), ["not_found"]);
    assert!(r.diagnoses[0].problem.contains("/nope"));
    assert_eq!(r.status, Some(404));
    assert_eq!(r.server.as_deref(), Some("nginx/1.22.1"));
}

#[test]
fn plain_web_server_200() {
    let port = canned(
        "HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11\r\nContent-Type: text/html\r\n\r\n\
         <!DOCTYPE HTML><html><title>Directory listing for /</title></html>\n",
    );
    let r = run(&opts(format!("ws://127.0.0.1:{port}/")));
    print!("{}", r.human());
    assert_eq!(ids(&r), ["plain_http"]);
    assert!(r.body.as_deref().unwrap().contains("Directory listing"));
    assert!(r.diagnoses[0].nginx.is_empty());
}

#[test]
fn redirect_to_https() {
    let port = canned(
        "HTTP/1.1 301 Moved Permanently\r\nLocation: https://example.com/ws\r\n\
         Transfer-Encoding: chunked\r\n\r\n5\r\nmoved\r\n0\r\n\r\n",
    );
    let r = run(&opts(format!("ws://127.0.0.1:{port}/ws")));
    print!("{}", r.human());
    assert_eq!(ids(&r), ["redirect"]);
    assert!(r.diagnoses[0].problem.contains("does not follow redirects"));
    assert_eq!(
        r.diagnoses[0].fix[0],
        "connect to wss://example.com/ws directly"
    );
    assert_eq!(r.body.as_deref(), Some("moved"));
}

#[test]
fn upgrade_dropped_by_a_proxy() {
    let port = canned(
        "HTTP/1.1 426 Upgrade Required\r\nServer: nginx\r\nContent-Length: 33\r\n\r\n\
         missing Upgrade: websocket header\n",
    );
    let r = run(&opts(format!("ws://127.0.0.1:{port}/ws")));
    print!("{}", r.human());
    assert_eq!(ids(&r), ["upgrade_not_passed"]);
    assert!(
        r.diagnoses[0]
            .nginx
            .contains(&"proxy_set_header Upgrade $http_upgrade;".to_string())
    );
    assert!(r.human().contains("missing Upgrade: websocket header"));
}

#[test]
fn forbidden_and_gateway() {
    let port = canned("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        ids(&run(&opts(format!("ws://127.0.0.1:{port}/")))),
        ["forbidden"]
    );
    let port = canned("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        ids(&run(&opts(format!("ws://127.0.0.1:{port}/")))),
        ["proxy_upstream"]
    );
}

#[test]
fn broken_101s() {
    let port = canned(
        "HTTP/1.1 101 Switching Protocols\r\nServer: nginx\r\nConnection: upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    );
    let r = run(&opts(format!("ws://127.0.0.1:{port}/")));
    print!("{}", r.human());
    assert_eq!(ids(&r), ["bad_101_headers"]);
    assert!(!r.diagnoses[0].nginx.is_empty());
    let port = canned(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    );
    let r = run(&opts(format!("ws://127.0.0.1:{port}/")));
    assert_eq!(ids(&r), ["bad_accept"]);
}

#[test]
fn not_http_and_no_answer() {
    let port = canned("SSH-2.0-OpenSSH_9.2\r\n\r\n");
    let r = run(&opts(format!("ws://127.0.0.1:{port}/")));
    assert_eq!(ids(&r), ["not_http"]);
    let port = serve(1, |s| {
        thread::sleep(Duration::from_secs(2));
        drop(s);
    });
    let mut o = opts(format!("ws://127.0.0.1:{port}/"));
    o.timeout = Duration::from_millis(500);
    let r = run(&o);
    assert_eq!(ids(&r), ["no_answer"]);
}

#[test]
fn odd_answers_are_diagnosed_without_panics() {
    let cases: &[(&str, &str)] = &[
        ("\u{16}\u{3}\u{1}\u{0}\u{2}\u{2}", "tls_expected"),
        ("HTTP/1.1 abc\r\n\r\n", "bad_response"),
        ("HTTP/1.1 101\r\n\r\n", "bad_101_headers"),
        ("HTTP/2 101 Switching Protocols\r\n\r\n", "bad_response"),
        (
            "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "bad_accept",
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nx",
            "plain_http",
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "plain_http",
        ),
        ("HTTP/1.1 302 Found\r\nLocation: \r\n\r\n", "redirect"),
        ("HTTP/1.1 999 What\r\n\r\n", "not_101"),
        ("HTTP/1.1 200 OK\r\n", "closed_before_answer"),
        ("", "closed_before_answer"),
    ];
    for &(answer, id) in cases {
        let port = canned(answer);
        let r = run(&opts(format!("ws://127.0.0.1:{port}/")));
        assert_eq!(ids(&r), [id], "answer {answer:?}:\n{}", r.human());
        assert_eq!(r.exit_code(), 1);
        let _ = r.json();
    }
}

#[test]
fn closed_right_after_101() {
    let port = serve(1, |s| {
        if let Ok(ws) = blocking::accept(s) {
            drop(ws);
        }
    });
    let r = run(&opts(format!("ws://127.0.0.1:{port}/")));
    print!("{}", r.human());
    assert_eq!(ids(&r), ["closed_after_101"]);
    assert_eq!(outcome(&r, "response"), Some(Outcome::Ok));
}

#[test]
fn not_an_echo_server_is_not_an_error() {
    let port = serve(1, |s| {
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        if let Ok(mut ws) = blocking::accept(s) {
            while let Ok(Some(_)) = ws.read() {}
        }
    });
    let r = run(&opts(format!("ws://127.0.0.1:{port}/")));
    print!("{}", r.human());
    assert!(r.ok(), "{:?}", ids(&r));
    assert_eq!(r.echo, Some(false));
    assert_eq!(outcome(&r, "echo"), Some(Outcome::Info));
}

#[test]
fn idle_cut_is_found() {
    // A "proxy" that drops the connection after one second without traffic.
    let port = serve(1, |s| {
        if let Ok(mut ws) = blocking::accept(s) {
            let _ = ws.get_ref().set_read_timeout(Some(Duration::from_secs(1)));
            loop {
                match ws.read() {
                    Ok(Some(Event::Message(m))) => {
                        let _ = ws.send(m);
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => return,
                    Err(_) => return, // the timeout: cut
                }
            }
        }
    });
    let mut o = opts(format!("ws://127.0.0.1:{port}/"));
    o.idle = Some(Duration::from_secs(4));
    let r = run(&o);
    print!("{}", r.human());
    assert_eq!(ids(&r), ["idle_cut"]);
    let idle = r.idle.unwrap();
    let cut = idle.cut_after_s.unwrap();
    assert!((0.8..2.5).contains(&cut), "cut after {cut}");
    assert!(idle.suggested_keepalive_s.unwrap() <= cut / 2.0);
    assert!(r.json().contains(r#""id":"idle_cut""#));
}

#[test]
fn idle_survived() {
    let port = echo_server();
    let mut o = opts(format!("ws://127.0.0.1:{port}/"));
    o.idle = Some(Duration::from_millis(700));
    let r = run(&o);
    assert!(r.ok(), "{:?}", ids(&r));
    assert_eq!(r.idle.unwrap().cut_after_s, None);
}

mod tls {
    use super::*;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    /// A wss:// echo server with a self-signed certificate for `localhost`; returns the port
    /// and the certificate's PEM.
    fn wss_server(n: usize) -> (u16, String) {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let pem = certified.cert.pem();
        let cert = CertificateDer::from(certified.cert.der().to_vec());
        let key =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
        (tls_server(cert, key, n), pem)
    }

    /// A wss:// echo server with this certificate, for `n` connections; returns the port.
    fn tls_server(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>, n: usize) -> u16 {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
        let config = Arc::new(config);
        serve(n, move |s| {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                return;
            };
            let tls = rustls::StreamOwned::new(conn, s);
            if let Ok(mut ws) = blocking::accept(tls) {
                echo(&mut ws);
            }
        })
    }

    #[test]
    fn expired_certificate() {
        let key_pair = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        let cert = params.self_signed(&key_pair).unwrap();
        let port = tls_server(
            CertificateDer::from(cert.der().to_vec()),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der())),
            1,
        );
        let path = std::env::temp_dir().join(format!("wsprobe-doctor-expired-{port}.pem"));
        std::fs::write(&path, cert.pem()).unwrap();
        let mut o = opts(format!("wss://localhost:{port}/"));
        o.tls.ca = Some(path.to_string_lossy().into_owned());
        let r = run(&o);
        print!("{}", r.human());
        assert_eq!(ids(&r), ["tls_expired"]);
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn self_signed_is_unknown_issuer() {
        let (port, _) = wss_server(1);
        let r = run(&opts(format!("wss://localhost:{port}/")));
        print!("{}", r.human());
        assert_eq!(ids(&r), ["tls_unknown_issuer"]);
        assert_eq!(outcome(&r, "tls"), Some(Outcome::Fail));
    }

    #[test]
    fn ca_file_makes_it_green_and_names_are_checked() {
        let (port, pem) = wss_server(2);
        let path = std::env::temp_dir().join(format!("wsprobe-doctor-ca-{port}.pem"));
        std::fs::write(&path, pem).unwrap();
        let mut o = opts(format!("wss://localhost:{port}/"));
        o.tls.ca = Some(path.to_string_lossy().into_owned());
        let r = run(&o);
        print!("{}", r.human());
        assert!(r.ok(), "{:?}", ids(&r));
        assert_eq!(r.echo, Some(true));
        o.url = format!("wss://127.0.0.1:{port}/");
        let r = run(&o);
        print!("{}", r.human());
        assert_eq!(ids(&r), ["tls_name_mismatch"]);
        assert!(r.diagnoses[0].problem.contains("localhost"));
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn insecure_goes_on_and_still_reports() {
        let (port, _) = wss_server(1);
        let mut o = opts(format!("wss://localhost:{port}/"));
        o.tls.insecure = true;
        let r = run(&o);
        print!("{}", r.human());
        assert_eq!(ids(&r), ["tls_unknown_issuer"]);
        assert_eq!(outcome(&r, "tls"), Some(Outcome::Warn));
        assert_eq!(r.echo, Some(true));
    }

    #[test]
    fn wss_to_a_plain_server() {
        let port = echo_server();
        let r = run(&opts(format!("wss://localhost:{port}/")));
        print!("{}", r.human());
        assert_eq!(outcome(&r, "tls"), Some(Outcome::Fail));
        let id = ids(&r)[0];
        assert!(["tls_not_tls", "tls_closed"].contains(&id), "{id}");
    }
}
