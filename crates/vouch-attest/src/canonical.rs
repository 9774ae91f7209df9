//! Deterministic JSON: the one serializer of everything this crate signs or writes.
//!
//! Object keys sorted by their UTF-8 bytes, no whitespace, strings escaped as `serde_json`
//! escapes them (only `"`, `\` and control characters; everything else is raw UTF-8),
//! integers only. The same value always gives the same bytes, whatever order it was built
//! in and whichever `serde_json` features another crate enables.

use serde_json::Value;

/// The deterministic bytes of `value`.
///
/// # Panics
/// On a non-integer number: nothing in this crate builds one (measured values are written
/// as strings), so a float here is a bug.
pub fn to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    write(&mut out, value);
    out
}

fn write(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            assert!(
                n.is_u64() || n.is_i64(),
                "deterministic JSON holds integers only, not {n}"
            );
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write(out, &map[key]);
            }
            out.push(b'}');
        }
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn keys_are_sorted_and_nothing_is_spaced() {
        let v = json!({"b": [1, {"z": "é\n", "a": null}], "a": true, "B": -3});
        assert_eq!(
            String::from_utf8(super::to_vec(&v)).unwrap(),
            r#"{"B":-3,"a":true,"b":[1,{"a":null,"z":"é\n"}]}"#
        );
    }

    #[test]
    #[should_panic(expected = "integers only")]
    fn a_float_is_a_bug() {
        super::to_vec(&json!({"x": 0.5}));
    }
}
