//! One field of a task definition as the JSON gave it: of the type ECS
//! takes ([`Field::Typed`]), or not ([`Field::Raw`], kept as written), so
//! reading the JSON never fails and validation names the value it refuses.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

/// A value of type `T`, or the JSON that is not one (`"cpu": true`),
/// written back as it was read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Field<T> {
    /// Of the type ECS takes.
    Typed(T),
    /// Of another type: refused by validation, by the SDK conversion.
    Raw(Value),
}

/// A field that may be absent (a JSON null is absent too).
pub type Maybe<T> = Option<Field<T>>;

/// A list field whose entries are each read on their own.
pub type List<T> = Maybe<Vec<Field<T>>>;

/// An open-ended map of strings (`dockerLabels`, a log driver's options).
pub type Dict = Maybe<BTreeMap<String, Field<String>>>;

impl<T> Field<T> {
    /// The value, when it is of the type ECS takes.
    pub fn typed(&self) -> Option<&T> {
        match self {
            Self::Typed(t) => Some(t),
            Self::Raw(_) => None,
        }
    }

    /// The value, mutable, when it is of the type ECS takes.
    pub fn typed_mut(&mut self) -> Option<&mut T> {
        match self {
            Self::Typed(t) => Some(t),
            Self::Raw(_) => None,
        }
    }
}

impl<T: Serialize> Field<T> {
    /// The value as JSON.
    pub fn to_value(&self) -> Value {
        match self {
            Self::Raw(v) => v.clone(),
            // A field's value is plain data (strings, numbers, maps with
            // string keys), which always serialises.
            Self::Typed(t) => serde_json::to_value(t).unwrap_or(Value::Null),
        }
    }
}

impl<T: Serialize> fmt::Display for Field<T> {
    /// The JSON text, as messages show a value (`"soon"`, `121`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_value())
    }
}

/// Typed reads of an optional field.
pub trait Read<T> {
    /// The value, when present and of the type ECS takes.
    fn typed(&self) -> Option<&T>;
}

impl<T> Read<T> for Maybe<T> {
    fn typed(&self) -> Option<&T> {
        self.as_ref().and_then(Field::typed)
    }
}

/// The entries of a list field with their index (none when absent or not
/// a list); an entry of another type is `None`.
pub fn entries<T>(list: &List<T>) -> impl Iterator<Item = (usize, Option<&T>)> {
    list.typed()
        .into_iter()
        .flatten()
        .map(Field::typed)
        .enumerate()
}

/// The entries of a list field that are of the type ECS takes.
pub fn typed<T>(list: &List<T>) -> impl Iterator<Item = &T> {
    entries(list).filter_map(|(_, t)| t)
}

/// The string of an optional string field.
pub fn str_of(field: &Maybe<String>) -> Option<&str> {
    field.typed().map(String::as_str)
}

/// The value of a string map's key, when it is a string.
pub fn dict_get<'a>(dict: &'a Dict, key: &str) -> Option<&'a str> {
    dict.typed()?.get(key)?.typed().map(String::as_str)
}

/// The number of an optional number field, as ECS's unsigned fields read it.
pub fn u64_of(field: &Maybe<Number>) -> Option<u64> {
    field.typed().and_then(Number::as_u64)
}
