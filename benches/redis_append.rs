//! Log append on a real local Redis: what does one durable, fenced, deduplicated append cost,
//! one at a time and group-committed (pipelined) — the throughput lever DESIGN §4 names?
//!
//! The bench starts its own `redis-server` on a free port (never the machine's 6379) with
//! `appendonly yes` and `appendfsync everysec`, and loads `fixtures/append.lua`, the append
//! script shape DESIGN §4 describes (fencing epoch check, seq assignment, client_msg_id dedup,
//! XADD). The Redis engine itself is issue 3; this measures the primitive it will be built on.
//! It fails loudly if `redis-server` is not installed.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

struct RedisServer {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl RedisServer {
    fn start() -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let dir = std::env::temp_dir().join(format!("sb-redis-bench-{port}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "everysec"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is required for this benchmark (apt-get install redis-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}/")) {
                if let Ok(mut c) = client.get_connection() {
                    if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                        break;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not start within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisServer { child, port, dir }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const EVENT: &str = r#"{"kind":"message","text":"Hello, I would like to know where my order is.","client_msg_id":"m"}"#;

fn append(c: &mut Criterion) {
    let server = RedisServer::start();
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{}/", server.port)).expect("client");
    let mut con = client.get_connection().expect("connection");
    let script = redis::Script::new(include_str!("fixtures/append.lua"));
    let keys = |conv: u64| {
        let tag = format!("{{bench:c{conv}}}");
        [
            format!("{tag}:lease"),
            format!("{tag}:log"),
            format!("{tag}:dedup"),
            format!("{tag}:seq"),
        ]
    };
    let _: () = redis::cmd("SET")
        .arg(&keys(0)[0])
        .arg("node-a:1")
        .query(&mut con)
        .expect("lease");

    // One append: conversation `conv`, writer epoch, dedup key ('' for none).
    let append = |con: &mut redis::Connection,
                  conv: u64,
                  epoch: u64,
                  dedup: &str|
     -> redis::RedisResult<(u64, u8)> {
        let k = keys(conv);
        script
            .key(&k[0])
            .key(&k[1])
            .key(&k[2])
            .key(&k[3])
            .arg(epoch)
            .arg(dedup)
            .arg(EVENT)
            .invoke(con)
    };

    let mut n = 0u64;
    c.bench_function("redis/append_one", |b| {
        b.iter(|| {
            n += 1;
            let (seq, dup) = append(&mut con, n % 100, 1, &format!("c:v:m{n}")).expect("append");
            assert!(seq > 0 && dup == 0);
        })
    });

    // Group commit: one pipeline of 64 appends to 64 conversations per round trip.
    let mut group = c.benchmark_group("redis");
    group.throughput(Throughput::Elements(64));
    let hash = script.get_hash().to_string();
    group.bench_function("append_pipelined_64", |b| {
        b.iter(|| {
            let mut pipe = redis::pipe();
            for i in 0..64u64 {
                n += 1;
                let k = keys(i);
                pipe.cmd("EVALSHA")
                    .arg(&hash)
                    .arg(4)
                    .arg(&k[0])
                    .arg(&k[1])
                    .arg(&k[2])
                    .arg(&k[3])
                    .arg(1)
                    .arg(format!("c:v:m{n}"))
                    .arg(EVENT);
            }
            let out: Vec<(u64, u8)> = pipe.query(&mut con).expect("pipeline");
            assert_eq!(out.len(), 64);
        })
    });
    group.finish();

    // A duplicate returns the original seq; a stale epoch is fenced.
    let first = append(&mut con, 7, 1, "dup-check").expect("append");
    let again = append(&mut con, 7, 1, "dup-check").expect("append");
    assert_eq!(again, (first.0, 1), "a duplicate returns the original seq");
    let _: () = redis::cmd("SET")
        .arg(&keys(0)[0])
        .arg("node-b:2")
        .query(&mut con)
        .expect("lease");
    let fenced = append(&mut con, 0, 1, "");
    assert!(
        fenced.is_err_and(|e| e.to_string().contains("FENCED")),
        "a stale epoch must be refused"
    );
    drop(server);
}

criterion_group!(benches, append);
criterion_main!(benches);
