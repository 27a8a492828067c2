//! The evaluated value turned into JSON ([`to_json`]), field by field within
//! a size, depth and cancellation budget.

use std::sync::atomic::{AtomicBool, Ordering};

use jrsonnet_evaluator::error::ErrorKind;
use jrsonnet_evaluator::val::StrValue;
use jrsonnet_evaluator::{Error, IStr, Val};
use serde_json::Value;

use super::LIMITS;

/// The bounds [`to_json`] works within.
pub(super) struct Budget<'a> {
    pub(super) bytes_left: usize,
    pub(super) depth_left: usize,
    pub(super) cancel: &'a AtomicBool,
}

/// Why [`to_json`] stopped.
pub(super) enum Stop {
    /// Evaluating a field or element failed.
    Jsonnet(Error),
    /// A limit was reached (or the evaluation was cancelled).
    Limit(String),
}

impl Budget<'_> {
    fn spend(&mut self, bytes: usize) -> Result<(), Stop> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Stop::Limit("the evaluation was stopped".into()));
        }
        self.bytes_left = self.bytes_left.checked_sub(bytes).ok_or_else(|| {
            Stop::Limit(format!(
                "the task definition is larger than {} KiB of JSON (Ferry's limit)",
                LIMITS.output_bytes >> 10
            ))
        })?;
        Ok(())
    }
}

/// Manifests a Jsonnet value as JSON, forcing lazy fields and elements one
/// at a time so that size, depth and cancellation are checked as it goes
/// (jrsonnet's own manifester builds the whole text first).
pub(super) fn to_json(val: &Val, budget: &mut Budget<'_>) -> Result<Value, Stop> {
    Ok(match val {
        Val::Null => {
            budget.spend(4)?;
            Value::Null
        }
        Val::Bool(b) => {
            budget.spend(5)?;
            Value::Bool(*b)
        }
        Val::Num(n) => {
            let text = n.to_string();
            budget.spend(text.len())?;
            serde_json::from_str::<serde_json::Number>(&text)
                .map(Value::Number)
                .unwrap_or(Value::Null)
        }
        Val::Str(s) => string(s, budget)?,
        Val::Arr(items) => {
            let mut out = Vec::new();
            nested(budget, |budget| {
                for item in items.iter() {
                    budget.spend(1)?;
                    out.push(to_json(&item.map_err(Stop::Jsonnet)?, budget)?);
                }
                Ok(())
            })?;
            Value::Array(out)
        }
        Val::Obj(obj) => {
            obj.run_assertions().map_err(Stop::Jsonnet)?;
            let mut out = serde_json::Map::new();
            nested(budget, |budget| {
                for (key, value) in obj.iter() {
                    budget.spend(key.len() + 4)?;
                    let value = to_json(&value.map_err(Stop::Jsonnet)?, budget)?;
                    out.insert(key.to_string(), value);
                }
                Ok(())
            })?;
            Value::Object(out)
        }
        Val::Func(_) => {
            return Err(Stop::Jsonnet(
                ErrorKind::RuntimeError(IStr::from("tried to manifest function")).into(),
            ));
        }
    })
}

fn string(s: &StrValue, budget: &mut Budget<'_>) -> Result<Value, Stop> {
    // The length is known before the (possibly huge) string is built.
    budget.spend(s.len() + 2)?;
    Ok(Value::String(s.to_string()))
}

fn nested(
    budget: &mut Budget<'_>,
    f: impl FnOnce(&mut Budget<'_>) -> Result<(), Stop>,
) -> Result<(), Stop> {
    budget.spend(2)?;
    budget.depth_left = budget.depth_left.checked_sub(1).ok_or_else(|| {
        Stop::Limit(format!(
            "the task definition nests deeper than {} levels (Ferry's limit)",
            LIMITS.output_depth
        ))
    })?;
    let result = f(budget);
    budget.depth_left += 1;
    result
}
