//! A real S3-compatible server per test: moto's standalone server (`python3 -m pip install
//! --user 'moto[server]'`, done by tests/setup.sh) on a free port, started with
//! `python3 -m moto.server`, waited for until it answers HTTP, killed when dropped. Tests never
//! skip: without moto they fail with the install hint.
//!
//! Include it from a test binary with `#[path = "../support/s3.rs"] mod s3_server;`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

pub struct S3Server {
    port: u16,
    child: Child,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Whether an HTTP GET / on the port gets any answer.
fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 12];
    matches!(s.read(&mut buf), Ok(n) if n >= 12 && buf.starts_with(b"HTTP/1."))
}

impl S3Server {
    pub fn start() -> S3Server {
        let port = free_port();
        let mut child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m moto.server (install: python3 -m pip install --user 'moto[server]', see tests/setup.sh)");
        let deadline = Instant::now() + READY_TIMEOUT;
        while !answers(port) {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "moto server exited with {status}: is moto[server] installed? (tests/setup.sh)"
                );
            }
            assert!(
                Instant::now() < deadline,
                "moto server did not answer on port {port} within {READY_TIMEOUT:?}"
            );
            std::thread::sleep(POLL);
        }
        S3Server { port, child }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
