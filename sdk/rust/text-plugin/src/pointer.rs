//! RFC 6901 JSON Pointers: "/items/0/name" names a value inside a document.

use toolhost_sdk::json::Value;
use toolhost_sdk::Error;

/// The reference tokens of `pointer`, unescaped ("~1" is "/", "~0" is "~"). INVALID_ARGUMENT,
/// naming the field `pointer`, for text that is not a JSON Pointer.
pub fn tokens(pointer: &str) -> Result<Vec<String>, Error> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let rest = pointer.strip_prefix('/').ok_or_else(|| {
        Error::invalid_argument(format!("pointer: must be empty or start with '/', got {:?}", pointer))
    })?;
    rest.split('/')
        .enumerate()
        .map(|(i, raw)| {
            let mut out = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => out.push('~'),
                    Some('1') => out.push('/'),
                    other => {
                        let seq: String = std::iter::once('~').chain(other).collect();
                        return Err(Error::invalid_argument(format!(
                            "pointer: invalid escape '{}' in token {} (only ~0 and ~1 are allowed)",
                            seq,
                            i + 1
                        )));
                    }
                }
            }
            Ok(out)
        })
        .collect()
}

/// Escapes a token for a pointer (the inverse of [`tokens`]), for messages.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The value `pointer` names in `document`. NOT_FOUND, naming the deepest prefix that exists,
/// when it names nothing.
pub fn resolve<'a>(document: &'a Value, pointer: &str) -> Result<&'a Value, Error> {
    let mut current = document;
    let mut at = String::new();
    for token in tokens(pointer)? {
        let here = if at.is_empty() {
            "the document".to_owned()
        } else {
            format!("'{}'", at)
        };
        current = match current {
            Value::Object(_) => current
                .get(&token)
                .ok_or_else(|| Error::not_found(format!("pointer: {} has no member '{}'", here, token)))?,
            Value::Array(items) => {
                let index = array_index(&token).ok_or_else(|| {
                    Error::not_found(format!("pointer: {} is an array; '{}' is not an index", here, token))
                })?;
                items.get(index).ok_or_else(|| {
                    Error::not_found(format!(
                        "pointer: {} has {} elements; index {} is out of range",
                        here,
                        items.len(),
                        index
                    ))
                })?
            }
            scalar => {
                return Err(Error::not_found(format!(
                    "pointer: {} is a {}, which has no '{}'",
                    here,
                    scalar.type_name(),
                    token
                )))
            }
        };
        at.push('/');
        at.push_str(&escape(&token));
    }
    Ok(current)
}

/// An array index as RFC 6901 spells it: "0", or digits without a leading zero.
fn array_index(token: &str) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use toolhost_sdk::{json, Status};

    #[test]
    fn resolves_rfc_6901_examples() {
        let doc = json::parse(
            r#"{"foo":["bar","baz"],"":0,"a/b":1,"c%d":2,"e^f":3,"g|h":4,"i\\j":5,"k\"l":6," ":7,"m~n":8}"#,
        )
        .unwrap();
        let at = |p: &str| resolve(&doc, p).unwrap().to_json();
        assert_eq!(at(""), doc.to_json());
        assert_eq!(at("/foo"), r#"["bar","baz"]"#);
        assert_eq!(at("/foo/0"), r#""bar""#);
        assert_eq!(at("/"), "0");
        assert_eq!(at("/a~1b"), "1");
        assert_eq!(at("/c%d"), "2");
        assert_eq!(at("/i\\j"), "5");
        assert_eq!(at("/k\"l"), "6");
        assert_eq!(at("/ "), "7");
        assert_eq!(at("/m~0n"), "8");
    }

    #[test]
    fn explains_what_is_missing_or_malformed() {
        let doc = json::parse(r#"{"a":{"b":[1,2,3]},"n":5}"#).unwrap();
        let err = |p: &str| resolve(&doc, p).unwrap_err();
        let e = err("a");
        assert_eq!(e.status(), Status::InvalidArgument);
        assert!(
            e.message().starts_with("pointer: must be empty or start with '/'"),
            "{}",
            e
        );
        let e = err("/a/~2");
        assert_eq!(e.status(), Status::InvalidArgument);
        assert_eq!(
            e.message(),
            "pointer: invalid escape '~2' in token 2 (only ~0 and ~1 are allowed)"
        );
        assert_eq!(
            err("/a/~").message(),
            "pointer: invalid escape '~' in token 2 (only ~0 and ~1 are allowed)"
        );
        assert_eq!(err("/x").message(), "pointer: the document has no member 'x'");
        assert_eq!(
            err("/a/b/3").message(),
            "pointer: '/a/b' has 3 elements; index 3 is out of range"
        );
        assert_eq!(
            err("/a/b/01").message(),
            "pointer: '/a/b' is an array; '01' is not an index"
        );
        assert_eq!(
            err("/a/b/-").message(),
            "pointer: '/a/b' is an array; '-' is not an index"
        );
        assert_eq!(err("/n/x").message(), "pointer: '/n' is a number, which has no 'x'");
        assert_eq!(err("/n/x").status(), Status::NotFound);
    }
}
