//! The pending registrations in IndexedDB: one database, one object store keyed
//! by `eventId`, each record the registration's URL, exact body and queue time.
//!
//! IndexedDB through web-sys: the few bindings used cost less than a crate's
//! wrapper, and a request becomes a promise by handing it `resolve` and `reject`
//! as its handlers, with no closure per call.

use js_sys::{Promise, Reflect};
use usage_client::queue::Pending;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbFactory, IdbObjectStore, IdbObjectStoreParameters, IdbOpenDbRequest, IdbRequest, IdbTransactionMode,
};

use crate::environment::describe;
use crate::interop::set;

const DATABASE: &str = "usage-telemetry";
const STORE: &str = "pending";

/// One change to the stored registrations.
pub enum Write {
    /// Keep this registration (or keep it again, unchanged).
    Put(Pending),
    /// The registration with this `eventId` is answered.
    Delete(String),
}

/// The open database of pending registrations.
#[derive(Clone)]
pub struct Database(IdbDatabase);

/// The platform's IndexedDB, if it has one (pages and workers; not Node).
pub fn indexed_db() -> Option<IdbFactory> {
    let factory = Reflect::get(&js_sys::global(), &"indexedDB".into()).ok()?;
    factory.dyn_into::<IdbFactory>().ok()
}

impl Database {
    /// Opens (creating on first use) the database of pending registrations.
    ///
    /// # Errors
    /// What IndexedDB said (private mode in some browsers, a blocked upgrade…).
    pub async fn open(factory: &IdbFactory) -> Result<Database, String> {
        let request: IdbOpenDbRequest = factory.open_with_u32(DATABASE, 1).map_err(|err| describe(&err))?;
        let upgrade = Closure::once(|event: web_sys::Event| {
            let database = event
                .target()
                .and_then(|target| target.dyn_into::<IdbRequest>().ok())
                .and_then(|request| request.result().ok())
                .and_then(|result| result.dyn_into::<IdbDatabase>().ok());
            if let Some(database) = database {
                let parameters = IdbObjectStoreParameters::new();
                parameters.set_key_path(&"eventId".into());
                let _ = database.create_object_store_with_optional_parameters(STORE, &parameters);
            }
        });
        request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
        let result = done(&request).await;
        request.set_onupgradeneeded(None);
        drop(upgrade);
        let database = result.map_err(|err| describe(&err))?;
        database.dyn_into::<IdbDatabase>().map(Database).map_err(|_| "not a database".to_owned())
    }

    /// Hands `writes` to IndexedDB in one transaction, without waiting for it to
    /// commit (IndexedDB applies a store's transactions in order, so a later
    /// removal cannot overtake an earlier write).
    ///
    /// # Errors
    /// The transaction could not be started or a write was refused (quota, a
    /// closed database).
    pub fn write(&self, writes: Vec<Write>) -> Result<(), JsValue> {
        let store = self.store(IdbTransactionMode::Readwrite)?;
        for write in writes {
            match write {
                Write::Put(pending) => store.put(&record_of(&pending))?,
                Write::Delete(event_id) => store.delete(&event_id.into())?,
            };
        }
        Ok(())
    }

    /// Every stored registration (records that are not one are skipped).
    ///
    /// # Errors
    /// The read failed.
    pub async fn all(&self) -> Result<Vec<Pending>, JsValue> {
        let records = done(&self.store(IdbTransactionMode::Readonly)?.get_all()?).await?;
        Ok(js_sys::Array::from(&records).iter().filter_map(|record| pending_from(&record)).collect())
    }

    fn store(&self, mode: IdbTransactionMode) -> Result<IdbObjectStore, JsValue> {
        self.0.transaction_with_str_and_mode(STORE, mode)?.object_store(STORE)
    }
}

/// The request's result once it succeeds; its error otherwise.
async fn done(request: &IdbRequest) -> Result<JsValue, JsValue> {
    let promise = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    match JsFuture::from(promise).await {
        Ok(_) => request.result(),
        Err(_) => Err(request.error().ok().flatten().map_or_else(|| "IndexedDB error".into(), JsValue::from)),
    }
}

/// The stored form of a registration: `{ eventId, url, body, queuedAt }`.
fn record_of(pending: &Pending) -> JsValue {
    let record = js_sys::Object::new();
    set(&record, "eventId", pending.event_id.as_str().into());
    set(&record, "url", pending.url.as_str().into());
    set(&record, "body", pending.body.as_str().into());
    set(&record, "queuedAt", pending.queued_at_ms.into());
    record.into()
}

fn pending_from(record: &JsValue) -> Option<Pending> {
    let text = |key: &str| Reflect::get(record, &key.into()).ok()?.as_string();
    Some(Pending {
        event_id: text("eventId")?,
        url: text("url")?,
        body: text("body")?,
        queued_at_ms: Reflect::get(record, &"queuedAt".into()).ok()?.as_f64()?,
    })
}
