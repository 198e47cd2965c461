//! The SSRF guard: which IP addresses lore may connect to when it fetches a URL.
//!
//! A URL source is typed by an admin, but the pages it links to, the redirects it answers with
//! and the addresses its host name resolves to are chosen by whoever runs the site. Without a
//! guard, a page could make lore fetch `http://169.254.169.254/` (cloud credentials),
//! `http://localhost:8080/admin` or any host of the internal network, and store the answer in
//! a knowledge base. So every address is checked here — IP literals before the request,
//! resolved names inside the DNS resolver (so the connection goes to exactly the address that
//! was checked), and every redirect hop again.
//!
//! Refused: loopback, private (RFC 1918, unique-local), link-local, CGNAT shared space,
//! multicast, unspecified, broadcast and reserved, documentation and benchmark ranges, and the
//! IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64, 6to4) when the embedded
//! address is one of those. An [`AllowList`] opens exactly the blocks it names, for sites on
//! an intranet.

use crate::error::{Error, Reason, Result};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The environment variable that adds blocks to the allow list of every client.
pub const ALLOW_ENV: &str = "LORE_ALLOW_PRIVATE_HOSTS";

/// Address blocks that are refused even though they are not public. Empty by default.
///
/// Parsed from comma-separated addresses or CIDR blocks (`10.1.2.0/24, 127.0.0.1, ::1`).
/// A bare address means that address only (`/32` or `/128`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    nets: Vec<IpNet>,
}

impl AllowList {
    /// Nothing is opened: only public addresses are reachable.
    pub fn empty() -> Self {
        AllowList::default()
    }

    /// Parses a comma-separated list of addresses and CIDR blocks; blanks are ignored.
    /// An entry that is neither fails with `invalid-argument` naming it, because a typo here
    /// would otherwise silently keep an intranet site unreachable (or worse, open another).
    pub fn parse(list: &str) -> Result<Self> {
        let mut nets = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            // `[::1]` is how people write IPv6 addresses in URLs; accept it.
            let bare = entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .unwrap_or(entry);
            let net = match bare.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => match bare.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => {
                        return Err(Error::invalid(format!(
                            "{entry:?} in the private-host allow list is not an ip address or cidr block"
                        )))
                    }
                },
            };
            nets.push(net);
        }
        Ok(AllowList { nets })
    }

    /// The configured list plus whatever [`ALLOW_ENV`] names: the variable lets an operator
    /// open an intranet host without editing the configuration.
    pub fn from_config_and_env(config: &str) -> Result<Self> {
        let mut list = AllowList::parse(config)?;
        if let Ok(env) = std::env::var(ALLOW_ENV) {
            let extra =
                AllowList::parse(&env).map_err(|e| Error::invalid(format!("{ALLOW_ENV}: {e}")))?;
            list.nets.extend(extra.nets);
        }
        Ok(list)
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// True when a block of the list contains `ip` (or, for an IPv4-mapped IPv6 address, its
    /// IPv4 form: `::ffff:127.0.0.1` is the same destination as `127.0.0.1`).
    pub fn allows(&self, ip: IpAddr) -> bool {
        let canonical = canonical(ip);
        self.nets
            .iter()
            .any(|n| n.contains(&ip) || n.contains(&canonical))
    }
}

/// Refuses `ip` with `blocked-address` when it is not a public address and the allow list does
/// not open it.
pub fn check_ip(ip: IpAddr, allow: &AllowList) -> Result<()> {
    match blocked_range(ip) {
        Some(range) if !allow.allows(ip) => Err(Error::rejected(
            Reason::BlockedAddress,
            format!("{ip} is a {range} address; lore only fetches public addresses unless {ALLOW_ENV} or the web allow list names it"),
        )),
        _ => Ok(()),
    }
}

/// The name of the non-public range `ip` falls in, or `None` for a public address.
pub fn blocked_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is; anything else unchanged.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> (Ipv4Addr, u8) {
    (Ipv4Addr::new(a, b, c, d), len)
}

/// IPv4 blocks that are not public destinations (IANA special-purpose registry), by name.
const V4_BLOCKS: &[((Ipv4Addr, u8), &str)] = &[
    (v4(0, 0, 0, 0, 8), "unspecified (this-network)"),
    (v4(10, 0, 0, 0, 8), "private"),
    (v4(100, 64, 0, 0, 10), "shared (carrier-grade nat)"),
    (v4(127, 0, 0, 0, 8), "loopback"),
    (v4(169, 254, 0, 0, 16), "link-local"),
    (v4(172, 16, 0, 0, 12), "private"),
    (v4(192, 0, 0, 0, 24), "ietf protocol assignment"),
    (v4(192, 0, 2, 0, 24), "documentation"),
    (v4(192, 88, 99, 0, 24), "6to4 relay"),
    (v4(192, 168, 0, 0, 16), "private"),
    (v4(198, 18, 0, 0, 15), "benchmarking"),
    (v4(198, 51, 100, 0, 24), "documentation"),
    (v4(203, 0, 113, 0, 24), "documentation"),
    (v4(224, 0, 0, 0, 4), "multicast"),
    (v4(255, 255, 255, 255, 32), "broadcast"),
    (v4(240, 0, 0, 0, 4), "reserved"),
];

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    V4_BLOCKS.iter().find_map(|((net, len), name)| {
        Ipv4Net::new(*net, *len)
            .ok()
            .filter(|n| n.contains(&ip))
            .map(|_| *name)
    })
}

