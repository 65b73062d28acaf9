//! A real scanning webhook for tests: a tiny HTTP server on a free port (its own thread and
//! actix system) that reads each POSTed file and answers `{"result": "infected"}` when it holds
//! the EICAR test string, else `{"result": "clean"}`. Stopped when dropped.
//!
//! Include it from a test binary with `#[path = "../support/scanner.rs"] mod scanner;`.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The EICAR anti-virus test file's content.
pub const EICAR: &str =
    r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

pub struct Scanner {
    port: u16,
    /// Files scanned so far.
    pub scanned: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

impl Scanner {
    pub fn start() -> Scanner {
        let scanned = Arc::new(AtomicUsize::new(0));
        let counter = scanned.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = actix_web::HttpServer::new(move || {
                    let counter = counter.clone();
                    actix_web::App::new().route(
                        "/scan",
                        actix_web::web::post().to(move |body: actix_web::web::Bytes| {
                            let counter = counter.clone();
                            async move {
                                counter.fetch_add(1, Ordering::SeqCst);
                                let infected = body
                                    .windows(EICAR.len())
                                    .any(|w| w == EICAR.as_bytes());
                                let result = if infected { "infected" } else { "clean" };
                                actix_web::HttpResponse::Ok()
                                    .json(serde_json::json!({ "result": result }))
                            }
                        }),
                    )
                })
                .workers(1)
                .bind(("127.0.0.1", 0))
                .expect("bind scanner");
                let port = server.addrs()[0].port();
                let server = server.run();
                let _ = tx.send((port, server.handle()));
                let _ = server.await;
            })
        });
        let (port, handle) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("scanner did not start");
        Scanner {
            port,
            scanned,
            handle,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/scan", self.port)
    }
}

impl Drop for Scanner {
    fn drop(&mut self) {
        // Not awaited: the server's own thread finishes stopping it.
        drop(self.handle.stop(false));
    }
}
