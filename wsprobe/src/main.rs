//! `wsprobe doctor URL | server URL | client PORT`
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("doctor") => std::process::exit(wsprobe::doctor::main(&args[1..])),
        _ => {
            eprintln!("usage: wsprobe doctor URL | wsprobe server URL | wsprobe client PORT");
            std::process::exit(2);
        }
    }
}
