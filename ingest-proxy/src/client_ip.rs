//! Which address a request came from: the peer, or `X-Forwarded-For` only behind trusted proxies.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;

/// The proxies (addresses or CIDR networks) whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
}

impl TrustedProxies {
    /// Parses a comma-separated list such as `10.0.0.0/8, 127.0.0.1, ::1`. Empty entries are
    /// skipped, so an empty list trusts nobody.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut networks = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let network = IpNet::from_str(entry)
                .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
                .map_err(|_| format!("'{entry}' is neither an IP address nor a CIDR network"))?;
            networks.push(network.trunc());
        }
        Ok(Self { networks })
    }

    /// Whether nobody is trusted.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|network| network.contains(&ip))
    }

    /// The client's address. Each trusted proxy appends the address it received the request
    /// from to `X-Forwarded-For`, so the list is read from the right, skipping trusted
    /// proxies: the first address that is not one is the client. Anything left of it was
    /// written by the client and may be forged, so it is never read. The peer itself must be
    /// trusted for the header to count at all. An entry that is not an address ends the walk
    /// at the last address known to be good.
    ///
    /// `forwarded_for` holds the values of every `X-Forwarded-For` header, in order.
    pub fn client_ip<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|hop| !hop.is_empty())
            .collect();
        for hop in hops.into_iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                return client;
            };
            client = ip.to_canonical();
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, maybe quoted, bracketed or with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim_matches('"');
    IpAddr::from_str(hop)
        .ok()
        .or_else(|| SocketAddr::from_str(hop).ok().map(|addr| addr.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| IpAddr::from_str(h).ok())
        })
}

#[cfg(test)]
mod tests {
    use super::TrustedProxies;
    use std::net::IpAddr;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn parses_addresses_and_networks() {
        let trusted = TrustedProxies::parse(" 10.0.0.0/8, 127.0.0.1 ,, ::1, fd00::/8").unwrap();
        assert!(trusted.trusts(ip("10.1.2.3")));
        assert!(trusted.trusts(ip("127.0.0.1")));
        assert!(!trusted.trusts(ip("127.0.0.2")));
        assert!(trusted.trusts(ip("::1")));
        assert!(trusted.trusts(ip("fd12::1")));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
    }

    #[test]
    fn untrusted_peer_ignores_the_header() {
        let trusted = TrustedProxies::parse("10.0.0.1").unwrap();
        assert_eq!(
            trusted.client_ip(ip("203.0.113.9"), ["1.2.3.4"]),
            ip("203.0.113.9")
        );
        let nobody = TrustedProxies::default();
        assert_eq!(
            nobody.client_ip(ip("127.0.0.1"), ["1.2.3.4"]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn first_untrusted_from_the_right() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // The client forged 6.6.6.6; the trusted proxy 10.0.0.2 appended the real 1.2.3.4.
        assert_eq!(
            trusted.client_ip(ip("10.0.0.1"), ["6.6.6.6, 1.2.3.4, 10.0.0.2"]),
            ip("1.2.3.4")
        );
        // Several headers count as one list, in order.
        assert_eq!(
            trusted.client_ip(ip("10.0.0.1"), ["6.6.6.6", "1.2.3.4,10.9.9.9"]),
            ip("1.2.3.4")
        );
    }

    #[test]
    fn all_trusted_gives_the_leftmost_and_no_header_gives_the_peer() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(
            trusted.client_ip(ip("10.0.0.1"), ["10.0.0.3, 10.0.0.2"]),
            ip("10.0.0.3")
        );
        assert_eq!(trusted.client_ip(ip("10.0.0.1"), []), ip("10.0.0.1"));
    }

    #[test]
    fn garbage_stops_at_the_last_good_address() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(
            trusted.client_ip(ip("10.0.0.1"), ["1.2.3.4, unknown, 10.0.0.2"]),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn ports_brackets_and_mapped_addresses() {
        let trusted = TrustedProxies::parse("127.0.0.1").unwrap();
        assert_eq!(
            trusted.client_ip(ip("::ffff:127.0.0.1"), ["1.2.3.4:5678"]),
            ip("1.2.3.4")
        );
        assert_eq!(
            trusted.client_ip(ip("127.0.0.1"), ["[2001:db8::1]:443"]),
            ip("2001:db8::1")
        );
        assert_eq!(
            trusted.client_ip(ip("127.0.0.1"), ["\"[2001:db8::2]\""]),
            ip("2001:db8::2")
        );
    }
}
