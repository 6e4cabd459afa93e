//! The cases library against an in-process echo server on rfc6455's blocking adapter, in
//! both roles: every case must be OK.

use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

use rfc6455::blocking::{self, Accept, ClientOptions};
use rfc6455::extension::deflate::DeflateConfig;
use rfc6455::{Config, Event, Message};
use wsprobe::cases::Verdict;

/// Echo every message until the connection ends (the examples' echo server, minus logging).
fn echo(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let accept = Accept::new().deflate(DeflateConfig::default());
    let Ok(mut ws) = blocking::accept_with(&stream, Config::default(), |_| Ok(accept)) else {
        return;
    };
    loop {
        match ws.read() {
            Ok(Some(Event::Message(m))) => {
                if ws.send(m).is_err() {
                    break;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) if e.is_timeout() => {}
            Err(_) => break,
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

fn assert_all_ok(report: &wsprobe::report::Report) {
    let bad: Vec<_> = report
        .results
        .iter()
        .filter(|r| r.verdict != Verdict::Ok)
        .collect();
    assert!(bad.is_empty(), "{}", report.summary());
    assert_eq!(report.results.len(), wsprobe::cases::all().len());
}

#[test]
fn every_case_ok_against_the_blocking_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || echo(stream));
        }
    });
    let report = wsprobe::server::run(&format!("ws://{addr}/"), &Default::default()).unwrap();
    assert_all_ok(&report);
}

/// Autobahn's client driver protocol, on the blocking client: what examples/autobahn_client
/// does.
fn drive(base: &str) {
    let open = |url: &str| {
        let parsed = rfc6455::handshake::Url::parse(url).unwrap();
        let stream = TcpStream::connect((parsed.host(), parsed.port())).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut deflate = DeflateConfig::default();
        deflate.client_no_context_takeover = true;
        let options = ClientOptions::new()
            .config(Config::default())
            .deflate(deflate);
        blocking::connect_with(stream, url, &options).map(|(ws, _)| ws)
    };
    let mut ws = open(&format!("{base}/getCaseCount")).unwrap();
    let mut count = 0;
    while let Ok(Some(ev)) = ws.read() {
        if let Event::Message(Message::Text(t)) = ev {
            count = t.as_str().parse().unwrap_or(0);
        }
    }
    for case in 1..=count {
        let Ok(mut ws) = open(&format!("{base}/runCase?case={case}&agent=test")) else {
            continue;
        };
        loop {
            match ws.read() {
                Ok(Some(Event::Message(m))) => {
                    if ws.send(m).is_err() {
                        break;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) if e.is_timeout() => {}
                Err(_) => break,
            }
        }
    }
    if let Ok(mut ws) = open(&format!("{base}/updateReports?agent=test")) {
        while let Ok(Some(_)) = ws.read() {}
    }
}

#[test]
fn every_case_ok_against_the_blocking_client() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let options = wsprobe::client::Options {
        idle: Duration::from_secs(10),
        ..Default::default()
    };
    // The list first (it takes a while in a debug build), then the client.
    let list = wsprobe::client::list(&options);
    let driver = std::thread::spawn(move || drive(&format!("ws://{addr}")));
    let report = wsprobe::client::serve_list(&listener, list, &options).unwrap();
    driver.join().unwrap();
    assert_eq!(report.agent.as_deref(), Some("test"));
    assert_all_ok(&report);
}
