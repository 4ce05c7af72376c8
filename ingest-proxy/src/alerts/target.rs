//! Outbound safety: which webhook targets may be reached, checked on the URL and again on every
//! DNS answer at connect time.
//!
//! A webhook URL is typed by whoever may edit a channel, so without this it would let them make
//! the server probe its own network (the database, a cloud's metadata service). Addresses that
//! are not public are refused unless `ALERTS_ALLOWED_TARGETS` names them. The check runs in
//! the HTTP client's resolver (`GuardedResolver`), so the address checked is the address
//! connected to: a name that resolves to a public address when saved and to a private one when
//! sent is still refused. A URL with an IP literal skips the resolver, so `check_url` checks it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// The allow-list: networks, and endpoints (`host:port`) reached wherever they resolve.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedTargets {
    networks: Vec<IpNet>,
    endpoints: Vec<(String, u16)>,
}

/// A target refused, with the reason delivery records.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// Not a URL.
    #[error("the webhook URL is not a valid URL")]
    NotAUrl,
    /// Not http or https.
    #[error("the webhook URL's scheme is {0}, not http or https")]
    Scheme(String),
    /// No host.
    #[error("the webhook URL has no host")]
    NoHost,
    /// The address is not public and not allowed.
    #[error("refused: {address} is a {why} address (allow it with ALERTS_ALLOWED_TARGETS)")]
    Address {
        /// The address.
        address: IpAddr,
        /// Which kind of address it is.
        why: &'static str,
    },
    /// Every address the name resolved to is refused.
    #[error("refused: {host} resolves only to addresses that are not public ({refused}); allow them with ALERTS_ALLOWED_TARGETS")]
    Resolved {
        /// The name.
        host: String,
        /// Each address with its kind.
        refused: String,
    },
    /// An allowed endpoint was used on another port.
    #[error("refused: {host} is allowed on port {allowed} only, not {port}")]
    Port {
        /// The host.
        host: String,
        /// The port used.
        port: u16,
        /// The ports allowed.
        allowed: String,
    },
}

impl AllowedTargets {
    /// Parses `ALERTS_ALLOWED_TARGETS`: comma-separated CIDR networks, single addresses, or
    /// `host:port` endpoints (`[::1]:8080` for IPv6).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut allowed = AllowedTargets::default();
        for item in text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            if let Ok(network) = item.parse::<IpNet>() {
                allowed.networks.push(network);
            } else if let Ok(address) = item.parse::<IpAddr>() {
                allowed.networks.push(IpNet::from(address));
            } else if let Some((host, port)) = item.rsplit_once(':') {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| format!("'{item}': '{port}' is not a port"))?;
                let host = host.trim_start_matches('[').trim_end_matches(']');
                if host.is_empty() || host.contains(['/', ' ', '@']) {
                    return Err(format!("'{item}' is not a host:port"));
                }
                allowed.endpoints.push((host.to_ascii_lowercase(), port));
            } else {
                return Err(format!(
                    "'{item}' is neither a network (10.0.0.0/8), an address, nor a host:port"
                ));
            }
        }
        Ok(allowed)
    }

    fn network_allows(&self, address: IpAddr) -> bool {
        self.networks
            .iter()
            .any(|network| network.contains(&address))
    }

    fn endpoint_ports(&self, host: &str) -> Vec<u16> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.endpoints
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(host))
            .map(|(_, port)| *port)
            .collect()
    }

    /// Whether `address` may be connected to for `host` (the name as in the URL).
    fn permits(&self, host: &str, address: IpAddr) -> Result<(), &'static str> {
        match refusal(address) {
            None => Ok(()),
            Some(_) if self.network_allows(address) => Ok(()),
            Some(_) if !self.endpoint_ports(host).is_empty() => Ok(()),
            Some(why) => Err(why),
        }
    }
}

