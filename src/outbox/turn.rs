//! Work at the end of the current turn of the event loop: asked for any number of
//! times in a turn, it runs once, in a task of its own (not a microtask, so every
//! registration of the turn, and the next one an answer lets a caller make, is in).

use std::cell::Cell;
use std::rc::Rc;

use js_sys::Function;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::environment::call_later;

/// A task that runs `work` once per turn in which it was asked for.
pub struct EndOfTurn {
    asked: Rc<Cell<bool>>,
    /// The one callback, kept for the life of the page: no closure per turn.
    callback: Closure<dyn Fn()>,
}

impl EndOfTurn {
    /// A scheduler for `work`; nothing runs until [`EndOfTurn::ask`].
    pub fn new(work: fn()) -> Self {
        let asked = Rc::new(Cell::new(false));
        let reset = asked.clone();
        let callback = Closure::new(move || {
            reset.set(false);
            work();
        });
        EndOfTurn { asked, callback }
    }

    /// Runs the work at the end of this turn, unless it is already asked for.
    pub fn ask(&self) {
        if !self.asked.replace(true) {
            call_later(self.callback.as_ref().unchecked_ref::<Function>(), 0);
        }
    }
}
