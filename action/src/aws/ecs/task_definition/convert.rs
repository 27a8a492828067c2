//! One value each way between the typed task definition and the SDK's
//! types: [`ToSdk`] and [`ToTyped`], implemented once per kind of value
//! (string or enumeration, integer, boolean, list, map) and, by [`pair!`],
//! once per object from a table of its fields. The conversion takes a
//! definition render validated; what the type cannot express is its one
//! error, naming the field's JSON path: a value of another type than ECS
//! takes (kept as written), a number beyond the SDK's `i32`, a field the
//! type does not name, a field the SDK's builder requires.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_ecs::error::BuildError;
use serde_json::{Map, Number, Value};

use crate::aws::AwsError;
use crate::taskdef::{Field, Units};

/// A typed value as the SDK's type `U`.
pub(super) trait ToSdk<U> {
    /// What the JSON must be, for the error on a value of another type.
    const WHAT: &'static str;
    /// The value as the SDK's; an error's path is relative to the value.
    fn to_sdk(&self) -> Result<U, AwsError>;
    /// The name of an entry of a list, for its path
    /// (`containerDefinitions[api]` rather than `containerDefinitions[0]`).
    fn id(&self) -> Option<&str> {
        None
    }
}

/// An SDK value as the typed model's `T` (`None`: the SDK holds none).
pub(super) trait ToTyped<T> {
    /// The value as the typed model's.
    fn to_typed(&self) -> Option<T>;
}

/// What the conversion refuses, at `path`: relative to the value being
/// converted, prefixed on the way up ([`within`]).
fn refused(path: &str, message: impl Into<String>) -> AwsError {
    AwsError::Convert {
        field: path.to_string(),
        message: message.into(),
    }
}

/// A value the SDK's type cannot hold (`found`, where it takes `what`),
/// shown as JSON on one line, cut to 80 characters.
fn expected(what: &str, found: impl std::fmt::Display) -> AwsError {
    let found = crate::text::truncate_chars(&found.to_string(), 80);
    refused("", format!("expected {what}, found {found}"))
}

/// The error of a value inside `outer` (a key or `[entry]`), its path
/// prefixed with `outer`.
fn within(outer: &str, e: AwsError) -> AwsError {
    match e {
        AwsError::Convert { field, message } => {
            let sep = if field.is_empty() || field.starts_with('[') {
                ""
            } else {
                "."
            };
            refused(&format!("{outer}{sep}{field}"), message)
        }
        other => other,
    }
}

/// A field the type names or keeps that the conversion does not send.
pub(super) fn not_sent(key: &str) -> AwsError {
    refused(
        key,
        "Ferry cannot send this field to ECS yet; remove it (or add it to the task definition type, taskdef, and its table in aws/ecs/task_definition)",
    )
}

/// Fails on the first field the type does not name (kept in `other`).
pub(super) fn done(other: &Map<String, Value>) -> Result<(), AwsError> {
    other.keys().next().map_or(Ok(()), |key| Err(not_sent(key)))
}

/// The JSON key of a field of the model (`r#type` → `type`,
/// `container_port` → `containerPort`; a camelCase key stays as it is).
fn camel(field: &str) -> String {
    let mut parts = field.trim_start_matches("r#").split('_');
    let first = parts.next().unwrap_or_default().to_string();
    parts.fold(first, |mut out, part| {
        let mut chars = part.chars();
        out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
        out.extend(chars);
        out
    })
}

/// An optional field as the builder's setter takes it; an error is named
/// by the field's key.
pub(super) fn field<T: ToSdk<U>, U>(f: &Option<T>, key: &str) -> Result<Option<U>, AwsError> {
    f.as_ref()
        .map(|v| v.to_sdk().map_err(|e| within(&camel(key), e)))
        .transpose()
}

/// What an SDK builder's `build` gives: the value, or a required field it
/// refused to go without.
pub(super) trait Built {
    /// The built value.
    type Out;
    /// The value, or the builder's refusal.
    fn built(self) -> Result<Self::Out, AwsError>;
}

impl<T> Built for Result<T, BuildError> {
    type Out = T;
    fn built(self) -> Result<T, AwsError> {
        self.map_err(|e| refused("", e.to_string()))
    }
}

impl<T: ToSdk<U>, U> ToSdk<U> for Field<T> {
    const WHAT: &'static str = <T as ToSdk<U>>::WHAT;
    fn to_sdk(&self) -> Result<U, AwsError> {
        match self {
            Self::Typed(t) => t.to_sdk(),
            Self::Raw(v) => Err(expected(Self::WHAT, v)),
        }
    }
    fn id(&self) -> Option<&str> {
        self.typed().and_then(<T as ToSdk<U>>::id)
    }
}

/// A string, or one of the SDK's enumerations (which take any string).
impl<E: for<'s> From<&'s str>> ToSdk<E> for String {
    const WHAT: &'static str = "a string";
    fn to_sdk(&self) -> Result<E, AwsError> {
        Ok(E::from(self.as_str()))
    }
}

impl ToSdk<i32> for Number {
    const WHAT: &'static str = "an integer";
    fn to_sdk(&self) -> Result<i32, AwsError> {
        self.as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| expected(Self::WHAT, self))
    }
}

impl ToSdk<bool> for bool {
    const WHAT: &'static str = "true or false";
    fn to_sdk(&self) -> Result<bool, AwsError> {
        Ok(*self)
    }
}

/// Task-level cpu or memory: the API takes a string (`256` → `"256"`).
impl ToSdk<String> for Units {
    const WHAT: &'static str = "a number or a string";
    fn to_sdk(&self) -> Result<String, AwsError> {
        Ok(self.to_api())
    }
}

