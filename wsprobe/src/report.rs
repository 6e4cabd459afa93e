//! The report: a JSON file and a human summary per category.

use std::fmt::Write as _;

use crate::cases::{CaseResult, Category, Verdict};

/// The results of one run.
#[derive(Debug, Clone)]
pub struct Report {
    /// `server` or `client`.
    pub mode: &'static str,
    /// The URL tested, or the address listened on.
    pub target: String,
    /// The client's agent name (client mode).
    pub agent: Option<String>,
    /// Wall time of the run.
    pub millis: u64,
    /// One result per case, in case order.
    pub results: Vec<CaseResult>,
}

impl Report {
    /// How many results have `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.results.iter().filter(|r| r.verdict == verdict).count()
    }

    /// The results that are not OK (nor INFORMATIONAL).
    pub fn problems(&self) -> impl Iterator<Item = &CaseResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Failed | Verdict::NonStrict))
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "{{\n  \"tool\": \"wsprobe\",\n  \"mode\": {},\n  \"target\": {},\n  \"agent\": {},\n  \"millis\": {},\n  \"summary\": {{",
            q(self.mode),
            q(&self.target),
            self.agent
                .as_deref()
                .map(q)
                .unwrap_or_else(|| "null".into()),
            self.millis
        );
        for (i, v) in VERDICTS.iter().enumerate() {
            let _ = write!(
                s,
                "{}{}: {}",
                if i > 0 { ", " } else { "" },
                q(v.name()),
                self.count(*v)
            );
        }
        s.push_str("},\n  \"cases\": [\n");
        for (i, r) in self.results.iter().enumerate() {
            let _ = writeln!(
                s,
                "    {{\"id\": {}, \"category\": {}, \"section\": {}, \"title\": {}, \"verdict\": {}, \"observed\": {}, \"millis\": {}}}{}",
                q(&r.id),
                q(r.category.name()),
                q(r.section),
                q(&r.title),
                q(r.verdict.name()),
                q(&r.observed),
                r.millis,
                if i + 1 < self.results.len() { "," } else { "" }
            );
        }
        s.push_str("  ]\n}\n");
        s
    }

    /// The human summary: a line per category, then every case that is not OK.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "wsprobe {} {}{}: {} cases in {:.2} s",
            self.mode,
            self.target,
            self.agent
                .as_deref()
                .map(|a| format!(" (agent {a})"))
                .unwrap_or_default(),
            self.results.len(),
            self.millis as f64 / 1000.0
        );
        let _ = writeln!(
            s,
            "{:<15} {:>5} {:>5} {:>10} {:>7} {:>13}",
            "category", "cases", "OK", "NON-STRICT", "FAILED", "INFORMATIONAL"
        );
        for cat in Category::ALL {
            let rs: Vec<&CaseResult> = self.results.iter().filter(|r| r.category == cat).collect();
            if rs.is_empty() {
                continue;
            }
            let n = |v: Verdict| rs.iter().filter(|r| r.verdict == v).count();
            let _ = writeln!(
                s,
                "{:<15} {:>5} {:>5} {:>10} {:>7} {:>13}",
                cat.name(),
                rs.len(),
                n(Verdict::Ok),
                n(Verdict::NonStrict),
                n(Verdict::Failed),
                n(Verdict::Informational)
            );
        }
        let _ = writeln!(
            s,
            "{:<15} {:>5} {:>5} {:>10} {:>7} {:>13}",
            "total",
            self.results.len(),
            self.count(Verdict::Ok),
            self.count(Verdict::NonStrict),
            self.count(Verdict::Failed),
            self.count(Verdict::Informational)
        );
        for r in self.results.iter().filter(|r| r.verdict != Verdict::Ok) {
            let _ = writeln!(
                s,
                "{:<13} {:<16} {} [{}]\n              {}",
                r.verdict.name(),
                r.id,
                r.title,
                r.section,
                r.observed
            );
        }
        s
    }
}

const VERDICTS: [Verdict; 4] = [
    Verdict::Ok,
    Verdict::NonStrict,
    Verdict::Failed,
    Verdict::Informational,
];

/// A JSON string literal.
pub fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Sort results into case order (category, then number).
pub fn sort(results: &mut [CaseResult]) {
    results.sort_by_key(|r| {
        let n: u32 =
            r.id.rsplit('.')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        (r.category, n)
    });
}

/// Print the summary, write the JSON, and give the exit code: 1 if any case FAILED (or, with
/// `strict`, is anything but OK), else 0.
pub fn finish(report: &Report, json: Option<&str>, strict: bool) -> i32 {
    print!("{}", report.summary());
    if let Some(path) = json
        && let Err(e) = std::fs::write(path, report.to_json())
    {
        eprintln!("wsprobe: writing {path}: {e}");
        return 2;
    }
    let failed = report.count(Verdict::Failed);
    let not_ok = report.results.len() - report.count(Verdict::Ok);
    if failed > 0 || strict && not_ok > 0 {
        println!("wsprobe: {failed} FAILED, {not_ok} not OK");
        1
    } else {
        0
    }
}
