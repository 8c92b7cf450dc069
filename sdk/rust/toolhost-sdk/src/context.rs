//! The contexts of `initialize()` and `invoke()`, and typed access to arguments.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use crate::abi::{ToolhostCall, ToolhostInitContext};
use crate::ffi::{bytes_of, str_of, to_abi};
use crate::host::{Host, LogLevel};
use crate::json::{self, Value};
use crate::status::{Error, Status};

/// The context of [`crate::Tool::initialize`]: the validated configuration and the tool's data
/// directory. Valid only during `initialize()`; copy what you keep.
pub struct InitContext<'a> {
    raw: &'a ToolhostInitContext,
}

impl<'a> InitContext<'a> {
    /// Wraps the host's init context.
    ///
    /// # Safety
    /// `raw` must be the context the host passed to `initialize()`, used only until it returns.
    pub unsafe fn from_raw(raw: &'a ToolhostInitContext) -> InitContext<'a> {
        InitContext { raw }
    }

    /// The configuration object as JSON text, already validated against the tool's config
    /// schema ("{}" when the operator configured nothing, or when the host sent bytes that are
    /// not UTF-8).
    pub fn config(&self) -> &'a str {
        // SAFETY: the host's strings are valid until initialize() returns, which bounds 'a.
        unsafe { str_of(self.raw.config) }
            .filter(|s| !s.is_empty())
            .unwrap_or("{}")
    }

    /// The configuration object, parsed.
    pub fn config_json(&self) -> Result<Value, Error> {
        json::parse(self.config()).map_err(|e| Error::invalid_argument(format!("config: not valid JSON: {}", e)))
    }

    /// A directory the tool may keep its files in; the host has created it.
    pub fn data_dir(&self) -> &'a Path {
        // SAFETY: as in config().
        Path::new(std::ffi::OsStr::from_bytes(unsafe { bytes_of(self.raw.data_dir) }))
    }
}

/// The context of one call: arguments, ids, cancellation, deadline, progress, logging, and the
/// host services that need the running call (nested calls, requests to the client).
/// Valid only during the call; copy what you keep.
pub struct CallContext<'a> {
    raw: &'a ToolhostCall,
    host: Host,
}

impl<'a> CallContext<'a> {
    /// Wraps the host's call context.
    ///
    /// # Safety
    /// `raw` must be the call the host passed to `invoke()`, used only until it returns, and
    /// `host` the instance's host.
    pub unsafe fn from_raw(raw: &'a ToolhostCall, host: Host) -> CallContext<'a> {
        CallContext { raw, host }
    }

    /// The raw call struct.
    pub fn as_raw(&self) -> *const ToolhostCall {
        self.raw
    }

    /// The instance's host services.
    pub fn host(&self) -> Host {
        self.host
    }

    fn text(&self, s: crate::abi::ToolhostStr) -> &'a str {
        // SAFETY: the host's strings are valid until invoke() returns, which bounds 'a. Text
        // that is not UTF-8 (a broken host) reads as empty.
        unsafe { str_of(s) }.unwrap_or("")
    }

    /// The operation called.
    pub fn operation(&self) -> &'a str {
        self.text(self.raw.operation)
    }

    /// The arguments object as JSON text, as the host validated it against the input schema.
    pub fn arguments(&self) -> &'a str {
        self.text(self.raw.arguments)
    }

    /// The arguments, parsed. INVALID_ARGUMENT when they are not a JSON object.
    pub fn args(&self) -> Result<Args, Error> {
        // SAFETY: as in text().
        let text = unsafe { str_of(self.raw.arguments) }
            .ok_or_else(|| Error::invalid_argument("arguments: not valid UTF-8"))?;
        let text = if text.is_empty() { "{}" } else { text };
        let value =
            json::parse(text).map_err(|e| Error::invalid_argument(format!("arguments: not valid JSON: {}", e)))?;
        if value.as_object().is_none() {
            return Err(Error::invalid_argument(format!(
                "arguments: expected an object, got {}",
                value.type_name()
            )));
        }
        Ok(Args { value })
    }

    /// The caller's request id (empty when it gave none).
    pub fn request_id(&self) -> &'a str {
        self.text(self.raw.request_id)
    }

    /// The caller's session id (empty when it gave none).
    pub fn session_id(&self) -> &'a str {
        self.text(self.raw.session_id)
    }

    /// The W3C trace context ("00-<trace-id>-<span-id>-<flags>"), empty when not traced.
    pub fn traceparent(&self) -> &'a str {
        self.text(self.raw.traceparent)
    }

    /// 1 for the first attempt, 2 for the first retry, ...
    pub fn attempt(&self) -> u32 {
        self.raw.attempt
    }

    /// True once the caller gave up, the host is stopping or the deadline passed.
    pub fn is_cancelled(&self) -> bool {
        match self.raw.is_cancelled {
            // SAFETY: a host function called with its own call struct.
            Some(f) => unsafe { f(self.raw) },
            None => false,
        }
    }

    /// Time left until the deadline: `None` when the call has none, zero once it passed.
    pub fn remaining(&self) -> Option<Duration> {
        let ns = match self.raw.remaining_ns {
            // SAFETY: a host function called with its own call struct.
            Some(f) => unsafe { f(self.raw) },
            None => i64::MAX,
        };
        if ns == i64::MAX {
            None
        } else {
            Some(Duration::from_nanos(u64::try_from(ns).unwrap_or(0)))
        }
    }

    /// `Err` once the call is cancelled: DEADLINE_EXCEEDED when its deadline passed, CANCELLED
    /// otherwise. Poll it in loops (`call.check_cancelled()?`) and flag such operations
    /// `CANCELLABLE`.
    pub fn check_cancelled(&self) -> Result<(), Error> {
        if !self.is_cancelled() {
            return Ok(());
        }
        if self.remaining() == Some(Duration::ZERO) {
            Err(Error::new(
                Status::DeadlineExceeded,
                format!("{}: the deadline passed", self.operation()),
            ))
        } else {
            Err(Error::new(
                Status::Cancelled,
                format!("{}: cancelled", self.operation()),
            ))
        }
    }

    /// Logs on the tool's channel, tagged with this call's operation and ids.
    pub fn log(&self, level: LogLevel, message: &str) {
        if let Some(f) = self.raw.log {
            // SAFETY: a host function called with its own call struct; it copies the message.
            unsafe { f(self.raw, level as i32, to_abi(message)) }
        }
    }

    /// Reports progress: `done` out of `total` (`None` when unknown), with a message.
    pub fn progress(&self, done: f64, total: Option<f64>, message: &str) {
        if let Some(f) = self.raw.report_progress {
            // SAFETY: a host function called with its own call struct; it copies the message.
            unsafe { f(self.raw, done, total.unwrap_or(0.0), to_abi(message)) }
        }
    }

    /// A hint for the host's retry policy with a retryable status: when a retry may succeed.
    pub fn retry_after(&self, delay: Duration) {
        if let Some(f) = self.raw.set_retry_after_ms {
            let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
            // SAFETY: a host function called with its own call struct.
            unsafe { f(self.raw, ms) }
        }
    }

    /// Calls another tool through the host (see [`Host::call_tool`]), as a child of this call.
    pub fn call_tool(&self, tool: &str, operation: &str, arguments: &str) -> Result<String, Error> {
        self.host.call_tool(self, tool, operation, arguments)
    }

    /// Asks the client of this call (see [`Host::ask_client`]).
    pub fn ask_client(&self, method: &str, params: &str) -> Result<String, Error> {
        self.host.ask_client(self, method, params)
    }
}

