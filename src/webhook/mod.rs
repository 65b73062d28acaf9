//! Signed webhooks out of Switchboard (PROTOCOL §9.12): one HTTP POST, signed the Standard
//! Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature`), used by the bot feed.
//!
//! The caller owns ordering and retries; this is one attempt.

use std::time::Duration;

pub mod dispatcher;
pub use dispatcher::Webhooks;

use crate::domain::bot::{check_target, is_private_ip, signature};

thread_local! {
    /// One client (and connection pool) per worker thread: awc clients are not `Send`.
    static CLIENT: awc::Client = awc::Client::builder().disable_timeout().finish();
}

/// What one attempt needs.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub url: String,
    pub secret: String,
    /// Stable across retries: the receiver deduplicates on it.
    pub id: String,
    pub body: Vec<u8>,
    pub timeout: Duration,
    /// The target may be on a loopback or private network.
    pub allow_private: bool,
}

/// Sends one signed request: `Ok` on any 2xx, else why not.
pub async fn send(d: Delivery) -> Result<(), String> {
    check_target(&d.url, d.allow_private)?;
    if !d.allow_private {
        refuse_private_addresses(&d.url).await?;
    }
    let timestamp = chrono::Utc::now().timestamp();
    let sig = signature(&d.secret, &d.id, timestamp, &d.body);
    let request = CLIENT.with(|c| {
        c.post(&d.url)
            .timeout(d.timeout)
            .insert_header(("content-type", "application/json"))
            .insert_header(("user-agent", "Switchboard-Webhooks/1"))
            .insert_header(("webhook-id", d.id.clone()))
            .insert_header(("webhook-timestamp", timestamp.to_string()))
            .insert_header(("webhook-signature", sig))
    });
    let resp = request
        .send_body(d.body)
        .await
        .map_err(|e| format!("unreachable: {e}"))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("answered {}", resp.status().as_u16()))
    }
}

/// A public name that resolves to a private address is refused too (checked on every attempt,
/// since DNS answers change).
async fn refuse_private_addresses(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    let (Some(host), Some(port)) = (parsed.host_str(), parsed.port_or_known_default()) else {
        return Err("has no host".into());
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let addrs = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    for a in addrs {
        if is_private_ip(a.ip()) {
            return Err(format!(
                "{host} resolves to a private address ({}); refused",
                a.ip()
            ));
        }
    }
    Ok(())
}
