//! The transport: a TCP stream, or rustls over it for `wss://`, and what TLS failures mean.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme,
};

/// A plain or TLS connection to the server.
#[derive(Debug)]
pub enum Stream {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`.
    Tls(Box<rustls::StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    /// The TCP socket underneath (for timeouts).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// How to check the server's certificate.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Accept any certificate (still reporting what was wrong with it).
    pub insecure: bool,
    /// Extra trusted roots (PEM file), besides Mozilla's (webpki-roots).
    pub ca: Option<String>,
}

/// A certificate failure that `--insecure` let through.
type Seen = Arc<Mutex<Option<rustls::Error>>>;

/// Checks like the real verifier, records its verdict, and accepts anyway.
#[derive(Debug)]
struct Insecure {
    inner: Arc<WebPkiServerVerifier>,
    seen: Seen,
}

impl ServerCertVerifier for Insecure {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Err(e) = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) && let Ok(mut seen) = self.seen.lock()
        {
            *seen = Some(e);
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// What the TLS step found.
#[derive(Debug)]
pub struct TlsDone {
    /// The stream, ready for the upgrade request.
    pub stream: Stream,
    /// `TLSv1_3` and the cipher suite.
    pub summary: String,
    /// With `--insecure`: what the certificate check would have said.
    pub unverified: Option<rustls::Error>,
}

/// Why the TLS step failed, explained.
#[derive(Debug)]
pub struct TlsFailure {
    /// A stable diagnosis id.
    pub id: &'static str,
    /// What went wrong.
    pub problem: String,
    /// What to do.
    pub fix: Vec<String>,
}

/// Builds the client configuration.
fn config(opts: &TlsOptions, seen: &Seen) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &opts.ca {
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| format!("--ca {path}: {e}"))?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| format!("--ca {path}: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("--ca {path}: not a usable CA certificate: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("--ca {path}: no PEM certificate in the file"));
        }
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = if opts.insecure {
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| e.to_string())?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Insecure {
                inner,
                seen: seen.clone(),
            }))
            .with_no_client_auth()
    } else {
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(config)
}

/// Runs the TLS handshake over `tcp` for `host` (the read timeout must already be set).
pub fn handshake(tcp: TcpStream, host: &str, opts: &TlsOptions) -> Result<TlsDone, TlsFailure> {
    let seen: Seen = Arc::new(Mutex::new(None));
    let config = config(opts, &seen).map_err(|e| TlsFailure {
        id: "tls_config",
        problem: e,
        fix: vec!["give --ca a PEM file with the CA certificate(s)".into()],
    })?;
    let name = ServerName::try_from(host.to_string()).map_err(|_| TlsFailure {
        id: "tls_config",
        problem: format!("{host} is not a name a certificate can be checked against"),
        fix: vec!["use the host name the certificate was issued for".into()],
    })?;
    let mut conn = ClientConnection::new(Arc::new(config), name).map_err(|e| TlsFailure {
        id: "tls_config",
        problem: e.to_string(),
        fix: Vec::new(),
    })?;
    let mut tcp = tcp;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut tcp) {
            return Err(explain_io(host, &e));
        }
    }
    let version = conn
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_default();
    let suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default();
    let unverified = seen.lock().ok().and_then(|mut s| s.take());
    Ok(TlsDone {
        stream: Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))),
        summary: format!("{version}, {suite}"),
        unverified,
    })
}

fn explain_io(host: &str, e: &io::Error) -> TlsFailure {
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return explain(host, tls);
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => TlsFailure {
            id: "tls_closed",
            problem: format!(
                "the server closed the connection during the TLS handshake ({e}): it does not \
                 speak TLS on this port, or it has no certificate for the name {host} (SNI)"
            ),
            fix: vec![
                "if the server is plain ws://, use ws:// instead of wss://".into(),
                "check the port: TLS is usually on 443, plain WebSocket servers on 80 or 8080"
                    .into(),
            ],
        },
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => TlsFailure {
            id: "tls_timeout",
            problem: "no answer to the TLS ClientHello: the port accepts TCP but does not speak \
                      TLS (a plain server waits for a request), or the server is stuck"
                .into(),
            fix: vec!["if the server is plain ws://, use ws:// instead of wss://".into()],
        },
        _ => TlsFailure {
            id: "tls_failed",
            problem: format!("the TLS handshake failed: {e}"),
            fix: Vec::new(),
        },
    }
}

/// Explains a rustls error: certificate problems, alerts, a plain-text server.
pub fn explain(host: &str, e: &rustls::Error) -> TlsFailure {
    let insecure = "to look further anyway (testing only): --insecure".to_string();
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => TlsFailure {
                id: "tls_unknown_issuer",
                problem: "the certificate is not signed by an authority this client trusts: it \
                          is self-signed, from a private CA, or the server does not send its \
                          intermediate certificate(s)"
                    .into(),
                fix: vec![
                    "use a certificate from a public CA (e.g. Let's Encrypt) for public clients: \
                     browsers will refuse this one too"
                        .into(),
                    "send the full chain (nginx: ssl_certificate fullchain.pem, not cert.pem)"
                        .into(),
                    "for a private CA: wsprobe doctor --ca ca.pem URL (and install the CA in \
                     each client's trust store)"
                        .into(),
                    insecure,
                ],
            },
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => TlsFailure {
                id: "tls_expired",
                problem: match c {
                    CertificateError::ExpiredContext { time, not_after } => format!(
                        "the certificate expired on {} ({} days ago)",
                        date(not_after.as_secs()),
                        time.as_secs().saturating_sub(not_after.as_secs()) / 86_400
                    ),
                    _ => "the certificate has expired".into(),
                },
                fix: vec![
                    "renew the certificate (certbot renew) and reload the server".into(),
                    "check that renewal runs automatically".into(),
                    insecure,
                ],
            },
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsFailure {
                    id: "tls_not_yet_valid",
                    problem: match c {
                        CertificateError::NotValidYetContext { not_before, .. } => format!(
                            "the certificate is not valid before {}",
                            date(not_before.as_secs())
                        ),
                        _ => "the certificate is not valid yet".into(),
                    },
                    fix: vec![
                        "check this machine's clock and the server's".into(),
                        insecure,
                    ],
                }
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                let presented = match c {
                    CertificateError::NotValidForNameContext { presented, .. } => {
                        let names: Vec<String> = presented.iter().map(|p| clean_name(p)).collect();
                        format!(" (it is for: {})", names.join(", "))
                    }
                    _ => String::new(),
                };
                TlsFailure {
                    id: "tls_name_mismatch",
                    problem: format!("the certificate is not valid for the name {host}{presented}"),
                    fix: vec![
                        "connect with a name the certificate lists".into(),
                        "or get a certificate that includes this name (subjectAltName)".into(),
                        "behind a shared IP, check that the server picks the certificate by SNI"
                            .into(),
                        insecure,
                    ],
                }
            }
            other => TlsFailure {
                id: "tls_bad_certificate",
                problem: format!("the certificate was refused: {other:?}"),
                fix: vec![
                    "replace the certificate with a valid one from a trusted CA".into(),
                    insecure,
                ],
            },
        },
        rustls::Error::AlertReceived(alert) => TlsFailure {
            id: "tls_alert",
            problem: format!(
                "the server refused the TLS handshake with the alert {alert:?}: no protocol \
                 version or cipher in common, or no certificate for the name {host} (SNI)"
            ),
            fix: vec![
                "check the server's TLS configuration (TLS 1.2 or 1.3, a certificate for this \
                 name)"
                    .into(),
            ],
        },
        rustls::Error::InvalidMessage(_)
        | rustls::Error::InappropriateMessage { .. }
        | rustls::Error::InappropriateHandshakeMessage { .. } => TlsFailure {
            id: "tls_not_tls",
            problem: format!(
                "the server did not answer with TLS ({e}): this port speaks plain text (HTTP \
                 or ws://)"
            ),
            fix: vec![
                "use ws:// for this port, or the server's TLS port (usually 443) for wss://".into(),
            ],
        },
        other => TlsFailure {
            id: "tls_failed",
            problem: format!("the TLS handshake failed: {other}"),
            fix: Vec::new(),
        },
    }
}

/// `DnsName("localhost")` → `localhost` (rustls lists the certificate's names in debug form).
fn clean_name(p: &str) -> String {
    for prefix in ["DnsName(\"", "IpAddress(", "Ip("] {
        if let Some(rest) = p.strip_prefix(prefix) {
            return rest.trim_end_matches(')').trim_end_matches('"').to_string();
        }
    }
    p.to_string()
}

/// Seconds since the Unix epoch as `YYYY-MM-DD` (UTC; days-from-civil inverted).
fn date(secs: u64) -> String {
    let days = (secs / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_names() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_577_836_800), "2020-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(clean_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(clean_name("other"), "other");
    }
}
