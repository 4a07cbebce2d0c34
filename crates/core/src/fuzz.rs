//! Strategies for the property tests of everything that decodes data read from ZooKeeper
//! (identities, the leader record, the pause and handover notes, child names): hostile JSON in
//! the shapes our decoders expect. `cargo test --lib` runs each property with proptest's default
//! number of cases (256); `PROPTEST_CASES=100000 cargo test --lib` runs longer.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// The fields of the leader record (`failover.rs`), each of which a hostile writer may replace.
pub const LEADER_RECORD_FIELDS: &[&str] = &[
    "v",
    "node",
    "epoch",
    "state",
    "reason",
    "serving_until_ms",
    "outage_start_ms",
    "session_timeout_ms",
    "leader_since_ms",
];

/// Numbers a hostile writer would try: the edges of every integer type, times past year 9999
/// and before 1970, floats where integers belong.
pub fn hostile_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![
            json!(0),
            json!(-1),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(253_402_300_799_999_i64),
            json!(253_402_300_800_000_i64),
            json!(300_000_000_000_000_i64),
            json!(3e14),
            json!(1.5),
        ]),
    ]
}

/// Any JSON value, nested a few levels.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        hostile_number(),
        "\\PC{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,8}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON object with some of `fields` (each a hostile value, or a plausible one from `valid`)
/// and maybe an unknown field: what a decoder of that schema meets from a hostile writer.
pub fn object_with(fields: &'static [&'static str], valid: Value) -> impl Strategy<Value = Value> {
    let values = prop::collection::vec((any::<u8>(), json_value()), fields.len());
    (values, any::<bool>(), json_value()).prop_map(move |(values, extra, extra_value)| {
        let mut object = Map::new();
        for (field, (pick, hostile)) in fields.iter().zip(values) {
            let value = match pick % 4 {
                0 => continue,
                1 => hostile,
                _ => valid.get(*field).cloned().unwrap_or(hostile),
            };
            object.insert((*field).to_string(), value);
        }
        if extra {
            object.insert("unexpected".into(), extra_value);
        }
        Value::Object(object)
    })
}

/// Bytes that are mostly JSON of the given shape, sometimes cut short or not JSON at all.
pub fn data_like(shape: impl Strategy<Value = Value>) -> impl Strategy<Value = Vec<u8>> {
    (shape, any::<u16>(), prop::collection::vec(any::<u8>(), 0..40)).prop_map(|(value, cut, junk)| {
        let mut data = serde_json::to_vec(&value).unwrap_or_default();
        match cut % 8 {
            0 => data.truncate(usize::from(cut) % (data.len() + 1)),
            1 => data = junk,
            _ => {}
        }
        data
    })
}

/// Node names as ZooKeeper allows them (any characters but `/`), biased towards the shapes
/// the election looks at.
pub fn child_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[^/]{0,40}",
        "(_c_[0-9a-f-]{0,36}-)?latch-[0-9]{0,12}",
        "[^/]{0,8}latch-[^/]{0,12}",
        "[^/]{0,8}latch-[\\u{80}-\\u{10ffff}]{1,4}[0-9]{0,12}",
    ]
}