/// A call's arguments object, with typed getters whose errors are INVALID_ARGUMENT naming the
/// field.
#[derive(Clone, Debug)]
pub struct Args {
    value: Value,
}

impl Args {
    /// Arguments from a parsed value (which must be an object to have members).
    pub fn new(value: Value) -> Args {
        Args { value }
    }

    /// The whole arguments object.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The member `name`, if present (`null` counts as present).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.value.get(name)
    }

    fn wrong(name: &str, expected: &str, got: &Value) -> Error {
        Error::invalid_argument(format!("{}: expected {}, got {}", name, expected, got.type_name()))
    }

    /// The string member `name`; INVALID_ARGUMENT when missing or not a string.
    pub fn str(&self, name: &str) -> Result<&str, Error> {
        self.opt_str(name)?
            .ok_or_else(|| Error::invalid_argument(format!("{}: required", name)))
    }

    /// The string member `name`, or `None` when missing.
    pub fn opt_str(&self, name: &str) -> Result<Option<&str>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(Self::wrong(name, "a string", other)),
        }
    }

    /// The boolean member `name`, or `None` when missing.
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(Self::wrong(name, "a boolean", other)),
        }
    }

    /// The non-negative integer member `name`, or `None` when missing.
    pub fn opt_u64(&self, name: &str) -> Result<Option<u64>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_number()
                .and_then(|n| n.as_u64())
                .map(Some)
                .ok_or_else(|| Self::wrong(name, "a non-negative integer", v)),
        }
    }

    /// The integer member `name`, or `None` when missing.
    pub fn opt_i64(&self, name: &str) -> Result<Option<i64>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_number()
                .and_then(|n| n.as_i64())
                .map(Some)
                .ok_or_else(|| Self::wrong(name, "an integer", v)),
        }
    }

    /// The number member `name`, or `None` when missing.
    pub fn opt_f64(&self, name: &str) -> Result<Option<f64>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_number()
                .map(|n| Some(n.as_f64()))
                .ok_or_else(|| Self::wrong(name, "a number", v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Args {
        Args::new(json::parse(text).unwrap())
    }

    #[test]
    fn getters_name_the_field_in_errors() {
        let a = args(r#"{"s":"x","n":3,"neg":-1,"f":1.5,"b":true}"#);
        assert_eq!(a.str("s").unwrap(), "x");
        assert_eq!(a.opt_u64("n").unwrap(), Some(3));
        assert_eq!(a.opt_i64("neg").unwrap(), Some(-1));
        assert_eq!(a.opt_f64("f").unwrap(), Some(1.5));
        assert_eq!(a.opt_bool("b").unwrap(), Some(true));
        assert_eq!(a.opt_str("missing").unwrap(), None);

        let e = a.str("missing").unwrap_err();
        assert_eq!(
            (e.status(), e.message()),
            (Status::InvalidArgument, "missing: required")
        );
        let e = a.str("n").unwrap_err();
        assert_eq!(e.message(), "n: expected a string, got number");
        let e = a.opt_u64("neg").unwrap_err();
        assert_eq!(e.message(), "neg: expected a non-negative integer, got number");
        let e = a.opt_bool("s").unwrap_err();
        assert_eq!(e.message(), "s: expected a boolean, got string");
    }
}
