//! The Rust SDK for toolhost plugins: a safe layer over the stable C ABI in
//! `sdk/include/toolhost/*.h`, standard library only.
//!
//! A plugin is a `cdylib` with one or more types implementing [`Tool`], each described by a
//! [`ToolTable`] of [`Operation`]s, and one [`export_plugin!`] that exports the entry symbol
//! `toolhost_plugin_entry_v1`:
//!
//! ```
//! use toolhost_sdk::{flags, json::Value, CallContext, CallResult, Error, Host, Operation, Tool, ToolTable};
//!
//! pub struct Hello;
//!
//! impl Hello {
//!     fn greet(&self, call: &CallContext) -> CallResult {
//!         let args = call.args()?;
//!         Ok(Value::object([("greeting", Value::from(format!("Hello, {}", args.str("name")?)))]))
//!     }
//! }
//!
//! impl Tool for Hello {
//!     fn table() -> ToolTable<Self> {
//!         ToolTable::new("hello", "1.0.0").thread_safe(true).operation(
//!             Operation::new("greet", Hello::greet)
//!                 .input_schema(r#"{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}"#)
//!                 .flags(flags::IDEMPOTENT | flags::READ_ONLY),
//!         )
//!     }
//!     fn create(_host: Host) -> Result<Self, Error> {
//!         Ok(Hello)
//!     }
//! }
//!
//! toolhost_sdk::export_plugin!("hello", "1.0.0", [Hello]);
//! ```
//!
//! Conventions, as in the C++ helper (`toolhost/plugin.hpp`): a handler returns the result
//! value (written as compact JSON and handed to `set_result` once) or an [`Error`] (its message
//! goes to `set_error`, its status is returned; an error never carries OK). Strings the host
//! hands out are borrowed for the call; the host copies everything the plugin passes in. A panic
//! in plugin code never crosses the boundary: it becomes INTERNAL with the panic's message.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod abi;
mod context;
#[doc(hidden)]
pub mod export;
mod ffi;
mod host;
pub mod json;
mod status;
mod tool;

pub use context::{Args, CallContext, InitContext};
pub use host::{library_host, plugin_file, Host, LogLevel};
pub use status::{Error, Status};
pub use tool::{CallResult, Handler, Operation, Tool, ToolTable};

/// Operation flags (`TOOLHOST_OPERATION_*`) and tool flags (`TOOLHOST_TOOL_*`).
pub mod flags {
    use crate::abi;

    /// Calling twice with the same arguments equals calling once: the host may retry.
    pub const IDEMPOTENT: u64 = abi::TOOLHOST_OPERATION_IDEMPOTENT;
    /// It changes nothing (a query).
    pub const READ_ONLY: u64 = abi::TOOLHOST_OPERATION_READ_ONLY;
    /// It may delete or overwrite data.
    pub const DESTRUCTIVE: u64 = abi::TOOLHOST_OPERATION_DESTRUCTIVE;
    /// It polls cancellation and stops early when cancelled.
    pub const CANCELLABLE: u64 = abi::TOOLHOST_OPERATION_CANCELLABLE;
    /// It reaches outside the host (other systems, the network, people).
    pub const OPEN_WORLD: u64 = abi::TOOLHOST_OPERATION_OPEN_WORLD;
    /// Its result is an MCP content result (`{"content": [...], "structuredContent"?: {...}}`).
    pub const CONTENT_RESULT: u64 = abi::TOOLHOST_OPERATION_CONTENT_RESULT;
    /// It never blocks and returns within microseconds (see docs/writing-a-plugin.md).
    pub const NONBLOCKING: u64 = abi::TOOLHOST_OPERATION_NONBLOCKING;
}
