//! Who the client is, behind load balancers: the address used for fairness
//! (`client_key = "addr"`), the access log and the `X-Forwarded-For` sent upstream.
//!
//! The peer is the PROXY-protocol source address when the listener takes PROXY protocol,
//! else the socket's peer. When the peer is one of `[clients] trusted_proxies`, its
//! `X-Forwarded-For` is believed: the client is the right-most entry that is not itself
//! trusted (every hop appends the address it saw, so entries left of the first untrusted one
//! could have been written by anyone), and the list goes upstream extended with the peer. From
//! any other peer, `X-Forwarded-For` is replaced by the peer alone: a client cannot plant
//! addresses upstream. This is nginx's `real_ip_recursive on` and Envoy's
//! `xff_trusted_hops` idea, with the trust given by network rather than by hop count.

use std::net::IpAddr;

/// One `trusted_proxies` entry: an address block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    /// `"10.0.0.0/8"`, `"2001:db8::/32"`, or a single address (`"10.0.0.7"`, all bits).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => match b.trim().parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("{s:?}: the prefix length must be 0 to {max}")),
            },
        };
        if mask(net, bits) != net {
            return Err(format!("{s:?} has bits set past its prefix length"));
        }
        Ok(Cidr { net, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = unmap(ip);
        ip.is_ipv4() == self.net.is_ipv4() && mask(ip, self.bits) == self.net
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.bits)
    }
}

/// An IPv4 address seen as `::ffff:a.b.c.d` (dual-stack sockets) is that IPv4 address.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn mask(ip: IpAddr, bits: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let m = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & m).into())
        }
        IpAddr::V6(v6) => {
            let m = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & m).into())
        }
    }
}

/// The client of a request, and the `X-Forwarded-For` to send upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub client: IpAddr,
    pub forwarded_for: String,
}

/// Works out the client from the `peer` and the request's `X-Forwarded-For` lines (in order).
pub fn resolve<'a>(peer: IpAddr, xff: impl Iterator<Item = &'a str>, trusted: &[Cidr]) -> Identity {
    let peer = unmap(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return Identity {
            client: peer,
            forwarded_for: peer.to_string(),
        };
    }
    // Several lines are one list, in order (RFC 9110 §5.3).
    let hops: Vec<&str> = xff
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    let client = hops
        .iter()
        .rev()
        .map(|h| h.parse::<IpAddr>().map(unmap))
        // An entry that is not an address ends what can be believed: the peer is the client.
        .map_while(Result::ok)
        .find(|ip| !is_trusted(*ip))
        .unwrap_or(peer);
    let mut forwarded_for = hops.join(", ");
    if !forwarded_for.is_empty() {
        forwarded_for.push_str(", ");
    }
    // Formatted into the buffer: no second allocation on the request path.
    let _ = std::fmt::Write::write_fmt(&mut forwarded_for, format_args!("{peer}"));
    Identity {
        client,
        forwarded_for,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trusted() -> Vec<Cidr> {
        ["10.0.0.0/8", "192.168.1.7", "fd00::/8"]
            .iter()
            .map(|c| Cidr::parse(c).unwrap())
            .collect()
    }

    #[test]
    fn blocks_parse_and_contain() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains(ip("10.255.0.1")) && !c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped");
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(!Cidr::parse("0.0.0.0/0").unwrap().contains(ip("::1")));
        assert!(Cidr::parse("2001:db8::/32")
            .unwrap()
            .contains(ip("2001:db8::9")));
        for bad in [
            "10.0.0.0/33",
            "10.0.0.1/8",
            "x/8",
            "10.0.0.0/",
            "",
            "::/129",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Cidr::parse("192.168.1.7").unwrap().to_string(),
            "192.168.1.7/32"
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_client_and_its_forwarded_for_is_replaced() {
        let id = resolve(
            ip("203.0.113.9"),
            ["1.1.1.1, 6.6.6.6"].into_iter(),
            &trusted(),
        );
        assert_eq!(id.client, ip("203.0.113.9"));
        assert_eq!(id.forwarded_for, "203.0.113.9");
        let none = resolve(ip("203.0.113.9"), std::iter::empty(), &[]);
        assert_eq!(none.forwarded_for, "203.0.113.9");
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        // client 198.51.100.4 -> lb 10.1.1.1 -> lb 192.168.1.7 (the peer)
        let lines = ["6.6.6.6, 198.51.100.4", "10.1.1.1"];
        let id = resolve(ip("192.168.1.7"), lines.into_iter(), &trusted());
        assert_eq!(id.client, ip("198.51.100.4"));
        assert_eq!(
            id.forwarded_for,
            "6.6.6.6, 198.51.100.4, 10.1.1.1, 192.168.1.7"
        );
        // Only trusted hops: the left-most one is as far as we can see.
        let id = resolve(ip("10.0.0.2"), ["10.0.0.1"].into_iter(), &trusted());
        assert_eq!(id.client, ip("10.0.0.2"));
        // Garbage ends what is believed.
        let id = resolve(
            ip("10.0.0.2"),
            ["1.2.3.4, junk, 10.0.0.1"].into_iter(),
            &trusted(),
        );
        assert_eq!(id.client, ip("10.0.0.2"));
        // No header from a trusted peer: the peer.
        let id = resolve(ip("10.0.0.2"), std::iter::empty(), &trusted());
        assert_eq!(
            (id.client, id.forwarded_for.as_str()),
            (ip("10.0.0.2"), "10.0.0.2")
        );
    }
}
