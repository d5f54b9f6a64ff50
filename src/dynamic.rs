//! Reading typed values out of dynamically typed ones, JavaScript's way: the
//! options a caller passes and the answers `JSON.parse` returns.
//!
//! One serde `Deserializer` over any [`DynamicValue`]: a `JsValue` in the wasm
//! build (read through `Reflect`, no JSON text in between) and a
//! `serde_json::Value` natively, so the rules and messages tested with `cargo
//! test` are the ones the browser runs. It replaces `serde-wasm-bindgen`'s
//! deserializer and `serde_path_to_error` for two reasons of size: its errors
//! never format a float (Rust's float formatting alone costs ~14 KB gzip), and it
//! keeps the path to the offending field itself.
//!
//! JavaScript's rules: a property whose value is `undefined` is absent; a whole
//! number is an integer (so `5` fits a `u32` and `5.5` does not).

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Unexpected, Visitor};

/// What a dynamically typed value holds, one level deep.
#[derive(Debug, Clone)]
pub enum Dynamic<V> {
    /// `undefined` (or a property that is not there).
    Absent,
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    Text(String),
    /// An array's elements.
    List(Vec<V>),
    /// An object's own enumerable properties, in order.
    Record(Vec<(String, V)>),
    /// Anything else (a function, a symbol, a bigint), by its kind.
    Other(&'static str),
}

/// A value whose type is known only when it is read.
pub trait DynamicValue: Sized {
    /// What the value holds.
    fn read(self) -> Dynamic<Self>;
    /// The property `name` of an object; `None` when it is missing or `self` is
    /// not an object. (One lookup, where [`DynamicValue::read`] lists them all.)
    fn property(&self, name: &str) -> Option<Self>;
}

/// Why a value is not what was asked for, and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicError {
    /// The path to the offending field (`retry.timeoutMs`, `origins[2].origin`);
    /// empty for the value itself.
    pub path: String,
    /// The rule it breaks, as serde states it.
    pub rule: String,
}

impl DynamicError {
    /// Puts `segment` (a property name or `[index]`) in front of the path.
    fn within(mut self, segment: &str) -> Self {
        self.path = match (self.path.is_empty(), segment.starts_with('[')) {
            (true, _) => segment.to_owned(),
            (false, _) if self.path.starts_with('[') => format!("{segment}{}", self.path),
            (false, _) => format!("{segment}.{}", self.path),
        };
        self
    }
}

impl fmt::Display for DynamicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.rule)
        } else {
            write!(f, "{}: {}", self.path, self.rule)
        }
    }
}

impl std::error::Error for DynamicError {}

impl de::Error for DynamicError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        DynamicError { path: String::new(), rule: message.to_string() }
    }

    // serde's own versions display the unexpected value, floats included.
    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::custom(format_args!("invalid type: {}, expected {expected}", Described(&unexpected)))
    }

    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::custom(format_args!("invalid value: {}, expected {expected}", Described(&unexpected)))
    }
}

/// An unexpected value as serde words it, except that a float is not printed.
struct Described<'a>(&'a Unexpected<'a>);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self.0 {
            Unexpected::Bool(value) => write!(f, "boolean `{value}`"),
            Unexpected::Unsigned(value) => write!(f, "integer `{value}`"),
            Unexpected::Signed(value) => write!(f, "integer `{value}`"),
            Unexpected::Float(_) => f.write_str("a number with a fraction"),
            Unexpected::Str(value) => write!(f, "string \"{value}\""),
            Unexpected::Unit => f.write_str("null"),
            Unexpected::Option => f.write_str("an optional value"),
            Unexpected::Seq => f.write_str("an array"),
            Unexpected::Map => f.write_str("an object"),
            Unexpected::Other(other) => f.write_str(other),
            _ => f.write_str("another type"),
        }
    }
}

/// Reads a `T` out of `value`.
///
/// # Errors
/// The first rule `value` breaks, with the path to it.
pub fn from_value<T: DeserializeOwned, V: DynamicValue>(value: V) -> Result<T, DynamicError> {
    T::deserialize(Deserializer(value.read()))
}

/// The largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// serde's view of one [`DynamicValue`], read one level deep.
struct Deserializer<V>(Dynamic<V>);

