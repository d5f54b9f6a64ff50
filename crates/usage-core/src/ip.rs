//! IP addresses in host names: IPv6 parsed, and both written, exactly as the
//! standard library's `FromStr` and `Display` do (the tests compare them on random
//! input), without them: their parser and formatter cost the WebAssembly module
//! about 6 KB, this a fraction of that.

use std::fmt::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::text::split_once_ascii;

/// An IPv6 address as `Ipv6Addr::from_str` reads it: up to eight groups of one to
/// four hex digits, one `::` for a run of zero groups, and optionally a dotted IPv4
/// address in place of the last two groups.
pub fn parse_ipv6(text: &str) -> Option<Ipv6Addr> {
    let (head, tail) = match split_once_ascii(text, b"::") {
        Some((head, tail)) => (head, Some(tail)),
        None => (text, None),
    };
    let mut groups = [0u16; 8];
    let head_count = read_groups(head, &mut groups, tail.is_none())?;
    let Some(tail) = tail else {
        return (head_count == 8).then(|| Ipv6Addr::from(groups));
    };
    if head_count > 7 {
        return None;
    }
    // At least one zero group stands for the `::`.
    let mut tail_groups = [0u16; 8];
    let tail_count = read_groups(tail, &mut tail_groups[..7 - head_count], true)?;
    groups[8 - tail_count..].copy_from_slice(&tail_groups[..tail_count]);
    Some(Ipv6Addr::from(groups))
}

/// Reads `:`-separated groups into `into` (the last two may be a dotted IPv4
/// address when `ipv4_allowed`); how many were read. An empty `text` is none.
fn read_groups(text: &str, into: &mut [u16], ipv4_allowed: bool) -> Option<usize> {
    if text.is_empty() {
        return Some(0);
    }
    let parts: Vec<&str> = text.split(':').collect();
    let mut count = 0;
    for (index, part) in parts.iter().enumerate() {
        let last = index + 1 == parts.len();
        if last && ipv4_allowed && part.contains('.') {
            let [a, b, c, d] = parse_ipv4(part)?.octets();
            let slots = into.get_mut(count..count + 2)?;
            slots.copy_from_slice(&[u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])]);
            return Some(count + 2);
        }
        if part.is_empty() || part.len() > 4 || !part.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return None;
        }
        *into.get_mut(count)? = u16::from_str_radix(part, 16).ok()?;
        count += 1;
    }
    Some(count)
}

/// A dotted IPv4 address as `Ipv4Addr::from_str` reads it: four decimal octets
/// of one to three digits, no leading zero.
fn parse_ipv4(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part.starts_with('0')) {
            return None;
        }
        if !part.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

/// Writes `a.b.c.d`.
pub fn write_ipv4(ip: Ipv4Addr, out: &mut impl Write) -> fmt::Result {
    let [a, b, c, d] = ip.octets();
    write!(out, "{a}.{b}.{c}.{d}")
}

/// Writes an IPv6 address as `Ipv6Addr`'s `Display` does: an IPv4-mapped one as
/// `::ffff:a.b.c.d`, any other in lower-case hex with its longest run of two or
/// more zero groups (the first of equals) written `::`.
pub fn write_ipv6(ip: Ipv6Addr, out: &mut impl Write) -> fmt::Result {
    if let Some(ipv4) = ip.to_ipv4_mapped() {
        out.write_str("::ffff:")?;
        return write_ipv4(ipv4, out);
    }
    let groups = ip.segments();
    let (mut run_start, mut run_len) = (8, 0);
    let mut at = 0;
    while at < 8 {
        let len = groups[at..].iter().take_while(|&&group| group == 0).count();
        if len > run_len {
            (run_start, run_len) = (at, len);
        }
        at += len.max(1);
    }
    if run_len < 2 {
        run_start = 8;
    }
    let mut at = 0;
    while at < 8 {
        if at == run_start {
            out.write_str("::")?;
            at += run_len;
            continue;
        }
        if at > 0 && at != run_start + run_len {
            out.write_char(':')?;
        }
        write!(out, "{:x}", groups[at])?;
        at += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn written(ip: Ipv6Addr) -> String {
        let mut out = String::new();
        write_ipv6(ip, &mut out).unwrap();
        out
    }

    #[test]
    fn known_forms() {
        for text in ["::", "::1", "1::", "fe80::1:2", "2001:db8::8:800:200c:417a", "::ffff:10.0.0.1", "1:0:0:2::3"] {
            let ip: Ipv6Addr = text.parse().unwrap();
            assert_eq!(parse_ipv6(text), Some(ip), "{text}");
            assert_eq!(written(ip), ip.to_string(), "{text}");
        }
        for text in
            ["", ":", ":::", "1:", ":1", "1::2::3", "12345::", "::1.2.3", "::01.2.3.4", "1:2:3:4:5:6:7:8:9", "::g"]
        {
            assert_eq!(parse_ipv6(text), None, "{text}");
            assert!(text.parse::<Ipv6Addr>().is_err(), "std agrees on {text}");
        }
    }

    proptest! {
        #[test]
        fn writes_what_std_writes(groups in proptest::array::uniform8(prop_oneof![Just(0u16), Just(0xffff), any::<u16>()])) {
            let ip = Ipv6Addr::from(groups);
            prop_assert_eq!(written(ip), ip.to_string());
            prop_assert_eq!(parse_ipv6(&ip.to_string()), Some(ip));
        }

        #[test]
        fn reads_what_std_reads(text in "[0-9a-fA-F:.]{0,45}") {
            prop_assert_eq!(parse_ipv6(&text), text.parse::<Ipv6Addr>().ok());
        }

        #[test]
        fn reads_what_std_reads_near_valid_forms(
            groups in proptest::array::uniform8(prop_oneof![Just(0u16), any::<u16>()]),
            cut in 0usize..40,
            noise in "[0-9a-f:.]{0,3}",
        ) {
            let text = Ipv6Addr::from(groups).to_string();
            let cut = cut.min(text.len());
            let text = format!("{}{noise}{}", &text[..cut], &text[cut..]);
            prop_assert_eq!(parse_ipv6(&text), text.parse::<Ipv6Addr>().ok(), "{}", text);
        }

        #[test]
        fn ipv4_reads_and_writes_as_std(text in "[0-9.]{0,16}", ip in any::<u32>()) {
            prop_assert_eq!(parse_ipv4(&text), text.parse::<Ipv4Addr>().ok());
            let ip = Ipv4Addr::from(ip);
            let mut out = String::new();
            write_ipv4(ip, &mut out).unwrap();
            prop_assert_eq!(out, ip.to_string());
        }
    }
}