const fn v6(segments: [u16; 8], len: u8) -> (Ipv6Addr, u8) {
    let [a, b, c, d, e, f, g, h] = segments;
    (Ipv6Addr::new(a, b, c, d, e, f, g, h), len)
}

/// IPv6 blocks that are not public destinations. Blocks that embed an IPv4 address are
/// handled before these, by the embedded address.
const V6_BLOCKS: &[((Ipv6Addr, u8), &str)] = &[
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), "unspecified"),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), "loopback"),
    // IPv4-compatible (deprecated), never a real destination today.
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 96), "ipv4-compatible"),
    (v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), "local nat64"),
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), "discard-only"),
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32), "teredo"),
    (v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48), "benchmarking"),
    (v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28), "orchid"),
    (v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28), "orchid"),
    (v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), "documentation"),
    (v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), "documentation"),
    (
        v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        "unique-local (private)",
    ),
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), "link-local"),
    (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), "site-local"),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "multicast"),
];

fn blocked_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(embedded) = embedded_v4(ip) {
        return blocked_v4(embedded);
    }
    V6_BLOCKS.iter().find_map(|((net, len), name)| {
        Ipv6Net::new(*net, *len)
            .ok()
            .filter(|n| n.contains(&ip))
            .map(|_| *name)
    })
}

/// The IPv4 address an IPv6 address stands for, when it is one of the forms that route to an
/// IPv4 host: mapped (`::ffff:a.b.c.d`), NAT64 well-known prefix (`64:ff9b::a.b.c.d`) and 6to4
/// (`2002:aabb:ccdd::`). Such an address is as public as the IPv4 address inside it.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(mapped) = ip.to_ipv4_mapped() {
        return Some(mapped);
    }
    let s = ip.segments();
    let low = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(low());
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn refused(s: &str, allow: &AllowList) -> bool {
        match check_ip(ip(s), allow) {
            Ok(()) => false,
            Err(e) => {
                assert_eq!(e.reason(), Some(Reason::BlockedAddress), "{e}");
                true
            }
        }
    }

    #[test]
    fn internal_addresses_are_refused() {
        let none = AllowList::empty();
        for s in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "192.0.2.10",
            "198.51.100.1",
            "203.0.113.5",
            "198.18.0.1",
            "198.19.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:7f00:1",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
            "::127.0.0.1",
        ] {
            assert!(refused(s, &none), "{s} should be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        let none = AllowList::empty();
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "172.32.0.1",
            "172.15.255.255",
            "100.128.0.1",
            "169.253.1.1",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
        ] {
            assert!(!refused(s, &none), "{s} should pass");
        }
    }

    #[test]
    fn the_allow_list_opens_exactly_what_it_names() {
        let allow = AllowList::parse("127.0.0.1/32").unwrap();
        assert!(!refused("127.0.0.1", &allow));
        assert!(!refused("::ffff:127.0.0.1", &allow), "same destination");
        for s in [
            "127.0.0.2",
            "10.0.0.1",
            "169.254.169.254",
            "::1",
            "192.168.0.1",
        ] {
            assert!(refused(s, &allow), "{s} must stay refused");
        }
        let allow = AllowList::parse(" 10.1.0.0/16 , ::1,[fd00::5], 192.168.7.7 ").unwrap();
        assert!(!refused("10.1.200.3", &allow));
        assert!(refused("10.2.0.1", &allow));
        assert!(!refused("::1", &allow));
        assert!(!refused("fd00::5", &allow));
        assert!(refused("fd00::6", &allow));
        assert!(!refused("192.168.7.7", &allow));
        assert!(refused("192.168.7.8", &allow));
        // A host-bits-set block is truncated to its network, as `ip route` would.
        let allow = AllowList::parse("10.9.9.9/24").unwrap();
        assert!(!refused("10.9.9.1", &allow));
        assert!(AllowList::parse("").unwrap().is_empty());
        assert!(AllowList::parse(" , ").unwrap().is_empty());
    }

    #[test]
    fn bad_allow_entries_are_named() {
        for bad in ["localhost", "10.0.0.0/33", "1.2.3", "::1/200", "*"] {
            let e = AllowList::parse(&format!("127.0.0.1,{bad}")).unwrap_err();
            assert_eq!(e.reason(), Some(Reason::InvalidArgument));
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn messages_name_the_range() {
        let e = check_ip(ip("169.254.169.254"), &AllowList::empty()).unwrap_err();
        assert!(e.to_string().contains("link-local"), "{e}");
        let e = check_ip(ip("::ffff:10.0.0.1"), &AllowList::empty()).unwrap_err();
        assert!(e.to_string().contains("private"), "{e}");
    }
}
