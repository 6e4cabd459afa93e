//! What doctor found: steps with timings, diagnoses with fixes, and the two renderings
//! (human-readable with ✓/✗, and JSON).

use std::fmt::Write as _;

/// The outcome of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Worked.
    Ok,
    /// Worked, but something deserves a look (does not make the run fail).
    Warn,
    /// Informational (e.g. "not an echo server"): not an error.
    Info,
    /// Not run (e.g. TLS for `ws://`, or an earlier step failed).
    Skip,
    /// Failed: the run exits non-zero.
    Fail,
}

impl Outcome {
    /// The mark printed before the step: ✓, !, ·, -, ✗.
    pub fn mark(self) -> &'static str {
        match self {
            Outcome::Ok => "✓",
            Outcome::Warn => "!",
            Outcome::Info => "·",
            Outcome::Skip => "-",
            Outcome::Fail => "✗",
        }
    }

    /// The name used in JSON: `ok`, `warn`, `info`, `skip`, `fail`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Warn => "warn",
            Outcome::Info => "info",
            Outcome::Skip => "skip",
            Outcome::Fail => "fail",
        }
    }
}

/// One step of the connection: `url`, `dns`, `tcp`, `tls`, `request`, `response`, `open`,
/// `echo`, `ping`, `idle`, `close`.
#[derive(Debug, Clone)]
pub struct Step {
    /// The step's name.
    pub name: &'static str,
    /// How it went.
    pub outcome: Outcome,
    /// How long it took, in milliseconds, when timed.
    pub ms: Option<f64>,
    /// One line saying what happened.
    pub summary: String,
    /// Further lines (addresses, the request, the response head, …).
    pub details: Vec<String>,
}

/// A problem found, with what to do about it.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    /// A stable identifier for scripts, e.g. `upgrade_not_passed`, `idle_cut`, `not_found`.
    pub id: &'static str,
    /// Whether it makes the run fail (`false` for advice such as a missing path).
    pub fatal: bool,
    /// What is wrong, in a sentence or two.
    pub problem: String,
    /// What to do, one item per line.
    pub fix: Vec<String>,
    /// nginx configuration lines that fix it (empty when not relevant).
    pub nginx: Vec<String>,
}

/// The ping round trips.
#[derive(Debug, Clone, Copy)]
pub struct PingStats {
    /// Pings answered.
    pub count: usize,
    /// Fastest round trip, ms.
    pub min_ms: f64,
    /// Mean round trip, ms.
    pub avg_ms: f64,
    /// Slowest round trip, ms.
    pub max_ms: f64,
}

/// The idle test's result.
#[derive(Debug, Clone, Copy)]
pub struct IdleResult {
    /// How long doctor meant to stay quiet, seconds.
    pub requested_s: f64,
    /// After how many seconds of silence the connection was cut, if it was.
    pub cut_after_s: Option<f64>,
    /// The keepalive (ping) interval that beats the cut, seconds.
    pub suggested_keepalive_s: Option<f64>,
}

/// The whole report of one `wsprobe doctor` run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The URL as given.
    pub url: String,
    /// The URL actually probed (e.g. `ws://` for a given `http://`).
    pub probed_url: Option<String>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The problems found.
    pub diagnoses: Vec<Diagnosis>,
    /// The upgrade request sent.
    pub request: Option<String>,
    /// The response's status code.
    pub status: Option<u16>,
    /// The response's status line.
    pub status_line: Option<String>,
    /// The response's headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body of a non-101 answer (truncated), as text.
    pub body: Option<String>,
    /// The `Server` header, if any.
    pub server: Option<String>,
    /// Whether the text sent came back.
    pub echo: Option<bool>,
    /// Ping round trips.
    pub ping: Option<PingStats>,
    /// The idle test.
    pub idle: Option<IdleResult>,
}

impl Report {
    /// Adds a step.
    pub fn step(
        &mut self,
        name: &'static str,
        outcome: Outcome,
        ms: Option<f64>,
        summary: impl Into<String>,
    ) -> &mut Step {
        self.steps.push(Step {
            name,
            outcome,
            ms,
            summary: summary.into(),
            details: Vec::new(),
        });
        // Just pushed.
        let last = self.steps.len() - 1;
        &mut self.steps[last]
    }

    /// Adds a diagnosis.
    pub fn diagnose(&mut self, d: Diagnosis) {
        self.diagnoses.push(d);
    }

    /// Everything green: no failed step and no fatal diagnosis.
    pub fn ok(&self) -> bool {
        !self.steps.iter().any(|s| s.outcome == Outcome::Fail)
            && !self.diagnoses.iter().any(|d| d.fatal)
    }

