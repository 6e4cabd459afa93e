//! End-to-end echo load: C connections, each doing request/response round trips (one message,
//! wait for its echo, check it byte for byte, repeat) for a fixed time; prints messages/s.
//!
//! ```text
//! echo_load --url ws://127.0.0.1:9012/ --conns 64 --size 16 [--text] [--warmup 0.5] [--secs 3]
//!           [--server-pid PID] [--threads 1]
//! ```
//!
//! The same client for every server: frames are built once per connection (masked with a
//! fixed non-zero key, so the server unmasks for real), each echo is parsed and compared with
//! what was sent. Counting starts after the warm-up; `--server-pid` adds the server's CPU time
//! per message over the measured window (from `/proc`, 10 ms ticks): in all, and the part of
//! it spent in user space (the WebSocket library and the runtime; the rest is the kernel's).
//! The client's own CPU use is printed too, to show whether it could be the bottleneck. One
//! tokio runtime thread by default (`--threads N` for a multi-threaded runtime). Bounded: the
//! run ends after warm-up + secs, and a connection still stuck 5 s later is abandoned with an
//! error.
//!
//! Output: one line `RESULT key=value ...` (scripts parse it), errors on stderr, exit 1 on any
//! connection error or mismatched echo.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rfc6455_peers::{Args, BINARY, TEXT, client_frame, connect, cpu_times, mask_key, payload};
use tokio::io::AsyncWriteExt;

/// One counter per connection, on its own cache line.
#[repr(align(64))]
#[derive(Default)]
struct Counter(AtomicU64);

fn main() -> ExitCode {
    let args = Args::from_env();
    let threads: usize = args.get("--threads", 1);
    let rt = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    rt.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let url: String = args.get("--url", "ws://127.0.0.1:9002/".to_string());
    let conns: usize = args.get("--conns", 1);
    let size: usize = args.get("--size", 16);
    let text = args.flag("--text");
    let warmup = Duration::from_secs_f64(args.get("--warmup", 0.5));
    let secs = Duration::from_secs_f64(args.get("--secs", 3.0));
    let server_pid: u32 = args.get("--server-pid", 0);
    let opcode = if text { TEXT } else { BINARY };

    // Connect everything first, so that the measured window has all C connections busy.
    let mut sockets = Vec::with_capacity(conns);
    for i in 0..conns {
        match connect(&url, size + 64 * 1024).await {
            Ok(s) => sockets.push(s),
            Err(e) => {
                eprintln!("connection {i}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let counters: Arc<Vec<Counter>> = Arc::new((0..conns).map(|_| Counter::default()).collect());
    let mut tasks = Vec::with_capacity(conns);
    for (i, (mut stream, mut reader)) in sockets.into_iter().enumerate() {
        let stop = stop.clone();
        let counters = counters.clone();
        let message = payload(size, i);
        let frame = client_frame(opcode, &message, mask_key(i));
        tasks.push(tokio::spawn(async move {
            let counter = &counters[i].0;
            while !stop.load(Ordering::Relaxed) {
                stream.write_all(&frame).await?;
                reader.expect_message(&mut stream, opcode, &message).await?;
                counter.fetch_add(1, Ordering::Relaxed);
            }
            reader.close(&mut stream, Duration::from_secs(2)).await
        }));
    }

    let count = || -> u64 { counters.iter().map(|c| c.0.load(Ordering::Relaxed)).sum() };
    let server_cpu = || cpu_times(server_pid).ok().filter(|_| server_pid != 0);
    let own_pid = std::process::id();

    tokio::time::sleep(warmup).await;
    let (n0, t0) = (count(), Instant::now());
    let (s0, c0) = (server_cpu(), cpu_times(own_pid).ok());
    tokio::time::sleep(secs).await;
    let (n1, t1) = (count(), Instant::now());
    let (s1, c1) = (server_cpu(), cpu_times(own_pid).ok());
    stop.store(true, Ordering::Relaxed);

    let mut failed = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    for (i, task) in tasks.into_iter().enumerate() {
        match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                eprintln!("connection {i}: {e}");
                failed += 1;
            }
            Ok(Err(e)) => {
                eprintln!("connection {i}: task failed: {e}");
                failed += 1;
            }
            Err(_) => {
                eprintln!("connection {i}: still busy 5 s after the end, abandoned");
                failed += 1;
            }
        }
    }

    let msgs = n1 - n0;
    let elapsed = (t1 - t0).as_secs_f64();
    let rate = msgs as f64 / elapsed;
    let per_message = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1e6 / msgs as f64);
    let (server, server_user) = match (s0, s1) {
        (Some(a), Some(b)) if msgs > 0 => (
            per_message(b.total() - a.total()),
            per_message(b.user - a.user),
        ),
        _ => ("-".into(), "-".into()),
    };
    let client = match (c0, c1) {
        (Some(a), Some(b)) => format!(
            "{:.0}",
            (b.total() - a.total()).as_secs_f64() * 100.0 / elapsed
        ),
        _ => "-".into(),
    };
    println!(
        "RESULT conns={conns} size={size} kind={} msgs={msgs} secs={elapsed:.3} msgs_per_s={rate:.0} server_cpu_us_per_msg={server} server_user_us_per_msg={server_user} client_cpu_pct={client} errors={failed}",
        if text { "text" } else { "binary" },
    );
    if failed > 0 || msgs == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
