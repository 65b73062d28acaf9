//! A real `redis-server` per test: its own free port and its own directory, AOF on with
//! `appendfsync always` (the setting behind "an acknowledged message survives a crash"), killed
//! and removed when dropped. Tests never skip: without `redis-server` on PATH they fail.
//!
//! Include it from a test binary with `#[path = "../support/redis.rs"] mod redis_server;`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a start (or a restart replaying the AOF) may take.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);

pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

/// A port that was free a moment ago (bind to port 0, read it, let it go).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A fresh, empty directory under the system temp dir (no `tempfile` crate).
pub fn unique_dir(prefix: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The last `n` lines of a file (for failure reports).
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("<cannot read {}: {e}>", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl RedisServer {
    /// Starts a redis-server on a free port in a new directory and waits until it answers PING.
    pub fn start() -> RedisServer {
        let mut server = RedisServer {
            port: free_port(),
            dir: unique_dir("sb-redis"),
            child: None,
        };
        server.spawn();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    /// SIGKILL: no shutdown, no final fsync beyond what `appendfsync always` already did.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and directory, so the AOF is replayed; waits until ready.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open redis log");
        let log2 = log.try_clone().expect("clone log handle");
        let child = match Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--appendonly", "yes"])
            .args(["--appendfsync", "always"])
            .args(["--save", ""])
            .args(["--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server not found on PATH: install it (apt-get install redis-server); tests never skip"
            ),
            Err(e) => panic!("cannot start redis-server: {e}"),
        };
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if ping(self.port) {
                return;
            }
            if !self.is_running() {
                panic!(
                    "redis-server on port {} exited during start; log:\n{}",
                    self.port,
                    tail(&self.log_path(), 50)
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "redis-server on port {} not ready within {READY_TIMEOUT:?}; log:\n{}",
                    self.port,
                    tail(&self.log_path(), 50)
                );
            }
            std::thread::sleep(POLL);
        }
    }
}

/// One `PING` over a fresh connection; true on `+PONG` (false while loading the AOF).
fn ping(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(n) => buf[..n].starts_with(b"+PONG"),
        Err(_) => false,
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- redis-server :{} (last 50 lines of {}) ---\n{}",
                self.port,
                self.log_path().display(),
                tail(&self.log_path(), 50)
            );
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