/// Checks what the URL itself says: scheme, host, an IP literal's address, an endpoint's port.
/// Names are checked again when they are resolved (`GuardedResolver`).
pub fn check_url(url: &str, allowed: &AllowedTargets) -> Result<Url, TargetError> {
    let parsed = Url::parse(url).map_err(|_| TargetError::NotAUrl)?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(TargetError::Scheme(parsed.scheme().to_owned()));
    }
    let host = parsed.host_str().ok_or(TargetError::NoHost)?.to_owned();
    let port = parsed.port_or_known_default().ok_or(TargetError::NoHost)?;
    let ports = allowed.endpoint_ports(&host);
    if !ports.is_empty() {
        if ports.contains(&port) {
            return Ok(parsed);
        }
        return Err(TargetError::Port {
            host,
            port,
            allowed: ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(address) = literal.parse::<IpAddr>() {
        allowed
            .permits(&host, address)
            .map_err(|why| TargetError::Address { address, why })?;
    }
    Ok(parsed)
}

/// Why `address` is not a public unicast address; `None` when it is.
pub fn refusal(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => refusal_v4(v4),
        IpAddr::V6(v6) => refusal_v6(v6),
    }
}

fn refusal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => "cloud metadata",
        _ if ip.is_unspecified() || a == 0 => "unspecified",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        _ if a == 100 && (64..128).contains(&b) => "shared (CGNAT)",
        _ if ip.is_link_local() => "link-local",
        _ if a == 192 && b == 0 && c == 0 => "IETF protocol",
        _ if ip.is_documentation() => "documentation",
        _ if a == 198 && (b == 18 || b == 19) => "benchmarking",
        _ if ip.is_broadcast() => "broadcast",
        _ if ip.is_multicast() => "multicast",
        _ if a >= 240 => "reserved",
        _ => return None,
    })
}

fn refusal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    // An IPv4 address in IPv6 clothes is judged as the IPv4 address: mapped (::ffff:a.b.c.d)
    // and the NAT64 well-known prefix (64:ff9b::/96) reach it.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refusal_v4(v4);
    }
    let s = ip.segments();
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return refusal_v4(Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7])));
    }
    Some(match () {
        _ if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254) => "cloud metadata",
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        _ if s[0] & 0xfe00 == 0xfc00 => "private (unique local)",
        _ if s[0] & 0xffc0 == 0xfe80 => "link-local",
        _ if s[0] & 0xffc0 == 0xfec0 => "site-local",
        _ if s[0] & 0xff00 == 0xff00 => "multicast",
        _ if s[0] == 0x2001 && s[1] == 0x0db8 => "documentation",
        _ if s[0] & 0xfff0 == 0x3ff0 => "documentation",
        _ if s[..4] == [0x100, 0, 0, 0] => "discard-only",
        _ if s[..3] == [0x64, 0xff9b, 1] => "NAT64 local-use",
        // ::a.b.c.d (deprecated IPv4-compatible) and the rest of ::/8.
        _ if s[0] == 0 => "reserved",
        _ => return None,
    })
}

/// The HTTP client's resolver: resolves with the system's resolver, keeps the addresses the
/// allow-list permits, and fails when none is left.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    allowed: Arc<AllowedTargets>,
}

