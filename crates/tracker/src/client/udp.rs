//! The UDP tracker client (BEP 15): the sans-IO machine on a tokio socket and the real clock.
//!
//! The host is resolved on first use and the socket (bound to the address's family, connected
//! to the tracker so only its datagrams arrive) is kept with the machine, so the connection id
//! is reused across announces for its minute. Exchanges on one tracker run one at a time. If a
//! caller drops an exchange half-way (its own timeout), the next one cancels what was left.
//! Anything after `host:port` in the URL (a BEP 41 path) is not sent.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use swarmgate_core::InfoHashV1;
use tokio::net::UdpSocket;
use tokio::sync::Mutex;

use crate::announce::{AnnounceRequest, AnnounceResponse, ScrapeStats};
use crate::error::{ParseError, TrackerError};
use crate::udp::{AddressFamily, UdpClientConfig, UdpEvent, UdpTrackerClient};

/// The largest datagram read: a whole UDP payload, so a long peer list is never cut short.
const MAX_DATAGRAM: usize = 65_536;

/// One UDP tracker (`udp://host:port`).
#[derive(Debug)]
pub struct UdpTracker {
    url: String,
    host: String,
    port: u16,
    config: UdpClientConfig,
    seed: u64,
    link: Mutex<Option<Link>>,
}

struct Link {
    socket: UdpSocket,
    machine: UdpTrackerClient,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("socket", &self.socket)
            .finish()
    }
}

/// Splits `udp://host:port[/...]` into host and port; IPv6 hosts come in brackets.
fn host_port(url: &str) -> Option<(String, u16)> {
    let rest = url
        .get(..6)?
        .eq_ignore_ascii_case("udp://")
        .then(|| &url[6..])?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (host, port) = authority.rsplit_once(':')?;
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.strip_suffix(']')?,
        None => host,
    };
    if host.is_empty() {
        return None;
    }
    Some((host.to_owned(), port.parse().ok()?))
}

impl UdpTracker {
    /// A tracker at `url`; `config`'s family is replaced by that of the resolved address, and
    /// `seed` seeds its transaction ids.
    pub fn new(url: &str, config: UdpClientConfig, seed: u64) -> Result<Self, TrackerError> {
        let (host, port) = host_port(url).ok_or_else(|| TrackerError::UnsupportedUrl {
            url: url.to_owned(),
            reason: "not a udp://host:port URL",
        })?;
        Ok(UdpTracker {
            url: url.to_owned(),
            host,
            port,
            config,
            seed,
            link: Mutex::new(None),
        })
    }

    /// The announce URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Announces `request`.
    pub async fn announce(
        &self,
        request: &AnnounceRequest,
    ) -> Result<AnnounceResponse, TrackerError> {
        let request = request.clone();
        match self.exchange(|m, now| m.announce(now, request)).await? {
            UdpEvent::Announced(response) => Ok(response),
            other => Err(unexpected(other)),
        }
    }

    /// Scrapes `info_hashes`: one entry per hash, in order.
    pub async fn scrape(
        &self,
        info_hashes: &[InfoHashV1],
    ) -> Result<Vec<ScrapeStats>, TrackerError> {
        let hashes = info_hashes.to_vec();
        match self.exchange(|m, now| m.scrape(now, hashes)).await? {
            UdpEvent::Scraped(stats) => Ok(stats),
            other => Err(unexpected(other)),
        }
    }

    async fn open(&self) -> Result<Link, TrackerError> {
        let addr = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await?
            .next()
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{} resolves to no address", self.host),
                )
            })?;
        let local: SocketAddr = match addr {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(addr).await?;
        let config = UdpClientConfig {
            family: AddressFamily::of(&addr),
            ..self.config
        };
        Ok(Link {
            socket,
            machine: UdpTrackerClient::with_config(self.seed, config),
        })
    }

    /// Runs one command to its event.
    async fn exchange(
        &self,
        command: impl FnOnce(&mut UdpTrackerClient, Instant),
    ) -> Result<UdpEvent, TrackerError> {
        let mut guard = self.link.lock().await;
        let link = match &mut *guard {
            Some(link) => link,
            empty => empty.insert(self.open().await?),
        };
        link.machine.cancel_all();
        command(&mut link.machine, Instant::now());
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            while let Some(packet) = link.machine.poll_transmit() {
                link.socket.send(&packet).await?;
            }
            if let Some(event) = link.machine.poll_event() {
                return Ok(event);
            }
            // A command in flight always has a deadline; without one there is nothing to wait on.
            let deadline = link.machine.poll_timeout().ok_or(TrackerError::Timeout)?;
            tokio::select! {
                received = link.socket.recv(&mut buf) => {
                    let n = received?;
                    link.machine.handle_datagram(Instant::now(), &buf[..n]);
                }
                () = tokio::time::sleep_until(deadline.into()) => {
                    link.machine.handle_timeout(Instant::now());
                }
            }
        }
    }
}

/// An event that does not answer the command (cannot happen: commands finish in order).
fn unexpected(event: UdpEvent) -> TrackerError {
    match event {
        UdpEvent::Failed(e) => e,
        UdpEvent::Announced(_) | UdpEvent::Scraped(_) => ParseError::BadField {
            field: "action",
            expected: "the answer to the request sent",
        }
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_urls_split_into_host_and_port() {
        let split = |u| host_port(u);
        assert_eq!(
            split("udp://t.example:6969/announce"),
            Some(("t.example".into(), 6969))
        );
        assert_eq!(split("UDP://[::1]:80"), Some(("::1".into(), 80)));
        assert_eq!(split("udp://1.2.3.4:1?x=/y"), Some(("1.2.3.4".into(), 1)));
        for bad in [
            "udp://t.example",
            "udp://:1",
            "udp://h:99999",
            "http://h:1",
            "udp:/",
        ] {
            assert_eq!(split(bad), None, "{bad}");
        }
    }
}
