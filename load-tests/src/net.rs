//! Where connections go: the nodes' addresses (round-robin) and the local source addresses
//! client sockets are bound to (round-robin), plus the socket setup itself.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use anyhow::{bail, Context};
use tokio::net::{TcpSocket, TcpStream};

/// One node, from a URL such as `ws://127.0.0.1:8080/v1/ws` (path defaults to `/v1/ws`).
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// As given (normalised), for the report.
    pub url: String,
    /// `host:port`, for the HTTP `Host` header.
    pub authority: String,
    pub addr: SocketAddr,
}

impl Endpoint {
    pub async fn resolve(raw: &str) -> anyhow::Result<Self> {
        let rest = if let Some(r) = raw
            .strip_prefix("ws://")
            .or_else(|| raw.strip_prefix("http://"))
        {
            r
        } else if raw.starts_with("wss://") || raw.starts_with("https://") {
            bail!(
                "{raw}: TLS is not supported by the load generator; point it at the node directly"
            );
        } else if raw.contains("://") {
            bail!("{raw}: expected a ws:// URL");
        } else {
            raw
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let path = if path.is_empty() || path == "/" {
            "/v1/ws"
        } else {
            path
        };
        if authority.is_empty() {
            bail!("{raw}: no host");
        }
        let with_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        let addr = tokio::net::lookup_host(with_port.as_str())
            .await
            .with_context(|| format!("resolving {with_port}"))?
            .next()
            .with_context(|| format!("{with_port} resolves to no address"))?;
        Ok(Self {
            url: format!("ws://{with_port}{path}"),
            authority: with_port,
            addr,
        })
    }
}

/// Picks the node and the source address of each new connection.
pub struct Dialer {
    pub endpoints: Vec<Endpoint>,
    sources: Vec<IpAddr>,
    next_source: AtomicUsize,
}

impl Dialer {
    pub fn new(endpoints: Vec<Endpoint>, sources: Vec<IpAddr>) -> Self {
        Self {
            endpoints,
            sources,
            next_source: AtomicUsize::new(0),
        }
    }

    /// The node for a client's `slot` (its index plus its reconnections: a reconnect moves on
    /// to the next node, as a client behind a load balancer would).
    pub fn endpoint(&self, slot: usize) -> &Endpoint {
        &self.endpoints[slot % self.endpoints.len()]
    }

    /// Opens a TCP connection to `to`, bound to the next source address if any are configured.
    pub async fn connect(&self, to: SocketAddr) -> io::Result<TcpStream> {
        let socket = if to.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if !self.sources.is_empty() {
            let ip = self.sources[self.next_source.fetch_add(1, Relaxed) % self.sources.len()];
            bind_address_no_port(&socket);
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        let stream = socket.connect(to).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// Lets the kernel choose the source port at `connect` (by the full 4-tuple) rather than at
/// `bind`, so that binding does not exhaust ephemeral ports early.
#[cfg(target_os = "linux")]
fn bind_address_no_port(socket: &TcpSocket) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            std::ptr::from_ref(&one).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn bind_address_no_port(_: &TcpSocket) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parses_urls() {
        let e = Endpoint::resolve("ws://127.0.0.1:8080").await.expect("ok");
        assert_eq!(e.url, "ws://127.0.0.1:8080/v1/ws");
        assert_eq!(e.authority, "127.0.0.1:8080");
        let e = Endpoint::resolve("127.0.0.1:9000/custom")
            .await
            .expect("ok");
        assert_eq!(e.url, "ws://127.0.0.1:9000/custom");
        assert_eq!(e.addr.port(), 9000);
        assert!(Endpoint::resolve("wss://127.0.0.1:1").await.is_err());
    }
}