impl<'de, D: DynamicValue> de::Deserializer<'de> for Deserializer<D> {
    type Error = DynamicError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        match self.0 {
            Dynamic::Absent | Dynamic::Null => visitor.visit_unit(),
            Dynamic::Bool(value) => visitor.visit_bool(value),
            Dynamic::Number(n) if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER => {
                if n >= 0.0 {
                    visitor.visit_u64(n as u64)
                } else {
                    visitor.visit_i64(n as i64)
                }
            }
            Dynamic::Number(n) => visitor.visit_f64(n),
            Dynamic::Text(text) => visitor.visit_string(text),
            Dynamic::List(items) => visitor.visit_seq(Items { items: items.into_iter(), index: 0 }),
            Dynamic::Record(entries) => visitor.visit_map(Entries::new(entries)),
            Dynamic::Other(kind) => Err(de::Error::invalid_type(Unexpected::Other(kind), &visitor)),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        match self.0 {
            Dynamic::Bool(value) => visitor.visit_bool(value),
            other => Err(wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        match self.0 {
            Dynamic::Number(n) if n.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(&n) => {
                visitor.visit_u64(n as u64)
            }
            Dynamic::Number(n) if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER => visitor.visit_i64(n as i64),
            other => Err(wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        match self.0 {
            Dynamic::Number(n) => visitor.visit_f64(n),
            other => Err(wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        match self.0 {
            Dynamic::Text(text) => visitor.visit_string(text),
            other => Err(wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        match self.0 {
            Dynamic::List(items) => visitor.visit_seq(Items { items: items.into_iter(), index: 0 }),
            other => Err(wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        match self.0 {
            Dynamic::Record(entries) => visitor.visit_map(Entries::new(entries)),
            other => Err(wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DynamicError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        match self.0 {
            Dynamic::Absent | Dynamic::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DynamicError> {
        // Only unit variants cross the API, as their names.
        match self.0 {
            Dynamic::Text(text) => visitor.visit_enum(text.into_deserializer()),
            other => Err(wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DynamicError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        visitor.visit_unit()
    }

    // Each kind reads only its own shape (a struct never as an array, a number
    // never as a string): code for the others would be generated per type and
    // never run.
    serde::forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf unit unit_struct tuple tuple_struct
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        self.deserialize_f64(visitor)
    }
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        self.deserialize_string(visitor)
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DynamicError> {
        self.deserialize_string(visitor)
    }
}

/// The error for a value of the wrong kind, worded as serde words it.
fn wrong_type<D>(value: &Dynamic<D>, expected: &dyn de::Expected) -> DynamicError {
    de::Error::custom(format_args!("invalid type: {}, expected {expected}", describe(value)))
}

/// An array's elements, for serde.
struct Items<I> {
    items: I,
    index: usize,
}

impl<'de, V: DynamicValue, I: Iterator<Item = V>> de::SeqAccess<'de> for Items<I> {
    type Error = DynamicError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DynamicError> {
        let Some(item) = self.items.next() else { return Ok(None) };
        let index = self.index;
        self.index += 1;
        seed.deserialize(Deserializer(item.read())).map(Some).map_err(|err| err.within(&format!("[{index}]")))
    }
}

/// An object's properties, for serde; those whose value is `undefined` are skipped.
struct Entries<V> {
    entries: std::vec::IntoIter<(String, V)>,
    /// The property whose value comes next.
    current: Option<(String, Dynamic<V>)>,
}

impl<V: DynamicValue> Entries<V> {
    fn new(entries: Vec<(String, V)>) -> Self {
        Entries { entries: entries.into_iter(), current: None }
    }
}

impl<'de, V: DynamicValue> de::MapAccess<'de> for Entries<V> {
    type Error = DynamicError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DynamicError> {
        for (key, value) in self.entries.by_ref() {
            let value = value.read();
            if matches!(value, Dynamic::Absent) {
                continue;
            }
            let read =
                seed.deserialize(key.as_str().into_deserializer()).map_err(|err: DynamicError| err.within(&key))?;
            self.current = Some((key, value));
            return Ok(Some(read));
        }
        Ok(None)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, DynamicError> {
        let Some((key, value)) = self.current.take() else {
            return Err(de::Error::custom("a value was read before its key"));
        };
        seed.deserialize(Deserializer(value)).map_err(|err| err.within(&key))
    }
}

/// A type read from an object's properties one by one (options, and the few
/// answers the module itself needs). Cheaper in the wasm build than serde's
/// derive, whose visitor code is generated per type and per field type.
pub trait FromFields: Sized {
    /// Reads `Self` from `fields`; properties it does not ask for are ignored.
    ///
    /// # Errors
    /// The first property that breaks its rule.
    fn from_fields<V: DynamicValue>(fields: &mut Fields<V>) -> Result<Self, DynamicError>;
}

/// Reads a `T` from `value`, which must be an object.
///
/// # Errors
/// `value` is not an object, or a property breaks its rule.
pub fn read_object<T: FromFields, V: DynamicValue>(value: V) -> Result<T, DynamicError> {
    T::from_fields(&mut Fields::of(value.read(), String::new())?)
}

/// An object's properties, each taken once with the rule it must follow.
/// Absent, `undefined` and `null` all read as `None` unless said otherwise.
pub struct Fields<V> {
    entries: Vec<(String, V)>,
    /// Where the object sits (`retry`), empty at the top.
    path: String,
}

impl<V: DynamicValue> Fields<V> {
    // Not inlined into each options type's reader: one copy saves ~100 B apiece.
    #[inline(never)]
    fn of(value: Dynamic<V>, path: String) -> Result<Self, DynamicError> {
        match value {
            Dynamic::Record(entries) => Ok(Fields { entries, path }),
            other => {
                Err(DynamicError { path, rule: format!("invalid type: {}, expected an object", describe(&other)) })
            }
        }
    }

    /// The property `name`, read (absent when missing).
    fn take(&mut self, name: &str) -> Dynamic<V> {
        match self.entries.iter().position(|(key, _)| key == name) {
            Some(at) => self.entries.swap_remove(at).1.read(),
            None => Dynamic::Absent,
        }
    }

    fn path_of(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    fn wrong(&self, name: &str, value: &Dynamic<V>, problem: &str, expected: &str) -> DynamicError {
        DynamicError { path: self.path_of(name), rule: format!("{problem}: {}, expected {expected}", describe(value)) }
    }

    /// A string.
    pub fn string(&mut self, name: &str) -> Result<Option<String>, DynamicError> {
        match self.take(name) {
            Dynamic::Absent | Dynamic::Null => Ok(None),
            Dynamic::Text(text) => Ok(Some(text)),
            other => Err(self.wrong(name, &other, "invalid type", "a string")),
        }
    }

    /// A string, or `null` told apart from absent: `None` absent, `Some(None)` null.
    pub fn nullable_string(&mut self, name: &str) -> Result<Option<Option<String>>, DynamicError> {
        match self.take(name) {
            Dynamic::Absent => Ok(None),
            Dynamic::Null => Ok(Some(None)),
            Dynamic::Text(text) => Ok(Some(Some(text))),
            other => Err(self.wrong(name, &other, "invalid type", "a string or null")),
        }
    }

    /// `true` or `false`.
    pub fn bool(&mut self, name: &str) -> Result<Option<bool>, DynamicError> {
        match self.take(name) {
            Dynamic::Absent | Dynamic::Null => Ok(None),
            Dynamic::Bool(value) => Ok(Some(value)),
            other => Err(self.wrong(name, &other, "invalid type", "a boolean")),
        }
    }

    /// Any number.
    pub fn number(&mut self, name: &str) -> Result<Option<f64>, DynamicError> {
        match self.take(name) {
            Dynamic::Absent | Dynamic::Null => Ok(None),
            Dynamic::Number(n) => Ok(Some(n)),
            other => Err(self.wrong(name, &other, "invalid type", "a number")),
        }
    }

    /// A whole number from 0 to `u32::MAX`.
    pub fn u32(&mut self, name: &str) -> Result<Option<u32>, DynamicError> {
        match self.take(name) {
            Dynamic::Absent | Dynamic::Null => Ok(None),
            Dynamic::Number(n) if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) => Ok(Some(n as u32)),
            other @ Dynamic::Number(_) => {
                Err(self.wrong(name, &other, "invalid value", "a whole number from 0 to 4294967295"))
            }
            other => Err(self.wrong(name, &other, "invalid type", "a number")),
        }
    }

    /// One of `choices`, by name.
    pub fn choice<T: Copy>(&mut self, name: &str, choices: &[(&str, T)]) -> Result<Option<T>, DynamicError> {
        match self.take(name) {
            Dynamic::Absent | Dynamic::Null => Ok(None),
            Dynamic::Text(text) => match choices.iter().find(|(choice, _)| *choice == text) {
                Some(&(_, value)) => Ok(Some(value)),
                None => {
                    let mut rule = format!("unknown variant `{text}`, expected one of ");
                    for (at, (choice, _)) in choices.iter().enumerate() {
                        rule.push_str(if at == 0 { "`" } else { ", `" });
                        rule.push_str(choice);
                        rule.push('`');
                    }
                    Err(DynamicError { path: self.path_of(name), rule })
                }
            },
            other => Err(self.wrong(name, &other, "invalid type", "a string")),
        }
    }

    /// An object read as `T`.
    pub fn object<T: FromFields>(&mut self, name: &str) -> Result<Option<T>, DynamicError> {
        match self.take(name) {
            Dynamic::Absent | Dynamic::Null => Ok(None),
            other => T::from_fields(&mut Fields::of(other, self.path_of(name))?).map(Some),
        }
    }

    /// An array of objects read as `T`.
    pub fn list<T: FromFields>(&mut self, name: &str) -> Result<Option<Vec<T>>, DynamicError> {
        match self.take(name) {
            Dynamic::Absent | Dynamic::Null => Ok(None),
            Dynamic::List(items) => {
                let path = self.path_of(name);
                items
                    .into_iter()
                    .enumerate()
                    .map(|(index, item)| T::from_fields(&mut Fields::of(item.read(), format!("{path}[{index}]"))?))
                    .collect::<Result<Vec<T>, _>>()
                    .map(Some)
            }
            other => Err(self.wrong(name, &other, "invalid type", "an array")),
        }
    }
}

/// A value as an error message names it, as serde words it ([`Described`])
/// except that a float is not printed.
fn describe<V>(value: &Dynamic<V>) -> String {
    match value {
        Dynamic::Absent | Dynamic::Null => "null".to_owned(),
        Dynamic::Bool(value) => format!("boolean `{value}`"),
        Dynamic::Number(n) if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER => format!("integer `{}`", *n as i64),
        Dynamic::Number(_) => "a number with a fraction".to_owned(),
        Dynamic::Text(text) => format!("string \"{text}\""),
        Dynamic::List(_) => "an array".to_owned(),
        Dynamic::Record(_) => "an object".to_owned(),
        Dynamic::Other(kind) => (*kind).to_owned(),
    }
}

/// Natively: parsed JSON (the module's answers, and tests on every target).
#[cfg(any(test, not(target_arch = "wasm32")))]
impl DynamicValue for serde_json::Value {
    fn read(self) -> Dynamic<Self> {
        use serde_json::Value;
        match self {
            Value::Null => Dynamic::Null,
            Value::Bool(value) => Dynamic::Bool(value),
            Value::Number(number) => Dynamic::Number(number.as_f64().unwrap_or(f64::NAN)),
            Value::String(text) => Dynamic::Text(text),
            Value::Array(items) => Dynamic::List(items),
            Value::Object(entries) => Dynamic::Record(entries.into_iter().collect()),
        }
    }

    fn property(&self, name: &str) -> Option<Self> {
        self.as_object()?.get(name).cloned()
    }
}

/// In the browser and Node: any JavaScript value.
#[cfg(target_arch = "wasm32")]
impl DynamicValue for wasm_bindgen::JsValue {
    fn read(self) -> Dynamic<Self> {
        use js_sys::{Array, Object};
        use wasm_bindgen::JsCast;
        // Each check is a call into JavaScript: the likeliest kinds first.
        if let Some(text) = self.as_string() {
            Dynamic::Text(text)
        } else if let Some(value) = self.as_bool() {
            Dynamic::Bool(value)
        } else if let Some(value) = self.as_f64() {
            Dynamic::Number(value)
        } else if self.is_undefined() {
            Dynamic::Absent
        } else if self.is_null() {
            Dynamic::Null
        } else if self.is_function() {
            Dynamic::Other("a function")
        } else if Array::is_array(&self) {
            Dynamic::List(self.unchecked_into::<Array>().iter().collect())
        } else if self.is_object() {
            let entries = Object::entries(self.unchecked_ref::<Object>());
            Dynamic::Record(
                entries
                    .iter()
                    .map(|entry| {
                        let entry = entry.unchecked_into::<Array>();
                        (entry.get(0).as_string().unwrap_or_default(), entry.get(1))
                    })
                    .collect(),
            )
        } else {
            Dynamic::Other("a symbol or bigint")
        }
    }

    fn property(&self, name: &str) -> Option<Self> {
        if !self.is_object() {
            return None;
        }
        js_sys::Reflect::get(self, &wasm_bindgen::JsValue::from_str(name)).ok().filter(|value| !value.is_undefined())
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Inner {
        timeout_ms: Option<u32>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Level {
        Warn,
        Silent,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Outer {
        name: String,
        level: Option<Level>,
        inner: Option<Inner>,
        list: Option<Vec<Inner>>,
        since: Option<f64>,
        on: Option<bool>,
    }

    fn read(value: serde_json::Value) -> Result<Outer, DynamicError> {
        from_value(value)
    }

    #[test]
    fn reads_what_javascript_passes() {
        let outer = read(json!({
            "name": "a", "level": "warn", "inner": {"timeoutMs": 5.0}, "list": [{}, {"timeoutMs": null}],
            "since": 1.5, "extra": [1, {"x": "y"}]
        }))
        .unwrap();
        assert_eq!(outer.name, "a");
        assert_eq!(outer.level, Some(Level::Warn));
        assert_eq!(outer.inner, Some(Inner { timeout_ms: Some(5) }));
        assert_eq!(outer.list.unwrap().len(), 2);
        assert_eq!(outer.since, Some(1.5));
        assert_eq!(read(json!({"name": "b", "since": 7})).unwrap().since, Some(7.0));
    }

    #[test]
    fn errors_name_the_path_and_the_rule_without_printing_floats() {
        let err = read(json!({"name": "a", "inner": {"timeoutMs": 2.5}})).unwrap_err();
        assert_eq!(err.to_string(), "inner.timeoutMs: invalid type: a number with a fraction, expected u32");
        let err = read(json!({"name": "a", "inner": {"timeoutMs": -1}})).unwrap_err();
        assert_eq!(err.to_string(), "inner.timeoutMs: invalid value: integer `-1`, expected u32");
        let err = read(json!({"name": "a", "list": [{}, {"timeoutMs": "5"}]})).unwrap_err();
        assert_eq!(
            (err.path.as_str(), err.rule.as_str()),
            ("list[1].timeoutMs", "invalid type: string \"5\", expected u32")
        );
        let err = read(json!({"name": "a", "level": "loud"})).unwrap_err();
        assert_eq!(err.to_string(), "level: unknown variant `loud`, expected `warn` or `silent`");
        let err = read(json!({"name": "a", "on": "yes"})).unwrap_err();
        assert_eq!(err.to_string(), "on: invalid type: string \"yes\", expected a boolean");
        assert_eq!(read(json!({"level": "warn"})).unwrap_err().to_string(), "missing field `name`");
        assert_eq!(read(json!(true)).unwrap_err().to_string(), "invalid type: boolean `true`, expected struct Outer");
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod field_tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, PartialEq)]
    struct Item {
        count: Option<u32>,
    }

    impl FromFields for Item {
        fn from_fields<V: DynamicValue>(fields: &mut Fields<V>) -> Result<Self, DynamicError> {
            Ok(Item { count: fields.u32("count")? })
        }
    }

    #[derive(Debug, PartialEq)]
    struct Options {
        host: Option<Option<String>>,
        level: Option<u8>,
        nested: Option<Item>,
        items: Option<Vec<Item>>,
        since: Option<f64>,
    }

    impl FromFields for Options {
        fn from_fields<V: DynamicValue>(fields: &mut Fields<V>) -> Result<Self, DynamicError> {
            Ok(Options {
                host: fields.nullable_string("host")?,
                level: fields.choice("level", &[("low", 1), ("high", 2)])?,
                nested: fields.object("nested")?,
                items: fields.list("items")?,
                since: fields.number("since")?,
            })
        }
    }

    fn read(value: serde_json::Value) -> Result<Options, DynamicError> {
        read_object(value)
    }

    #[test]
    fn fields_read_javascript_values_and_ignore_the_rest() {
        let options =
            read(json!({"host": null, "level": "high", "nested": {"count": 3.0}, "items": [{}, {"count": 1}],
            "since": 1.5, "onRegistered": "ignored"}))
            .unwrap();
        assert_eq!(options.host, Some(None), "null is told apart from absent");
        assert_eq!(options.level, Some(2));
        assert_eq!(options.nested, Some(Item { count: Some(3) }));
        assert_eq!(options.items.unwrap(), [Item { count: None }, Item { count: Some(1) }]);
        assert_eq!(options.since, Some(1.5));
        assert_eq!(read(json!({})).unwrap().host, None);
    }

    #[test]
    fn field_errors_name_the_path_and_the_rule_without_printing_floats() {
        let message = |value| read(value).unwrap_err().to_string();
        assert_eq!(
            message(json!({"nested": {"count": 2.5}})),
            "nested.count: invalid value: a number with a fraction, expected a whole number from 0 to 4294967295"
        );
        assert_eq!(
            message(json!({"items": [{}, {"count": -1}]})),
            "items[1].count: invalid value: integer `-1`, expected a whole number from 0 to 4294967295"
        );
        assert_eq!(
            message(json!({"items": [{}, {"count": "1"}]})),
            "items[1].count: invalid type: string \"1\", expected a number"
        );
        assert_eq!(message(json!({"level": "mid"})), "level: unknown variant `mid`, expected one of `low`, `high`");
        assert_eq!(message(json!({"host": 5})), "host: invalid type: integer `5`, expected a string or null");
        assert_eq!(message(json!({"nested": [1]})), "nested: invalid type: an array, expected an object");
        assert_eq!(message(json!(true)), "invalid type: boolean `true`, expected an object");
    }
}
