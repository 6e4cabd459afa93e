//! `wsprobe doctor URL | server URL | client PORT`

const USAGE: &str = "usage: wsprobe doctor URL | wsprobe server URL [--json FILE] | wsprobe client PORT [--json FILE] | wsprobe list";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("server") => wsprobe::server::main(&args[1..]),
        Some("client") => wsprobe::client::main(&args[1..]),
        Some("list") => list(),
        Some("doctor") => wsprobe::doctor::main(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            2
        }
    };
    std::process::exit(code);
}

/// `wsprobe list`: the cases as a Markdown table.
fn list() -> i32 {
    println!("| id | RFC | case |\n|---|---|---|");
    for c in wsprobe::cases::all() {
        println!(
            "| {} | {} | {} |",
            c.id,
            c.section,
            c.title.replace('|', "\\|")
        );
    }
    0
}
