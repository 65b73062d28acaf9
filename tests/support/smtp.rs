//! A real SMTP server per test: Python's `aiosmtpd` (`python3 -m pip install --user aiosmtpd`,
//! done by tests/setup.sh) on a loopback port, storing every message it accepts in a Maildir
//! (`<dir>/new/`, one file per message, with `X-MailFrom` and `X-RcptTo` headers added).
//! Waited for until it accepts connections, killed when stopped or dropped. Tests never skip:
//! without aiosmtpd they fail with the install hint.
//!
//! Include it from a test binary with `#[path = "../support/smtp.rs"] mod smtp_server;`, beside
//! `redis_server` (its free ports and folders).
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::redis_server::{free_port, unique_dir};

const READY_TIMEOUT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(50);

pub struct SmtpServer {
    port: u16,
    /// The Maildir (created by the server on its first message).
    dir: PathBuf,
    child: Option<Child>,
}

impl SmtpServer {
    /// A server on a free port, started.
    pub fn start() -> SmtpServer {
        let mut server = SmtpServer::stopped(free_port());
        server.run();
        server
    }

    /// A server for `port` that is not running yet ([`SmtpServer::run`] starts it).
    pub fn stopped(port: u16) -> SmtpServer {
        // aiosmtpd's Maildir handler creates the Maildir itself (an existing folder lacks its
        // tmp/new/cur), so it is a folder inside a fresh one.
        let dir = unique_dir("sb-smtp").join("maildir");
        SmtpServer {
            port,
            dir,
            child: None,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts the server (again) on its port and waits until it accepts connections.
    pub fn run(&mut self) {
        assert!(self.child.is_none(), "the SMTP server is already running");
        let mut child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{}", self.port)])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd (install: python3 -m pip install --user aiosmtpd, see tests/setup.sh)");
        let deadline = Instant::now() + READY_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("aiosmtpd exited with {status}: is it installed? (tests/setup.sh)");
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on port {} within {READY_TIMEOUT:?}",
                self.port
            );
            std::thread::sleep(POLL);
        }
        self.child = Some(child);
    }

    /// Kills the server; what it received stays readable.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every message received so far, raw (headers and body), oldest first.
    pub fn messages(&self) -> Vec<String> {
        let new = self.dir.join("new");
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&new) {
            Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(_) => return Vec::new(),
        };
        files.sort_by_key(|p| modified(p));
        files
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .collect()
    }
}

fn modified(p: &Path) -> std::time::SystemTime {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::UNIX_EPOCH)
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
        if let Some(parent) = self.dir.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}
