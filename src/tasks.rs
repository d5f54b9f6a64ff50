//! Background tasks and returned promises, each through one boxed future type.
//!
//! `spawn_local` and `future_to_promise` are generic over the future they run:
//! every distinct async block handed to them costs the wasm build its own copy of
//! wasm-bindgen-futures' task and promise code (about 1 KB each). Boxing first
//! leaves one copy of each.

use std::future::Future;
use std::pin::Pin;

use js_sys::Promise;
use wasm_bindgen::JsValue;

type Task = Pin<Box<dyn Future<Output = ()>>>;
type Answer = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

/// Runs `work` on the event loop, in the background.
pub fn spawn(work: impl Future<Output = ()> + 'static) {
    spawn_task(Box::pin(work));
}

fn spawn_task(task: Task) {
    wasm_bindgen_futures::spawn_local(task);
}

/// A promise that settles as `work` does.
pub fn promise(work: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    promise_of(Box::pin(work))
}

fn promise_of(answer: Answer) -> Promise {
    wasm_bindgen_futures::future_to_promise(answer)
}