    /// The process exit code: 0 when everything is green, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.ok() { 0 } else { 1 }
    }

    /// The human-readable rendering.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "wsprobe doctor {}", self.url);
        for s in &self.steps {
            let time = match s.ms {
                Some(ms) => format!(" ({})", fmt_ms(ms)),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "{} {:<9}{}{}",
                s.outcome.mark(),
                s.name,
                s.summary,
                time
            );
            for d in &s.details {
                let _ = writeln!(out, "      {d}");
            }
        }
        for d in &self.diagnoses {
            let mark = if d.fatal { "✗" } else { "!" };
            let _ = writeln!(out);
            let _ = writeln!(out, "{mark} problem ({}): {}", d.id, d.problem);
            for f in &d.fix {
                let _ = writeln!(out, "  fix: {f}");
            }
            if !d.nginx.is_empty() {
                let _ = writeln!(
                    out,
                    "  nginx: in the location block that proxies to the WebSocket server:"
                );
                for l in &d.nginx {
                    let _ = writeln!(out, "      {l}");
                }
            }
        }
        let _ = writeln!(out);
        if self.ok() {
            let _ = writeln!(
                out,
                "✓ all green: {} works",
                self.probed_url.as_deref().unwrap_or(&self.url)
            );
        } else {
            let n = self.diagnoses.iter().filter(|d| d.fatal).count().max(1);
            let _ = writeln!(out, "✗ {n} problem{} found", if n == 1 { "" } else { "s" });
        }
        out
    }

    /// The JSON rendering (one object; see the README for its fields).
    pub fn json(&self) -> String {
        let mut o = String::from("{");
        field(&mut o, "url", &json_str(&self.url));
        field(&mut o, "probed_url", &opt_str(self.probed_url.as_deref()));
        field(&mut o, "ok", if self.ok() { "true" } else { "false" });
        let steps: Vec<String> = self
            .steps
            .iter()
            .map(|s| {
                let mut o = String::from("{");
                field(&mut o, "name", &json_str(s.name));
                field(&mut o, "outcome", &json_str(s.outcome.name()));
                field(&mut o, "ms", &s.ms.map_or("null".into(), num));
                field(&mut o, "summary", &json_str(&s.summary));
                field(&mut o, "details", &json_list(&s.details));
                close(o)
            })
            .collect();
        field(&mut o, "steps", &format!("[{}]", steps.join(",")));
        let diags: Vec<String> = self
            .diagnoses
            .iter()
            .map(|d| {
                let mut o = String::from("{");
                field(&mut o, "id", &json_str(d.id));
                field(&mut o, "fatal", if d.fatal { "true" } else { "false" });
                field(&mut o, "problem", &json_str(&d.problem));
                field(&mut o, "fix", &json_list(&d.fix));
                field(&mut o, "nginx", &json_list(&d.nginx));
                close(o)
            })
            .collect();
        field(&mut o, "diagnoses", &format!("[{}]", diags.join(",")));
        field(&mut o, "request", &opt_str(self.request.as_deref()));
        let mut r = String::from("{");
        field(
            &mut r,
            "status",
            &self.status.map_or("null".into(), |s| s.to_string()),
        );
        field(&mut r, "status_line", &opt_str(self.status_line.as_deref()));
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(n, v)| format!("[{},{}]", json_str(n), json_str(v)))
            .collect();
        field(&mut r, "headers", &format!("[{}]", headers.join(",")));
        field(&mut r, "body", &opt_str(self.body.as_deref()));
        field(&mut r, "server", &opt_str(self.server.as_deref()));
        field(&mut o, "response", &close(r));
        field(
            &mut o,
            "echo",
            match self.echo {
                None => "null",
                Some(true) => "true",
                Some(false) => "false",
            },
        );
        let ping = match self.ping {
            None => "null".into(),
            Some(p) => {
                let mut o = String::from("{");
                field(&mut o, "count", &p.count.to_string());
                field(&mut o, "min_ms", &num(p.min_ms));
                field(&mut o, "avg_ms", &num(p.avg_ms));
                field(&mut o, "max_ms", &num(p.max_ms));
                close(o)
            }
        };
        field(&mut o, "ping", &ping);
        let idle = match self.idle {
            None => "null".into(),
            Some(i) => {
                let mut o = String::from("{");
                field(&mut o, "requested_s", &num(i.requested_s));
                field(
                    &mut o,
                    "cut_after_s",
                    &i.cut_after_s.map_or("null".into(), num),
                );
                field(
                    &mut o,
                    "suggested_keepalive_s",
                    &i.suggested_keepalive_s.map_or("null".into(), num),
                );
                close(o)
            }
        };
        field(&mut o, "idle", &idle);
        close(o)
    }
}

/// `1.23 ms`, `12.3 ms`, `1.50 s`.
pub fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

fn field(o: &mut String, name: &str, value: &str) {
    if !o.ends_with('{') {
        o.push(',');
    }
    o.push_str(&json_str(name));
    o.push(':');
    o.push_str(value);
}

fn close(mut o: String) -> String {
    o.push('}');
    o
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{:.3}", x)
    } else {
        "null".into()
    }
}

fn opt_str(s: Option<&str>) -> String {
    s.map_or("null".into(), json_str)
}

fn json_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| json_str(s)).collect();
    format!("[{}]", items.join(","))
}

/// A JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_and_exit_code() {
        assert_eq!(json_str("a\"b\\\n\u{1}"), r#""a\"b\\\n\u0001""#);
        let mut r = Report {
            url: "ws://x/".into(),
            ..Report::default()
        };
        r.step("url", Outcome::Ok, None, "fine");
        assert_eq!(r.exit_code(), 0);
        assert!(r.json().contains(r#""ok":true"#));
        r.step("tcp", Outcome::Fail, Some(1.0), "refused");
        assert_eq!(r.exit_code(), 1);
        assert!(r.json().contains(r#""outcome":"fail""#));
        assert!(r.human().contains("✗ tcp"));
    }
}
