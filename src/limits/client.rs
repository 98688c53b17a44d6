//! Which address is the client: the TCP peer, or what a trusted proxy says; and which addresses
//! count as one client for limits and lockouts.

use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(proxies: Vec<IpNet>) -> Self {
        Self(proxies)
    }

    fn trusts(&self, ip: &IpAddr) -> bool {
        // An IPv4 peer may reach a dual-stack socket as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(*ip),
            v4 => *v4,
        };
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: the TCP peer, or, when the peer is a trusted proxy (the local nginx,
    /// a balancer in a trusted subnet), the nearest address in `X-Forwarded-For` that is not itself
    /// a trusted proxy. Anyone else's `X-Forwarded-For` is ignored, so clients cannot pick their
    /// own rate-limit bucket. An entry that does not parse ends the walk and the request counts as
    /// the nearest trusted hop's: skipping it would reach entries the client wrote itself.
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        if !self.trusts(&peer) {
            return peer;
        }
        let Some(chain) = forwarded_for else { return peer };
        let mut nearest = peer;
        for entry in chain.rsplit(',') {
            let Ok(ip) = entry.trim().parse::<IpAddr>() else { return nearest };
            if !self.trusts(&ip) {
                return ip;
            }
            nearest = ip;
        }
        nearest
    }
}

/// The address that stands for a client in rate limits and lockouts: an IPv4 address itself, an
/// IPv6 address its /64. One subscriber gets a whole /64 (RFC 6177), so limiting per /128 would let
/// a single client rotate through 2^64 addresses.
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|s| s.parse().unwrap()).collect())
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let proxies = proxies(&["127.0.0.1/32"]);
        assert_eq!(proxies.client_ip(ip("127.0.0.1"), Some("203.0.113.9, 198.51.100.7")), ip("198.51.100.7"));
        assert_eq!(proxies.client_ip(ip("127.0.0.1"), Some("203.0.113.9, 127.0.0.1")), ip("203.0.113.9"));
        assert_eq!(proxies.client_ip(ip("192.0.2.1"), Some("203.0.113.9")), ip("192.0.2.1"), "spoofed header ignored");
        assert_eq!(proxies.client_ip(ip("127.0.0.1"), Some("garbage")), ip("127.0.0.1"));
    }

    #[test]
    fn an_entry_that_does_not_parse_ends_the_walk_at_the_proxy() {
        // The client wrote 203.0.113.9 to pick a fresh bucket; the proxy's own entry did not parse.
        let proxies = proxies(&["127.0.0.1/32", "10.0.0.0/16"]);
        for chain in ["203.0.113.9, unknown", "203.0.113.9, 198.51.100.7:443", "203.0.113.9,,", "203.0.113.9, _hidden"]
        {
            assert_eq!(proxies.client_ip(ip("127.0.0.1"), Some(chain)), ip("127.0.0.1"), "{chain}");
        }
        assert_eq!(proxies.client_ip(ip("127.0.0.1"), Some("203.0.113.9, junk, 10.0.0.4")), ip("10.0.0.4"));
    }

    #[test]
    fn a_balancer_anywhere_in_a_trusted_subnet_is_believed() {
        // An ALB's nodes take changing addresses inside the VPC subnets it is placed in.
        let proxies = proxies(&["10.0.0.0/16", "fd00::/8"]);
        assert_eq!(proxies.client_ip(ip("10.0.3.77"), Some("198.51.100.7")), ip("198.51.100.7"));
        assert_eq!(proxies.client_ip(ip("10.0.200.5"), Some("198.51.100.7, 10.0.3.77")), ip("198.51.100.7"));
        assert_eq!(proxies.client_ip(ip("fd12::1"), Some("2001:db8::5")), ip("2001:db8::5"));
        assert_eq!(proxies.client_ip(ip("10.1.0.1"), Some("198.51.100.7")), ip("10.1.0.1"), "outside the range");
        assert_eq!(proxies.client_ip(ip("::ffff:10.0.0.9"), Some("198.51.100.7")), ip("198.51.100.7"));
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        assert_eq!(bucket(ip("2001:db8:1:2:aaaa::1")), bucket(ip("2001:db8:1:2:ffff::9")));
        assert_ne!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:3::1")));
        assert_eq!(bucket(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(bucket(ip("198.51.100.7")), ip("198.51.100.7"));
        assert_eq!(bucket(ip("::ffff:198.51.100.7")), ip("198.51.100.7"));
    }
}
