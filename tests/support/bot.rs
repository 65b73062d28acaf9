//! A real bot endpoint for tests: an HTTP server on a free port (its own thread and actix
//! system) that receives Switchboard's bot webhooks, checks each signature itself (HMAC-SHA256
//! with the shared secret, computed here and not with Switchboard's code) and records what came.
//! The test plays the bot's brain through the bot REST API. Stopped when dropped.
//!
//! Include it with `#[path = "../support/bot.rs"] mod bot_server;`.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use serde_json::Value;
use sha2::Sha256;

pub const SECRET: &str = "bot-secret-0123456789";

/// One webhook as received.
#[derive(Debug, Clone)]
pub struct Hook {
    pub id: String,
    pub timestamp: i64,
    /// The signature checked out against `SECRET` and the raw body.
    pub valid: bool,
    pub body: Value,
    /// Whether this attempt was answered with a 2xx (else a 500 was asked for).
    pub acknowledged: bool,
}

impl Hook {
    pub fn kind(&self) -> &str {
        self.body["type"].as_str().unwrap_or_default()
    }
}

#[derive(Default)]
struct State {
    hooks: Vec<Hook>,
    /// Answer this many next requests with 500 (they are still recorded).
    fail_next: usize,
    /// Hold each answer this long (longer than the request timeout: a timeout).
    delay: Duration,
}

pub struct BotServer {
    port: u16,
    state: Arc<Mutex<State>>,
    /// The most requests ever handled at once.
    pub max_in_flight: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

fn verify(id: &str, ts: &str, body: &[u8], header: &str) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()) else {
        return false;
    };
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    header
        .split(' ')
        .any(|sig| sig.strip_prefix("v1,") == Some(expected.as_str()))
}

impl BotServer {
    pub fn start() -> BotServer {
        let state = Arc::new(Mutex::new(State::default()));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let (st, max, cur) = (state.clone(), max_in_flight.clone(), in_flight);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = actix_web::HttpServer::new(move || {
                    let (st, max, cur) = (st.clone(), max.clone(), cur.clone());
                    actix_web::App::new().route(
                        "/hook",
                        actix_web::web::post().to(
                            move |req: actix_web::HttpRequest, body: actix_web::web::Bytes| {
                                let (st, max, cur) = (st.clone(), max.clone(), cur.clone());
                                async move {
                                    let now = cur.fetch_add(1, Ordering::SeqCst) + 1;
                                    max.fetch_max(now, Ordering::SeqCst);
                                    let header = |n: &str| {
                                        req.headers()
                                            .get(n)
                                            .and_then(|v| v.to_str().ok())
                                            .unwrap_or_default()
                                            .to_string()
                                    };
                                    let (id, ts) =
                                        (header("webhook-id"), header("webhook-timestamp"));
                                    let valid =
                                        verify(&id, &ts, &body, &header("webhook-signature"));
                                    let (fail, delay) = {
                                        let mut s = st.lock();
                                        let fail = s.fail_next > 0;
                                        s.fail_next = s.fail_next.saturating_sub(1);
                                        s.hooks.push(Hook {
                                            id,
                                            timestamp: ts.parse().unwrap_or_default(),
                                            valid,
                                            body: serde_json::from_slice(&body)
                                                .unwrap_or(Value::Null),
                                            acknowledged: !fail,
                                        });
                                        (fail, s.delay)
                                    };
                                    if !delay.is_zero() {
                                        actix_web::rt::time::sleep(delay).await;
                                    }
                                    cur.fetch_sub(1, Ordering::SeqCst);
                                    if fail {
                                        actix_web::HttpResponse::InternalServerError().finish()
                                    } else {
                                        actix_web::HttpResponse::NoContent().finish()
                                    }
                                }
                            },
                        ),
                    )
                })
                .workers(2)
                .bind(("127.0.0.1", 0))
                .expect("bind bot");
                let port = server.addrs()[0].port();
                let server = server.run();
                let _ = tx.send((port, server.handle()));
                let _ = server.await;
            })
        });
        let (port, handle) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("bot did not start");
        BotServer {
            port,
            state,
            max_in_flight,
            handle,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Every webhook received so far, in arrival order.
    pub fn hooks(&self) -> Vec<Hook> {
        self.state.lock().hooks.clone()
    }

    pub fn fail_next(&self, n: usize) {
        self.state.lock().fail_next = n;
    }

    pub fn delay(&self, d: Duration) {
        self.state.lock().delay = d;
    }
}

impl Drop for BotServer {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}
