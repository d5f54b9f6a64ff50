//! JavaScript values in and out: the one place that reads a `JsValue` as data
//! and turns results and errors into JavaScript values.
//!
//! In: [`Js`] lets `usage-client`'s one reader ([`usage_client::fields`]) read a
//! JavaScript value through `Reflect`, with no JSON text in between; the Rust
//! API's typed answers are read with `serde-wasm-bindgen` instead ([`typed`]).
//! Out: results as plain objects, errors as `Error`s named `UsageTelemetryError`.

use js_sys::{Array, Object, Reflect};
use serde::de::DeserializeOwned;
use usage_client::answers::Registered;
use usage_client::fields::{read_object, Dynamic, DynamicValue, FromFields};
use usage_client::TelemetryError;
use wasm_bindgen::{JsCast, JsValue};

/// A JavaScript value, read as [`DynamicValue`].
#[derive(Debug, Clone)]
pub struct Js(pub JsValue);

impl DynamicValue for Js {
    fn parse_json(text: &str) -> Option<Self> {
        js_sys::JSON::parse(text).ok().map(Js)
    }

    fn read(self) -> Dynamic<Self> {
        let value = self.0;
        // Each check is a call into JavaScript: the likeliest kinds first.
        if let Some(text) = value.as_string() {
            Dynamic::Text(text)
        } else if let Some(flag) = value.as_bool() {
            Dynamic::Bool(flag)
        } else if let Some(number) = value.as_f64() {
            Dynamic::Number(number)
        } else if value.is_undefined() {
            Dynamic::Absent
        } else if value.is_null() {
            Dynamic::Null
        } else if value.is_function() {
            Dynamic::Other("a function")
        } else if Array::is_array(&value) {
            Dynamic::List(value.unchecked_into::<Array>().iter().map(Js).collect())
        } else if value.is_object() {
            let entries = Object::entries(value.unchecked_ref::<Object>());
            Dynamic::Record(
                entries
                    .iter()
                    .map(|entry| {
                        let entry = entry.unchecked_into::<Array>();
                        (entry.get(0).as_string().unwrap_or_default(), Js(entry.get(1)))
                    })
                    .collect(),
            )
        } else {
            Dynamic::Other("a symbol or bigint")
        }
    }

    fn property(&self, name: &str) -> Option<Self> {
        if !self.0.is_object() {
            return None;
        }
        Reflect::get(&self.0, &JsValue::from_str(name)).ok().filter(|value| !value.is_undefined()).map(Js)
    }
}

/// Reads an options object, naming the field in errors. A property set to
/// `undefined` counts as absent (so `host: undefined` means the current origin).
///
/// # Errors
/// [`TelemetryError::InvalidOption`] naming the field, or `options` when the
/// value is not an object (`example` shows one).
pub fn read_options<T: FromFields>(value: &JsValue, example: &str) -> Result<T, TelemetryError> {
    if !value.is_object() {
        return Err(TelemetryError::option("options", format!("must be an object such as {example}")));
    }
    read_object(Js(value.clone())).map_err(|err| TelemetryError::InvalidOption {
        field: if err.path.is_empty() { "options".to_owned() } else { err.path },
        rule: err.rule,
    })
}

/// An answer already checked for its fields, read into the Rust API's type.
///
/// # Errors
/// [`TelemetryError::NotJson`] naming what did not fit.
pub fn typed<T: DeserializeOwned>(answer: Js) -> Result<T, TelemetryError> {
    serde_wasm_bindgen::from_value(answer.0)
        .map_err(|err| TelemetryError::NotJson { status: 200, snippet: err.to_string() })
}

/// Turns an error into a JS `Error` named `UsageTelemetryError` with `code` and `status`.
pub fn to_js_error(err: TelemetryError) -> JsValue {
    let error = js_sys::Error::new(&err.to_string());
    error.set_name("UsageTelemetryError");
    set(&error, "code", err.code().into());
    if let Some(status) = err.status() {
        set(&error, "status", status.into());
    }
    error.into()
}

/// `registered`'s fields set on `object`: `billable`, `classification` and,
/// when the server said, `overLimit` (what `registerUsageEvent` resolves to, and
/// the successful `onRegistered` outcome).
pub fn set_registered(object: &Object, registered: &Registered) {
    set(object, "billable", registered.billable.into());
    set(object, "classification", registered.classification.as_str().into());
    if let Some(over_limit) = registered.over_limit {
        set(object, "overLimit", over_limit.into());
    }
}

/// Sets `object[key] = value` on a plain object the module made (which cannot
/// refuse it).
pub fn set(object: &Object, key: &str, value: JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(key), &value);
}
