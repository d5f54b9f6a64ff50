//! The client address a request is rate-limited by: the socket peer, or behind
//! trusted reverse proxies the address they forwarded in `X-Forwarded-For`.
//!
//! Each proxy appends the address it received the request from, so only the
//! right-most entries were written by proxies; anything left of them the client
//! wrote itself and may have made up. The address is taken from the right, as
//! nginx's `real_ip_recursive` does, never from the left.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use super::AppState;

/// Which peers are reverse proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TrustedProxies {
    /// None: the socket peer is the client (the default).
    #[default]
    None,
    /// Every peer is a proxy, behind this many proxies in all: the client is the
    /// entry this many places from the right.
    Hops(u8),
    /// Peers in these ranges are proxies: the client is the right-most entry
    /// outside them.
    Networks(Vec<IpNet>),
}

impl TrustedProxies {
    /// Whether connections from `peer` come through a proxy (so the peer's own
    /// address says nothing about the client, and per-address caps skip it).
    pub fn is_proxy(&self, peer: IpAddr) -> bool {
        match self {
            TrustedProxies::None => false,
            TrustedProxies::Hops(_) => true,
            TrustedProxies::Networks(networks) => contains(networks, peer),
        }
    }

    /// The client's address for a request from `peer` with `headers`. Falls back
    /// to the peer when the header is missing or the entry it points at is not an
    /// address, so a client can never choose its own.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.is_proxy(peer) {
            return peer;
        }
        let entries = forwarded_for(headers);
        let found = match self {
            TrustedProxies::None => None,
            TrustedProxies::Hops(hops) => {
                let from_right = usize::from(*hops);
                entries.len().checked_sub(from_right).and_then(|index| entries.get(index)).copied().flatten()
            }
            TrustedProxies::Networks(networks) => {
                let mut client = None;
                for entry in entries.iter().rev() {
                    match entry {
                        Some(address) if contains(networks, *address) => client = Some(*address),
                        Some(address) => return *address,
                        // Written by the client, or garbled: nothing left of it is believed.
                        None => break,
                    }
                }
                client
            }
        };
        found.unwrap_or(peer)
    }
}

fn contains(networks: &[IpNet], address: IpAddr) -> bool {
    let address = canonical(address);
    networks.iter().any(|network| network.contains(&address))
}

/// IPv4-mapped IPv6 addresses as the IPv4 address they carry.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        IpAddr::V4(_) => address,
    }
}

/// Every `X-Forwarded-For` entry in order, across repeated headers; `None` for an
/// entry that is not an IP address (with or without a port).
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| value.to_str().unwrap_or("garbled").split(','))
        .map(|entry| {
            let entry = entry.trim();
            entry
                .parse::<IpAddr>()
                .ok()
                .or_else(|| entry.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
                .map(canonical)
        })
        .collect()
}

/// The block of addresses one client holds, which limits are kept for: IPv4 as
/// is, IPv6 by its /64 (one home or one server usually holds a whole /64),
/// IPv4-mapped IPv6 addresses as the IPv4 address.
pub fn address_block(address: IpAddr) -> IpAddr {
    match canonical(address) {
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            IpAddr::V6(Ipv6Addr::new(segments[0], segments[1], segments[2], segments[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// The client's address, used only for rate limits, in memory; never stored or logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(addr)| addr.ip());
        Ok(ClientAddress(state.options.trusted_proxies.client_address(peer, &parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let spoofed = headers(&["203.0.113.7"]);
        assert_eq!(TrustedProxies::None.client_address(ip("198.51.100.1"), &spoofed), ip("198.51.100.1"));
    }

    #[test]
    fn one_hop_takes_the_entry_the_proxy_appended_not_the_clients_own() {
        let one = TrustedProxies::Hops(1);
        let proxy = ip("10.0.0.2");
        // The client sent `X-Forwarded-For: 1.2.3.4`; the proxy appended the real address.
        assert_eq!(one.client_address(proxy, &headers(&["1.2.3.4, 203.0.113.7"])), ip("203.0.113.7"));
        assert_eq!(one.client_address(proxy, &headers(&["1.2.3.4", "203.0.113.7"])), ip("203.0.113.7"));
        assert_eq!(one.client_address(proxy, &headers(&["[2001:db8::1]:443"])), ip("2001:db8::1"));
        // No header, or garbage where the address should be: the proxy's own bucket.
        assert_eq!(one.client_address(proxy, &HeaderMap::new()), proxy);
        assert_eq!(one.client_address(proxy, &headers(&["1.2.3.4, unknown"])), proxy);
        let two = TrustedProxies::Hops(2);
        assert_eq!(two.client_address(proxy, &headers(&["1.2.3.4, 203.0.113.7, 10.0.0.9"])), ip("203.0.113.7"));
        assert_eq!(two.client_address(proxy, &headers(&["203.0.113.7"])), proxy, "fewer entries than hops");
    }

    #[test]
    fn proxy_networks_skip_trusted_entries_from_the_right() {
        let trusted = TrustedProxies::Networks(vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()]);
        let proxy = ip("10.0.0.2");
        let forwarded = headers(&["1.2.3.4, 203.0.113.7, 10.1.1.1"]);
        assert_eq!(trusted.client_address(proxy, &forwarded), ip("203.0.113.7"));
        // A peer outside the ranges is the client, whatever it says.
        assert_eq!(trusted.client_address(ip("198.51.100.1"), &forwarded), ip("198.51.100.1"));
        // Only proxies all the way: the left-most of them.
        assert_eq!(trusted.client_address(proxy, &headers(&["10.9.9.9, 10.1.1.1"])), ip("10.9.9.9"));
        assert_eq!(trusted.client_address(proxy, &headers(&["garbage, 10.1.1.1"])), ip("10.1.1.1"));
        assert_eq!(trusted.client_address(ip("::ffff:10.0.0.3"), &forwarded), ip("203.0.113.7"));
        assert!(trusted.is_proxy(ip("fd12::1")) && !trusted.is_proxy(ip("2001:db8::1")));
    }
}