impl GuardedResolver {
    /// A resolver applying `allowed`.
    pub fn new(allowed: Arc<AllowedTargets>) -> Self {
        GuardedResolver { allowed }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allowed = self.allowed.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // The port is the URL's; the client sets it on each address it connects to.
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (kept, refused) = filter(&allowed, &host, addresses);
            if kept.is_empty() {
                let refused = if refused.is_empty() {
                    "no address".to_owned()
                } else {
                    refused.join(", ")
                };
                return Err(Box::new(TargetError::Resolved { host, refused }) as _);
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// The addresses `allowed` permits for `host`, and the others described.
fn filter(
    allowed: &AllowedTargets,
    host: &str,
    addresses: Vec<SocketAddr>,
) -> (Vec<SocketAddr>, Vec<String>) {
    let mut kept = Vec::new();
    let mut refused = Vec::new();
    for address in addresses {
        match allowed.permits(host, address.ip()) {
            Ok(()) => kept.push(address),
            Err(why) => refused.push(format!("{} is {why}", address.ip())),
        }
    }
    (kept, refused)
}

#[cfg(test)]
mod tests {
    use super::{check_url, filter, refusal, AllowedTargets, TargetError};
    use std::net::{IpAddr, SocketAddr};

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn refuses_every_kind_of_non_public_address() {
        let cases = [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.31.0.1", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("169.254.169.254", "cloud metadata"),
            ("169.254.1.1", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("192.0.2.1", "documentation"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd00:ec2::254", "cloud metadata"),
            ("fd12::1", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "cloud metadata"),
            ("64:ff9b::7f00:1", "loopback"),
        ];
        for (address, why) in cases {
            assert_eq!(refusal(ip(address)), Some(why), "{address}");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.128.0.1",
            "2606:4700::1111",
            "64:ff9b::808:808",
        ] {
            assert_eq!(refusal(ip(public)), None, "{public}");
        }
    }

    #[test]
    fn parses_the_allow_list() {
        let allowed =
            AllowedTargets::parse(" 127.0.0.1/32, ::1, hooks.internal:8443,[fd00::5]:80 ,")
                .unwrap();
        assert_eq!(allowed.networks.len(), 2);
        assert_eq!(
            allowed.endpoints,
            vec![("hooks.internal".into(), 8443), ("fd00::5".into(), 80)]
        );
        assert!(AllowedTargets::parse("").unwrap().networks.is_empty());
        assert!(AllowedTargets::parse("10.0.0.0/33").is_err());
        assert!(AllowedTargets::parse("host:port").is_err());
        assert!(AllowedTargets::parse("justaname").is_err());
    }

    #[test]
    fn checks_the_url() {
        let none = AllowedTargets::default();
        assert!(check_url("https://hooks.slack.com/services/T/B/X", &none).is_ok());
        assert_eq!(
            check_url("ftp://h/x", &none),
            Err(TargetError::Scheme("ftp".into()))
        );
        assert_eq!(check_url("not a url", &none), Err(TargetError::NotAUrl));
        assert!(matches!(
            check_url("http://169.254.169.254/latest/meta-data/", &none),
            Err(TargetError::Address {
                why: "cloud metadata",
                ..
            })
        ));
        assert!(matches!(
            check_url("http://[::ffff:127.0.0.1]:9/", &none),
            Err(TargetError::Address {
                why: "loopback",
                ..
            })
        ));
        let allowed = AllowedTargets::parse("127.0.0.1/32,hooks.internal:8443").unwrap();
        assert!(check_url("http://127.0.0.1:9/x", &allowed).is_ok());
        assert!(check_url("https://hooks.internal:8443/x", &allowed).is_ok());
        assert!(matches!(
            check_url("https://hooks.internal/x", &allowed),
            Err(TargetError::Port { port: 443, .. })
        ));
        let message = check_url("http://10.0.0.5/", &allowed)
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "refused: 10.0.0.5 is a private address (allow it with ALERTS_ALLOWED_TARGETS)"
        );
    }

    #[test]
    fn resolved_addresses_are_filtered() {
        let addresses: Vec<SocketAddr> = ["93.184.215.14:0", "10.0.0.1:0", "[::1]:0"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let (kept, refused) = filter(
            &AllowedTargets::default(),
            "rebind.example",
            addresses.clone(),
        );
        assert_eq!(kept, vec![addresses[0]]);
        assert_eq!(refused, vec!["10.0.0.1 is private", "::1 is loopback"]);
        let allowed = AllowedTargets::parse("rebind.example:443").unwrap();
        assert_eq!(
            filter(&allowed, "rebind.example", addresses.clone())
                .0
                .len(),
            3
        );
        let allowed = AllowedTargets::parse("10.0.0.0/8").unwrap();
        assert_eq!(filter(&allowed, "rebind.example", addresses).0.len(), 2);
    }
}
