//! JSON text out, without `serde_json`'s writer in the wasm build: a small serde
//! `Serializer` that writes the JSON of what the API sends and returns (objects,
//! arrays, strings, booleans, integers), byte for byte what `serde_json` writes
//! for them, so the bodies tested natively are the bodies sent. (Answers are
//! parsed by the platform: see [`crate::fields::DynamicValue::parse_json`].)
//!
//! No float is ever formatted: every number on the wire is an integer, and a
//! fractional one is refused rather than pulling Rust's float formatting in.

use std::fmt;

use serde::ser::{self, Impossible, Serialize};

/// A value the JSON writer cannot write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwritable(String);

impl fmt::Display for Unwritable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unwritable {}

impl ser::Error for Unwritable {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Unwritable(message.to_string())
    }
}

/// The JSON of `value`.
///
/// # Errors
/// A fractional or non-finite number, bytes, or an enum variant with data: none
/// is part of the API.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, Unwritable> {
    let mut out = String::with_capacity(128);
    value.serialize(Writer { out: &mut out })?;
    Ok(out)
}

/// Appends `text` as a JSON string, escaped as `serde_json` escapes it.
fn write_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (index, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `get`, not indexing (its panic path costs ~4 KB); an escaped byte is ASCII,
        // so the cut is always on a character boundary.
        out.push_str(text.get(start..index).unwrap_or_default());
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0xf)] as char);
        } else {
            out.push_str(escape);
        }
        start = index + 1;
    }
    out.push_str(text.get(start..).unwrap_or_default());
    out.push('"');
}

/// Writes one value.
struct Writer<'a> {
    out: &'a mut String,
}

/// Writes the members of an object or array, commas between them.
struct Members<'a> {
    out: &'a mut String,
    first: bool,
    close: char,
}

impl Members<'_> {
    fn separate(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.out.push(',');
        }
    }

    fn member<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unwritable> {
        self.separate();
        value.serialize(Writer { out: self.out })
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Unwritable> {
        self.separate();
        write_string(self.out, key);
        self.out.push(':');
        value.serialize(Writer { out: self.out })
    }

    fn close(self) -> Result<(), Unwritable> {
        self.out.push(self.close);
        Ok(())
    }
}

fn unwritable<T>(what: &str) -> Result<T, Unwritable> {
    Err(Unwritable(format!("{what} is not written as JSON by this module")))
}

impl<'a> Writer<'a> {
    fn integer(self, value: impl fmt::Display) -> Result<(), Unwritable> {
        use fmt::Write;
        let _ = write!(self.out, "{value}");
        Ok(())
    }

    fn open(self, open: char, close: char) -> Members<'a> {
        self.out.push(open);
        Members { out: self.out, first: true, close }
    }
}

impl<'a> ser::Serializer for Writer<'a> {
    type Ok = ();
    type Error = Unwritable;
    type SerializeSeq = Members<'a>;
    type SerializeTuple = Members<'a>;
    type SerializeTupleStruct = Members<'a>;
    type SerializeTupleVariant = Impossible<(), Unwritable>;
    type SerializeMap = Members<'a>;
    type SerializeStruct = Members<'a>;
    type SerializeStructVariant = Impossible<(), Unwritable>;