impl<T: ToSdk<U>, U> ToSdk<Vec<U>> for Vec<Field<T>> {
    const WHAT: &'static str = "a list";
    fn to_sdk(&self) -> Result<Vec<U>, AwsError> {
        let entry = |(i, v): (usize, &Field<T>)| {
            ToSdk::<U>::to_sdk(v).map_err(|e| {
                let id = ToSdk::<U>::id(v).map_or_else(|| i.to_string(), str::to_string);
                within(&format!("[{id}]"), e)
            })
        };
        self.iter().enumerate().map(entry).collect()
    }
}

impl ToSdk<HashMap<String, String>> for BTreeMap<String, Field<String>> {
    const WHAT: &'static str = "an object of strings";
    fn to_sdk(&self) -> Result<HashMap<String, String>, AwsError> {
        self.iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    ToSdk::<String>::to_sdk(v).map_err(|e| within(k, e))?,
                ))
            })
            .collect()
    }
}

impl<X: ToTyped<T>, T> ToTyped<T> for Option<X> {
    fn to_typed(&self) -> Option<T> {
        self.as_ref().and_then(X::to_typed)
    }
}

impl ToTyped<String> for String {
    fn to_typed(&self) -> Option<String> {
        Some(self.clone())
    }
}

impl ToTyped<Units> for String {
    fn to_typed(&self) -> Option<Units> {
        Some(Units::Text(self.clone()))
    }
}

impl ToTyped<Number> for i32 {
    fn to_typed(&self) -> Option<Number> {
        Some(Number::from(*self))
    }
}

impl ToTyped<bool> for bool {
    fn to_typed(&self) -> Option<bool> {
        Some(*self)
    }
}

impl<X: ToTyped<T>, T> ToTyped<Vec<Field<T>>> for Vec<X> {
    fn to_typed(&self) -> Option<Vec<Field<T>>> {
        Some(
            self.iter()
                .filter_map(X::to_typed)
                .map(Field::Typed)
                .collect(),
        )
    }
}

impl ToTyped<BTreeMap<String, Field<String>>> for HashMap<String, String> {
    fn to_typed(&self) -> Option<BTreeMap<String, Field<String>>> {
        Some(
            self.iter()
                .map(|(k, v)| (k.clone(), Field::Typed(v.clone())))
                .collect(),
        )
    }
}

/// The SDK's enumerations the model reads as strings.
macro_rules! enums {
    ($($e:ident),* $(,)?) => {$(
        impl ToTyped<String> for aws_sdk_ecs::types::$e {
            fn to_typed(&self) -> Option<String> {
                Some(self.as_str().to_string())
            }
        }
    )*};
}

enums!(
    ApplicationProtocol,
    Compatibility,
    ContainerCondition,
    CpuArchitecture,
    EfsAuthorizationConfigIam,
    EfsTransitEncryption,
    EnvironmentFileType,
    FirelensConfigurationType,
    IpcMode,
    LogDriver,
    NetworkMode,
    OsFamily,
    PidMode,
    ProxyConfigurationType,
    Scope,
    TaskDefinitionPlacementConstraintType,
    TransportProtocol,
    UlimitName,
    VersionConsistency,
);

/// One object both ways, from the table of all its fields (a field the
/// model gains is a compile error until the table has it): the model's
/// `taskdef::$typed` and the SDK's `types::$sdk`, each field with the SDK
/// builder's setter, or `_` for one the SDK's type does not hold (the
/// caller's). A field's JSON key is its name in camelCase, unless given
/// (`size_in_gib = "sizeInGiB"`); `[field]` names an entry of a list by
/// that field. A field the model keeps in `other` is refused.
macro_rules! pair {
    ($typed:ident => $sdk:ident $([$id:ident])? {
        $($field:ident $(= $key:literal)?: $setter:tt),* $(,)?
    }) => {
        impl $crate::aws::ecs::task_definition::convert::ToSdk<aws_sdk_ecs::types::$sdk>
            for $crate::taskdef::$typed
        {
            const WHAT: &'static str = "an object";
            fn to_sdk(&self) -> Result<aws_sdk_ecs::types::$sdk, $crate::aws::AwsError> {
                use $crate::aws::ecs::task_definition::convert::{Built, done, field};
                done(&self.other)?;
                let b = aws_sdk_ecs::types::$sdk::builder();
                $(let b = pair!(@set b, self, $field, pair!(@key $field $($key)?), $setter);)*
                b.build().built()
            }
            $(fn id(&self) -> Option<&str> {
                $crate::taskdef::field::str_of(&self.$id)
            })?
        }

        impl $crate::aws::ecs::task_definition::convert::Built for aws_sdk_ecs::types::$sdk {
            type Out = Self;
            fn built(self) -> Result<Self, $crate::aws::AwsError> {
                Ok(self)
            }
        }

        impl $crate::aws::ecs::task_definition::convert::ToTyped<$crate::taskdef::$typed>
            for aws_sdk_ecs::types::$sdk
        {
            fn to_typed(&self) -> Option<$crate::taskdef::$typed> {
                Some($crate::taskdef::$typed {
                    $($field: pair!(@get self, $field, $setter),)*
                    other: Default::default(),
                })
            }
        }
    };
    (@key $field:ident $key:literal) => { $key };
    (@key $field:ident) => { stringify!($field) };
    (@set $b:ident, $s:ident, $field:ident, $key:expr, _) => { $b };
    (@set $b:ident, $s:ident, $field:ident, $key:expr, $setter:ident) => {
        $b.$setter(field(&$s.$field, $key)?)
    };
    (@get $s:ident, $field:ident, _) => { None };
    (@get $s:ident, $field:ident, $setter:ident) => {
        $crate::aws::ecs::task_definition::convert::ToTyped::to_typed(&$s.$field)
            .map($crate::taskdef::Field::Typed)
    };
}
pub(super) use pair;
