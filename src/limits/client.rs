//! Which address is the client: the TCP peer, or what a trusted proxy says.

use std::net::IpAddr;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpAddr>);

impl TrustedProxies {
    pub fn new(proxies: Vec<IpAddr>) -> Self {
        Self(proxies)
    }

    /// The client's address: the TCP peer, or, when the peer is a trusted proxy (the local nginx),
    /// the nearest address in `X-Forwarded-For` that is not itself a trusted proxy. Anyone else's
    /// `X-Forwarded-For` is ignored, so clients cannot pick their own rate-limit bucket.
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        if !self.0.contains(&peer) {
            return peer;
        }
        let Some(chain) = forwarded_for else { return peer };
        chain
            .rsplit(',')
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .find(|ip| !self.0.contains(ip))
            .unwrap_or(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let proxies = TrustedProxies::new(vec![ip("127.0.0.1")]);
        assert_eq!(proxies.client_ip(ip("127.0.0.1"), Some("203.0.113.9, 198.51.100.7")), ip("198.51.100.7"));
        assert_eq!(proxies.client_ip(ip("127.0.0.1"), Some("203.0.113.9, 127.0.0.1")), ip("203.0.113.9"));
        assert_eq!(proxies.client_ip(ip("192.0.2.1"), Some("203.0.113.9")), ip("192.0.2.1"), "spoofed header ignored");
        assert_eq!(proxies.client_ip(ip("127.0.0.1"), Some("garbage")), ip("127.0.0.1"));
    }
}
