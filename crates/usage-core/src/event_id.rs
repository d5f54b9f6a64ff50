//! Event ids: the client-generated UUID that makes a registration idempotent.

use std::fmt;

use crate::ValidationError;

/// A UUID in its canonical lower-case text form. The same id goes on every retry
/// of one registration, so the server counts it once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventId(String);

impl EventId {
    /// Checks the 8-4-4-4-12 hex form (any case) and lower-cases it.
    ///
    /// # Errors
    /// `None` when the text is not a UUID.
    pub fn parse(text: &str) -> Option<EventId> {
        let bytes = text.as_bytes();
        let well_formed = bytes.len() == 36
            && bytes.iter().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => *b == b'-',
                _ => b.is_ascii_hexdigit(),
            });
        well_formed.then(|| EventId(text.to_ascii_lowercase()))
    }

    /// [`EventId::parse`] with the error every caller reports.
    ///
    /// # Errors
    /// [`ValidationError::InvalidEventId`] naming `eventId` and the rule.
    pub fn validate(text: &str) -> Result<EventId, ValidationError> {
        EventId::parse(text).ok_or_else(|| ValidationError::invalid_event_id(text))
    }

    /// A version 4 (random) UUID from 16 random bytes.
    pub fn from_random_bytes(bytes: [u8; 16]) -> EventId {
        EventId::with_version(bytes, 4)
    }

    /// A version 7 UUID (RFC 9562): `unix_ms` in its first 48 bits, then 74 of
    /// `random`'s bits. Ids made later sort later, so the server's unique index
    /// takes each new one at its end instead of in a random leaf (fewer pages
    /// written per event; see the server's README). The time is the event's
    /// creation, which the server records anyway.
    pub fn from_time_and_random(unix_ms: u64, random: [u8; 16]) -> EventId {
        let mut bytes = random;
        bytes[..6].copy_from_slice(&unix_ms.to_be_bytes()[2..]);
        EventId::with_version(bytes, 7)
    }

    /// The canonical text of `bytes` with the version nibble set to `version`
    /// and the RFC 9562 variant.
    fn with_version(mut bytes: [u8; 16], version: u8) -> EventId {
        bytes[6] = (bytes[6] & 0x0f) | (version << 4);
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(36);
        for (i, byte) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                text.push('-');
            }
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        EventId(text)
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_uuids_in_any_case_and_normalises() {
        let id = EventId::parse("123E4567-E89B-42D3-A456-426614174000").unwrap();
        assert_eq!(id.as_str(), "123e4567-e89b-42d3-a456-426614174000");
    }

    #[test]
    fn rejects_what_is_not_a_uuid() {
        for text in [
            "",
            "123e4567e89b42d3a456426614174000",
            "123e4567-e89b-42d3-a456-42661417400g",
            "{123e4567-e89b-42d3-a456-426614174000}",
            "123e4567-e89b-42d3-a456_426614174000",
        ] {
            assert!(EventId::parse(text).is_none(), "{text}");
        }
    }

    proptest! {
        #[test]
        fn random_ids_are_v4_uuids(bytes in any::<[u8; 16]>()) {
            let id = EventId::from_random_bytes(bytes);
            prop_assert!(EventId::parse(id.as_str()).is_some());
            let s = id.as_str();
            prop_assert_eq!(&s[14..15], "4");
            prop_assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
        }

        #[test]
        fn time_ordered_ids_are_v7_uuids_that_sort_by_time(
            earlier in 0u64..(1 << 48), later_by in 1u64..1_000_000, a in any::<[u8; 16]>(), b in any::<[u8; 16]>()
        ) {
            let later = (earlier + later_by).min((1 << 48) - 1);
            prop_assume!(later > earlier);
            let first = EventId::from_time_and_random(earlier, a);
            let second = EventId::from_time_and_random(later, b);
            for id in [&first, &second] {
                let s = id.as_str();
                prop_assert!(EventId::parse(s).is_some());
                prop_assert_eq!(&s[14..15], "7");
                prop_assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
            }
            prop_assert!(first.as_str() < second.as_str(), "{} !< {}", first, second);
            let hex: String = first.as_str().chars().filter(|c| *c != '-').take(12).collect();
            prop_assert_eq!(u64::from_str_radix(&hex, 16).unwrap(), earlier);
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,40}") {
            let _ = EventId::parse(&text);
        }
    }
}
