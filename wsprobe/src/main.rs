//! `wsprobe doctor URL | server URL | client PORT`
fn main() {
    eprintln!("usage: wsprobe doctor URL | wsprobe server URL | wsprobe client PORT");
    std::process::exit(2);
}
