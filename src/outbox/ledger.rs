//! What this view keeps: its registrations that have no answer yet, where they
//! are stored (IndexedDB, or memory), the writes and sends waiting for the end of
//! the turn.

use std::cell::{Cell, Ref, RefCell};

use js_sys::Function;
use usage_client::answers::Registered;
use usage_client::config::{current_config, LogLevel};
use usage_client::queue::Pending;
use usage_client::retry::RetryPolicy;
use usage_client::TelemetryError;
use wasm_bindgen::JsValue;

use super::store::{Database, Write};
use super::turn::EndOfTurn;
use crate::environment::{describe, warn};

/// Where pending registrations are kept.
pub enum Backend {
    /// IndexedDB is being opened; writes wait in `unanswered`.
    Opening,
    /// IndexedDB.
    Indexed(Database),
    /// Node, or IndexedDB missing or failing: this view's memory only.
    Memory,
}

/// A registration waiting for the next send, and where its result goes.
pub struct Ready {
    /// What is sent.
    pub pending: Pending,
    /// With which retries.
    pub policy: RetryPolicy,
    /// Set once the server answered (or the retries gave up).
    pub result: std::rc::Rc<RefCell<Option<Result<Registered, TelemetryError>>>>,
    /// Resolves the promise its caller awaits.
    pub wake: Function,
}

/// This view's outbox state.
pub struct Ledger {
    backend: RefCell<Backend>,
    /// This view's registrations that have no answer yet, oldest first (a few,
    /// mostly: a list costs less code than a map).
    unanswered: RefCell<Vec<Pending>>,
    warned: Cell<bool>,
    /// Writes not yet handed to IndexedDB: those of one turn go in one
    /// transaction at its end (a transaction costs the main thread more than the
    /// writes in it).
    writes: RefCell<Vec<Write>>,
    /// Registrations to send at the end of the turn.
    ready: RefCell<Vec<Ready>>,
    end_of_turn: EndOfTurn,
}

impl Ledger {
    /// An empty ledger whose end-of-turn work is `end_of_turn`'s.
    pub fn new(end_of_turn: EndOfTurn) -> Self {
        Ledger {
            backend: RefCell::new(Backend::Opening),
            unanswered: RefCell::default(),
            warned: Cell::new(false),
            writes: RefCell::default(),
            ready: RefCell::default(),
            end_of_turn,
        }
    }

    /// One console warning per view, unless the log level is `silent`.
    pub fn warn_once(&self, message: &str) {
        if !self.warned.replace(true) && current_config().log_level != LogLevel::Silent {
            warn(message);
        }
    }

    /// Where registrations are kept from now on; with IndexedDB, those made while
    /// it was opening are written to it. Returns whether it is IndexedDB.
    pub fn keep_in(&self, backend: Backend) -> bool {
        let indexed = matches!(backend, Backend::Indexed(_));
        *self.backend.borrow_mut() = backend;
        if indexed {
            for pending in self.unanswered.borrow().iter() {
                self.write_at_end_of_turn(Write::Put(pending.clone()));
            }
        }
        indexed
    }

    /// Keeps `pending` until [`Ledger::answered`] is called with its id: stored by
    /// the end-of-turn task before it sends anything.
    pub fn track(&self, pending: Pending) {
        self.write_at_end_of_turn(Write::Put(pending.clone()));
        self.unanswered.borrow_mut().push(pending);
    }

    /// The server answered the registration `event_id` in a way a retry cannot
    /// change: it is removed at the end of this turn. (Not later, to share a
    /// transaction with the next registration: a page left in between would lose
    /// the removal, and the next view would send it again.)
    pub fn answered(&self, event_id: &str) {
        self.unanswered.borrow_mut().retain(|pending| pending.event_id != event_id);
        self.write_at_end_of_turn(Write::Delete(event_id.to_owned()));
    }

    /// This view's registrations that have no answer yet, oldest first.
    pub fn unanswered(&self) -> Ref<'_, Vec<Pending>> {
        self.unanswered.borrow()
    }

    /// Queues `ready` for the end-of-turn send.
    pub fn send_at_end_of_turn(&self, ready: Ready) {
        self.ready.borrow_mut().push(ready);
        self.end_of_turn.ask();
    }

    /// What the end-of-turn send takes.
    pub fn take_ready(&self) -> Vec<Ready> {
        self.ready.take()
    }

    fn write_at_end_of_turn(&self, write: Write) {
        if !matches!(*self.backend.borrow(), Backend::Indexed(_)) {
            return; // opening: `keep_in` writes what is unanswered by then
        }
        self.writes.borrow_mut().push(write);
        self.end_of_turn.ask();
    }

    /// Hands every waiting write to IndexedDB in one transaction (while it is
    /// still opening they wait).
    pub fn write_now(&self) {
        let written = match &*self.backend.borrow() {
            Backend::Indexed(database) if !self.writes.borrow().is_empty() => database.write(self.writes.take()),
            _ => return,
        };
        if let Err(err) = written {
            self.fail_over(&err);
        }
    }

    /// IndexedDB failed (quota, a closed database): memory from now on.
    fn fail_over(&self, err: &JsValue) {
        *self.backend.borrow_mut() = Backend::Memory;
        self.warn_once(&format!("registrations are kept in memory only ({})", describe(err)));
    }

    /// Everything IndexedDB holds (nothing in memory mode), waiting writes included.
    pub async fn stored(&self) -> Vec<Pending> {
        self.write_now();
        let database = match &*self.backend.borrow() {
            Backend::Indexed(database) => database.clone(),
            _ => return Vec::new(),
        };
        match database.all().await {
            Ok(stored) => stored,
            Err(err) => {
                self.fail_over(&err);
                Vec::new()
            }
        }
    }
}