    fn serialize_bool(self, value: bool) -> Result<(), Unwritable> {
        self.out.push_str(if value { "true" } else { "false" });
        Ok(())
    }
    fn serialize_i8(self, value: i8) -> Result<(), Unwritable> {
        self.integer(value)
    }
    fn serialize_i16(self, value: i16) -> Result<(), Unwritable> {
        self.integer(value)
    }
    fn serialize_i32(self, value: i32) -> Result<(), Unwritable> {
        self.integer(value)
    }
    fn serialize_i64(self, value: i64) -> Result<(), Unwritable> {
        self.integer(value)
    }
    fn serialize_u8(self, value: u8) -> Result<(), Unwritable> {
        self.integer(value)
    }
    fn serialize_u16(self, value: u16) -> Result<(), Unwritable> {
        self.integer(value)
    }
    fn serialize_u32(self, value: u32) -> Result<(), Unwritable> {
        self.integer(value)
    }
    fn serialize_u64(self, value: u64) -> Result<(), Unwritable> {
        self.integer(value)
    }
    fn serialize_f32(self, value: f32) -> Result<(), Unwritable> {
        self.serialize_f64(f64::from(value))
    }
    fn serialize_f64(self, value: f64) -> Result<(), Unwritable> {
        // Whole numbers only, as `serde_json` would not write them (it writes `5.0`).
        if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
            self.integer(value as i64)
        } else {
            unwritable("a fractional number")
        }
    }
    fn serialize_char(self, value: char) -> Result<(), Unwritable> {
        write_string(self.out, value.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, value: &str) -> Result<(), Unwritable> {
        write_string(self.out, value);
        Ok(())
    }
    fn serialize_bytes(self, _value: &[u8]) -> Result<(), Unwritable> {
        unwritable("bytes")
    }
    fn serialize_none(self) -> Result<(), Unwritable> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unwritable> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Unwritable> {
        self.out.push_str("null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Unwritable> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<(), Unwritable> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<(), Unwritable> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Unwritable> {
        unwritable("an enum variant with data")
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Members<'a>, Unwritable> {
        Ok(self.open('[', ']'))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Members<'a>, Unwritable> {
        Ok(self.open('[', ']'))
    }
    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Members<'a>, Unwritable> {
        Ok(self.open('[', ']'))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Unwritable> {
        unwritable("an enum variant with data")
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Members<'a>, Unwritable> {
        Ok(self.open('{', '}'))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Members<'a>, Unwritable> {
        Ok(self.open('{', '}'))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Unwritable> {
        unwritable("an enum variant with data")
    }
}

/// Arrays, tuples and tuple structs: each element is one more member.
macro_rules! array_members {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Members<'_> {
            type Ok = ();
            type Error = Unwritable;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unwritable> {
                self.member(value)
            }
            fn end(self) -> Result<(), Unwritable> {
                self.close()
            }
        }
    )*};
}

array_members!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

impl ser::SerializeMap for Members<'_> {
    type Ok = ();
    type Error = Unwritable;
    /// Keys are strings (as JSON's are): anything else is refused.
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unwritable> {
        self.separate();
        let before = self.out.len();
        key.serialize(Writer { out: self.out })?;
        if self.out.as_bytes().get(before) != Some(&b'"') {
            return unwritable("a map key that is not a string");
        }
        self.out.push(':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unwritable> {
        value.serialize(Writer { out: self.out })
    }
    fn end(self) -> Result<(), Unwritable> {
        self.close()
    }
}

impl ser::SerializeStruct for Members<'_> {
    type Ok = ();
    type Error = Unwritable;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Unwritable> {
        self.field(key, value)
    }
    fn end(self) -> Result<(), Unwritable> {
        self.close()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::Serialize;
    use usage_core::wire::{GetUsageRequest, RegisterUsagePointRequest};
    use usage_core::EventKind;

    use super::*;

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Sample {
        text: String,
        list: Vec<Option<i64>>,
        flag: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        kind: EventKind,
        map: std::collections::BTreeMap<String, u64>,
    }

    proptest! {
        #[test]
        fn writes_what_serde_json_writes(
            text in any::<String>(),
            list in proptest::collection::vec(proptest::option::of(any::<i64>()), 0..5),
            flag in any::<bool>(),
            keys in proptest::collection::btree_map(any::<String>(), any::<u64>(), 0..3),
        ) {
            let sample = Sample { text, list, flag, skipped: None, kind: EventKind::WebcodecConversion, map: keys };
            prop_assert_eq!(to_string(&sample).unwrap(), serde_json::to_string(&sample).unwrap());
        }

        #[test]
        fn writes_request_bodies_as_serde_json_does(
            key in proptest::option::of("[ -~]{0,20}"),
            host in proptest::option::of(".{0,20}"),
            since in proptest::option::of(any::<i64>()),
            still in proptest::option::of(any::<bool>()),
        ) {
            let body = RegisterUsagePointRequest {
                event: EventKind::CloudRender,
                api_key: key.clone(),
                host,
                succeeded: true,
                event_id: Some("e".into()),
                is_still: still,
                is_production: None,
            };
            prop_assert_eq!(to_string(&body).unwrap(), serde_json::to_string(&body).unwrap());
            let usage = GetUsageRequest { api_key: key, since };
            prop_assert_eq!(to_string(&usage).unwrap(), serde_json::to_string(&usage).unwrap());
        }
    }

    #[test]
    fn refuses_what_the_api_never_sends() {
        assert_eq!(to_string(&5.0_f64).unwrap(), "5");
        assert!(to_string(&5.5_f64).is_err());
        assert!(to_string(&f64::NAN).is_err());
        assert!(to_string(&std::collections::BTreeMap::from([(1, 2)])).is_err());
    }
}
