//! What the front end receives besides the engine's records, which it gets as they are
//! (serde, with TypeScript types generated into `desktop/src/bindings/`): a live list's
//! diffs, and the composer's start with its recipients as text.

use brevdue_core::compose::{format_address_list, ComposePreview};
use brevdue_core::live::Diff;
use serde::Serialize;
use serde_json::{json, Value};

/// A record as JSON (the engine's records always serialise).
pub fn value<T: Serialize>(record: &T) -> Value {
    serde_json::to_value(record).expect("a record serialises")
}

/// One change to a live list, `{op, index?, row?|rows?}`. By hand: serde cannot tag the
/// engine's tuple variants inside the object.
pub fn diff<T: Serialize>(d: &Diff<T>) -> Value {
    match d {
        Diff::Reset(rows) => json!({"op": "reset", "rows": rows}),
        Diff::Insert(index, r) => json!({"op": "insert", "index": index, "row": r}),
        Diff::Set(index, r) => json!({"op": "set", "index": index, "row": r}),
        Diff::Remove(index) => json!({"op": "remove", "index": index}),
    }
}

/// The composer's start (`Engine::compose_preview`), with the recipients also as the
/// text its fields start with (`format_address_list`, as the engine parses it back).
pub fn preview(p: &ComposePreview) -> Value {
    let mut v = value(p);
    v["toText"] = json!(format_address_list(&p.to));
    v["ccText"] = json!(format_address_list(&p.cc));
    v
}
