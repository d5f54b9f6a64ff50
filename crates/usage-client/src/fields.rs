//! The one way the module reads a dynamically typed value: the options a
//! JavaScript caller passes and the answers the platform's `JSON.parse` returns.
//!
//! A type lists its properties once ([`FromFields`]), each read with the rule it
//! must follow; an error names the path to the offending property
//! (`retry.timeoutMs`, `results[2].status`) and the rule. The value itself is
//! anything that implements [`DynamicValue`]: a JavaScript value in the wasm shell,
//! a `serde_json::Value` here, so the rules and messages tested with `cargo test`
//! are the ones the browser runs.
//!
//! JavaScript's rules: a property whose value is `undefined` is absent; a whole
//! number is an integer (so `5` fits a `u32` and `5.5` does not).

use std::fmt;

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
    /// `text` parsed as JSON by the platform, or `None` when it is not JSON.
    fn parse_json(text: &str) -> Option<Self>;
    /// What the value holds.
    fn read(self) -> Dynamic<Self>;
    /// The property `name` of an object; `None` when it is missing or `self` is
    /// not an object. (One lookup, where [`DynamicValue::read`] lists them all.)
    fn property(&self, name: &str) -> Option<Self>;
}

/// Why a value is not what was asked for, and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The path to the offending property (`retry.timeoutMs`, `results[2].status`);
    /// empty for the value itself.
    pub path: String,
    /// The rule it breaks.
    pub rule: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.rule)
        } else {
            write!(f, "{}: {}", self.path, self.rule)
        }
    }
}

impl std::error::Error for FieldError {}

/// The largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A type read from an object's properties one by one (options, and the few
/// answers the module itself needs). Cheaper in the wasm build than serde's
/// derive, whose visitor code is generated per type and per field type.
pub trait FromFields: Sized {
    /// Reads `Self` from `fields`; properties it does not ask for are ignored.
    ///
    /// # Errors
    /// The first property that breaks its rule.
    fn from_fields<V: DynamicValue>(fields: &mut Fields<V>) -> Result<Self, FieldError>;
}

/// Reads a `T` from `value`, which must be an object.
///
/// # Errors
/// `value` is not an object, or a property breaks its rule.
pub fn read_object<T: FromFields, V: DynamicValue>(value: V) -> Result<T, FieldError> {
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
    fn of(value: Dynamic<V>, path: String) -> Result<Self, FieldError> {
        match value {
            Dynamic::Record(entries) => Ok(Fields { entries, path }),
            other => Err(FieldError { path, rule: format!("invalid type: {}, expected an object", describe(&other)) }),
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

    fn wrong(&self, name: &str, value: &Dynamic<V>, problem: &str, expected: &str) -> FieldError {
        FieldError { path: self.path_of(name), rule: format!("{problem}: {}, expected {expected}", describe(value)) }
    }

    /// A string.
    pub fn string(&mut self, name: &str) -> Result<Option<String>, FieldError> {
        match self.take(name) {
            Dynamic::Absent | Dynamic::Null => Ok(None),
            Dynamic::Text(text) => Ok(Some(text)),
            other => Err(self.wrong(name, &other, "invalid type", "a string")),
        }
    }

    /// A string, or `null` told apart from absent: `None` absent, `Some(None)` null.
    pub fn nullable_string(&mut self, name: &str) -> Result<Option<Option<String>>, FieldError> {
        match self.take(name) {
            Dynamic::Absent => Ok(None),
            Dynamic::Null => Ok(Some(None)),
            Dynamic::Text(text) => Ok(Some(Some(text))),
            other => Err(self.wrong(name, &other, "invalid type", "a string or null")),
        }
    }

    /// `true` or `false`.
    pub fn bool(&mut self, name: &str) -> Result<Option<bool>, FieldError> {
        match self.take(name) {
            Dynamic::Absent | Dynamic::Null => Ok(None),
            Dynamic::Bool(value) => Ok(Some(value)),
            other => Err(self.wrong(name, &other, "invalid type", "a boolean")),
        }
    }

    /// Any number.
    pub fn number(&mut self, name: &str) -> Result<Option<f64>, FieldError> {
        match self.take(name) {
            Dynamic::Absent | Dynamic::Null => Ok(None),
            Dynamic::Number(n) => Ok(Some(n)),
            other => Err(self.wrong(name, &other, "invalid type", "a number")),
        }
    }

    /// A whole number from 0 to `u32::MAX`.
    pub fn u32(&mut self, name: &str) -> Result<Option<u32>, FieldError> {
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
    pub fn choice<T: Copy>(&mut self, name: &str, choices: &[(&str, T)]) -> Result<Option<T>, FieldError> {
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
                    Err(FieldError { path: self.path_of(name), rule })
                }
            },
            other => Err(self.wrong(name, &other, "invalid type", "a string")),
        }
    }

    /// An object read as `T`.
    pub fn object<T: FromFields>(&mut self, name: &str) -> Result<Option<T>, FieldError> {
        match self.take(name) {
            Dynamic::Absent | Dynamic::Null => Ok(None),
            other => T::from_fields(&mut Fields::of(other, self.path_of(name))?).map(Some),
        }
    }

    /// An array of objects read as `T`.
    pub fn list<T: FromFields>(&mut self, name: &str) -> Result<Option<Vec<T>>, FieldError> {
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

/// A value as an error message names it, as serde words it, except that a float
/// is not printed (Rust's float formatting alone costs the wasm build ~14 KB gzip).
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

/// Parsed JSON: for native programs, and the tests of every rule.
impl DynamicValue for serde_json::Value {
    fn parse_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, PartialEq)]
    struct Item {
        count: Option<u32>,
    }

    impl FromFields for Item {
        fn from_fields<V: DynamicValue>(fields: &mut Fields<V>) -> Result<Self, FieldError> {
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
        fn from_fields<V: DynamicValue>(fields: &mut Fields<V>) -> Result<Self, FieldError> {
            Ok(Options {
                host: fields.nullable_string("host")?,
                level: fields.choice("level", &[("low", 1), ("high", 2)])?,
                nested: fields.object("nested")?,
                items: fields.list("items")?,
                since: fields.number("since")?,
            })
        }
    }

    fn read(value: serde_json::Value) -> Result<Options, FieldError> {
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
