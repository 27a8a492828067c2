//! Reading the typed task definition's fields into the SDK's plain types:
//! what the type cannot express itself — a value of another type than ECS
//! takes, a number beyond `i32`, a field the conversion does not send — is
//! an error naming its JSON path.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};

use crate::aws::AwsError;
use crate::taskdef::field::{Dict, Field, List, Maybe};

pub(super) fn err(path: &str, message: impl Into<String>) -> AwsError {
    AwsError::Convert {
        field: path.to_string(),
        message: message.into(),
    }
}

/// `path.key`, or `key` at the top.
pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The fields of one object, read by their JSON path.
#[derive(Clone, Copy)]
pub(super) struct At<'a>(pub(super) &'a str);

impl At<'_> {
    fn typed<'v, T>(
        &self,
        key: &str,
        f: &'v Maybe<T>,
        what: &str,
    ) -> Result<Option<&'v T>, AwsError> {
        match f {
            None => Ok(None),
            Some(Field::Typed(t)) => Ok(Some(t)),
            Some(Field::Raw(v)) => Err(err(
                &join(self.0, key),
                format!("expected {what}, found {v}"),
            )),
        }
    }

    pub(super) fn string(&self, key: &str, f: &Maybe<String>) -> Result<Option<String>, AwsError> {
        Ok(self.typed(key, f, "a string")?.cloned())
    }

    /// A string the SDK takes as one of its enumerations.
    pub(super) fn enumerated<E: for<'s> From<&'s str>>(
        &self,
        key: &str,
        f: &Maybe<String>,
    ) -> Result<Option<E>, AwsError> {
        Ok(self.typed(key, f, "a string")?.map(|s| E::from(s.as_str())))
    }

    pub(super) fn int(&self, key: &str, f: &Maybe<Number>) -> Result<Option<i32>, AwsError> {
        match f {
            None => Ok(None),
            Some(f) => int_of(&join(self.0, key), f).map(Some),
        }
    }

    pub(super) fn bool(&self, key: &str, f: &Maybe<bool>) -> Result<Option<bool>, AwsError> {
        Ok(self.typed(key, f, "true or false")?.copied())
    }

    pub(super) fn strings(
        &self,
        key: &str,
        f: &List<String>,
    ) -> Result<Option<Vec<String>>, AwsError> {
        let at = join(self.0, key);
        let Some(items) = self.typed(key, f, "a list of strings")? else {
            return Ok(None);
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Field::Typed(s) => Ok(s.clone()),
                Field::Raw(other) => Err(err(
                    &format!("{at}[{i}]"),
                    format!("expected a string, found {other}"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    pub(super) fn ints(&self, key: &str, f: &List<Number>) -> Result<Option<Vec<i32>>, AwsError> {
        let at = join(self.0, key);
        let Some(items) = self.typed(key, f, "a list")? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| int_of(&at, v).map_err(|_| err(&at, "expected integers")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    pub(super) fn dict(
        &self,
        key: &str,
        f: &Dict,
    ) -> Result<Option<HashMap<String, String>>, AwsError> {
        let at = join(self.0, key);
        let Some(map) = self.typed(key, f, "an object of strings")? else {
            return Ok(None);
        };
        map.iter()
            .map(|(k, v)| match v {
                Field::Typed(s) => Ok((k.clone(), s.clone())),
                Field::Raw(other) => Err(err(
                    &join(&at, k),
                    format!("expected a string, found {other}"),
                )),
            })
            .collect::<Result<HashMap<_, _>, _>>()
            .map(Some)
    }

    /// A list of objects, each converted by `f` given its path, which names
    /// the entry by `id` when it has one (`containerDefinitions[api]`).
    pub(super) fn list<T, U>(
        &self,
        key: &str,
        f: &List<T>,
        id: impl Fn(&T) -> Option<&str>,
        mut convert: impl FnMut(At<'_>, &T) -> Result<U, AwsError>,
    ) -> Result<Option<Vec<U>>, AwsError> {
        let at = join(self.0, key);
        let Some(items) = self.typed(key, f, "a list")? else {
            return Ok(None);
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let name = v
                    .typed()
                    .and_then(&id)
                    .map_or_else(|| i.to_string(), str::to_string);
                let path = format!("{at}[{name}]");
                match v {
                    Field::Typed(t) => convert(At(&path), t),
                    Field::Raw(other) => {
                        Err(err(&path, format!("expected an object, found {other}")))
                    }
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// An object field, converted by `f` given its path.
    pub(super) fn object<T, U>(
        &self,
        key: &str,
        f: &Maybe<T>,
        convert: impl FnOnce(At<'_>, &T) -> Result<U, AwsError>,
    ) -> Result<Option<U>, AwsError> {
        let path = join(self.0, key);
        match self.typed(key, f, "an object")? {
            None => Ok(None),
            Some(t) => convert(At(&path), t).map(Some),
        }
    }

    /// Fails on the first field the conversion does not send.
    pub(super) fn done(&self, other: &Map<String, Value>) -> Result<(), AwsError> {
        match other.keys().next() {
            None => Ok(()),
            Some(key) => Err(not_sent(&join(self.0, key))),
        }
    }

    /// A value the SDK's builder refused (a required field missing).
    pub(super) fn built<T, E: std::fmt::Display>(&self, r: Result<T, E>) -> Result<T, AwsError> {
        r.map_err(|e| err(self.0, e.to_string()))
    }
}

/// A field the type names but the conversion does not send yet.
pub(super) fn not_sent(path: &str) -> AwsError {
    err(
        path,
        "Ferry cannot send this field to ECS yet; remove it or add it to aws/ecs/task_definition.rs",
    )
}

fn int_of(path: &str, f: &Field<Number>) -> Result<i32, AwsError> {
    f.typed()
        .and_then(Number::as_i64)
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| err(path, format!("expected an integer, found {f}")))
}
