//! Where callbacks may connect. A receiver's URL comes from a merchant, so it
//! may name a host inside the operator's network. Names are resolved once,
//! by the HTTP client's own resolver, which drops every blocked address: the
//! addresses checked are the addresses connected to, so a name that answers
//! a public address to a check and a private one to the connect (DNS
//! rebinding) gets nowhere.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, RwLock};

/// Addresses that are not on the public internet: loopback, private,
/// shared (CGNAT), link-local, benchmarking, reserved, multicast, and the
/// IPv6 forms that carry or translate IPv4 (mapped, compatible, NAT64,
/// 6to4).
pub fn is_blocked(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            a == 0 // 0.0.0.0/8: "this network"
                || a == 10
                || a == 100 && (b & 0xc0) == 64 // 100.64.0.0/10: shared (CGNAT)
                || a == 127
                || a == 169 && b == 254
                || a == 172 && (b & 0xf0) == 16
                || a == 192 && b == 0 && c == 0 // 192.0.0.0/24: protocol assignments
                || a == 192 && b == 168
                || a == 198 && (b & 0xfe) == 18 // 198.18.0.0/15: benchmarking
                || a >= 224 // 224.0.0.0/4 multicast, 240.0.0.0/4 reserved, broadcast
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_blocked(IpAddr::V4(v4));
            }
            let s = v6.segments();
            s[..6] == [0; 6] // ::/96: unspecified, loopback, IPv4-compatible
                || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] // 64:ff9b::/96: NAT64
                || s[..3] == [0x64, 0xff9b, 1] // 64:ff9b:1::/48: local NAT64
                || s[..4] == [0x100, 0, 0, 0] // 100::/64: discard
                || s[0] == 0x2002 // 2002::/16: 6to4
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local
                || (s[0] & 0xff00) == 0xff00 // multicast
        }
    }
}

pub type Lookup = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Looks up the addresses of a host name.
pub trait Dns: Send + Sync + 'static {
    fn lookup(&self, host: &str) -> Lookup;
}

/// The operating system's resolver.
pub struct SystemDns;

impl Dns for SystemDns {
    fn lookup(&self, host: &str) -> Lookup {
        let host = host.to_string();
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// The callback client's resolver: looks a name up and keeps only the
/// addresses that are not blocked (all of them when the operator allows
/// private receivers).
pub(crate) struct CheckedResolver {
    dns: RwLock<Arc<dyn Dns>>,
    allow_private: bool,
}

impl CheckedResolver {
    pub(crate) fn new(allow_private: bool) -> CheckedResolver {
        CheckedResolver {
            dns: RwLock::new(Arc::new(SystemDns)),
            allow_private,
        }
    }

    pub(crate) fn set_dns(&self, dns: Arc<dyn Dns>) {
        *self.dns.write().expect("the DNS lock is never poisoned") = dns;
    }
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let dns = self
            .dns
            .read()
            .expect("the DNS lock is never poisoned")
            .clone();
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found = dns
                .lookup(&host)
                .await
                .map_err(|e| format!("resolve {host}: {e}"))?;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|ip| allow_private || !is_blocked(*ip))
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            if allowed.is_empty() {
                return Err(format!("refused: {host} resolves to no public address").into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An error with every cause behind it, on one line: the client's errors
/// hide theirs (a refused address, a timeout) in their sources.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_ranges() {
        for ip in [
            // 0.0.0.0/8, the RFC 1918 ranges, loopback, link-local
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.0.1",
            "127.0.0.1",
            "127.255.0.9",
            "169.254.1.1",
            // 100.64.0.0/10
            "100.64.0.1",
            "100.127.255.255",
            // 192.0.0.0/24, 198.18.0.0/15
            "192.0.0.8",
            "198.18.0.1",
            "198.19.255.255",
            // multicast, 240.0.0.0/4, broadcast
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            // ::/96: unspecified, loopback, IPv4-compatible
            "::",
            "::1",
            "::7f00:1",
            "::808:808",
            // IPv4-mapped: blocked when the IPv4 address is
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:100.64.0.1",
            "::ffff:198.18.0.1",
            // 64:ff9b::/96 and 64:ff9b:1::/48 (NAT64), 100::/64, 2002::/16
            "64:ff9b::7f00:1",
            "64:ff9b::808:808",
            "64:ff9b:1::1",
            "100::1",
            "2002:7f00:1::1",
            "2002:808:808::1",
            // unique local, link-local, site-local, multicast
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(is_blocked(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "::ffff:8.8.8.8",
            "2001:4860:4860::8888",
            "64:ff9c::1",
            "2003::1",
        ] {
            assert!(!is_blocked(ip.parse().unwrap()), "{ip}");
        }
    }
}
