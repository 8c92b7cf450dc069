//! The `Tool` trait and the operation table a tool is described and dispatched by.

use crate::context::{CallContext, InitContext};
use crate::host::Host;
use crate::json::Value;
use crate::status::{Error, Status};

/// What an operation returns: the result (usually an object) or a failure.
pub type CallResult = Result<Value, Error>;

/// The function that runs an operation: usually a method `fn op(&self, call: &CallContext) ->
/// CallResult` of the tool.
pub type Handler<T> = fn(&T, &CallContext<'_>) -> CallResult;

/// A tool plugin written in Rust: one value of this type per tool instance.
///
/// Handlers take `&self`, and the type must be `Sync`: keep mutable state behind a `Mutex` or
/// atomics. That is sound whether or not the table says `thread_safe` (with it, the host may
/// run several calls of one instance at once; without it, one at a time).
///
/// ```
/// use toolhost_sdk::{json::Value, CallContext, CallResult, Error, Host, Operation, Tool, ToolTable};
///
/// struct Hello;
///
/// impl Hello {
///     fn greet(&self, call: &CallContext) -> CallResult {
///         let args = call.args()?;
///         let name = args.str("name")?;
///         Ok(Value::object([("greeting", Value::from(format!("Hello, {}", name)))]))
///     }
/// }
///
/// impl Tool for Hello {
///     fn table() -> ToolTable<Self> {
///         ToolTable::new("hello", "1.0.0").description("Greets people.").thread_safe(true).operation(
///             Operation::new("greet", Hello::greet)
///                 .description("Returns a greeting for `name`.")
///                 .input_schema(r#"{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}"#),
///         )
///     }
///     fn create(_host: Host) -> Result<Self, Error> {
///         Ok(Hello)
///     }
/// }
/// ```
pub trait Tool: Sized + Send + Sync + 'static {
    /// The tool's name, version, description, flags and operations. Called once for the
    /// descriptor and once per instance for the dispatch; keep it cheap and deterministic.
    fn table() -> ToolTable<Self>;

    /// Creates an instance. `host` is its host services, valid until the instance is dropped.
    fn create(host: Host) -> Result<Self, Error>;

    /// Prepares the instance (open files, connect to backends, read the configuration).
    /// Called at most once, before any call. An `Err` fails the tool's start with its message.
    fn initialize(&mut self, _init: &InitContext<'_>) -> Result<(), Error> {
        Ok(())
    }

    /// Releases what `initialize()` acquired, after the last call; only if it succeeded. Join
    /// the threads you started here. Then the instance is dropped.
    fn cleanup(&mut self) {}
}

/// One row of the operation table: what the descriptor says about an operation, and its
/// handler.
pub struct Operation<T> {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) input_schema: String,
    pub(crate) output_schema: Option<String>,
    pub(crate) flags: u64,
    pub(crate) role: Option<String>,
    pub(crate) handler: Handler<T>,
}

impl<T> Operation<T> {
    /// An operation `name` (1 to 64 characters of `[A-Za-z0-9_-]`, starting with a letter) run
    /// by `handler`, taking any object (`{"type":"object"}`) until `input_schema` says more.
    pub fn new(name: impl Into<String>, handler: Handler<T>) -> Operation<T> {
        Operation {
            name: name.into(),
            description: String::new(),
            input_schema: r#"{"type":"object"}"#.to_owned(),
            output_schema: None,
            flags: 0,
            role: None,
            handler,
        }
    }

    /// What it does, for people and for AI agents choosing a tool.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// JSON Schema (draft-07) of the arguments object; the host validates arguments against it
    /// before the handler runs.
    pub fn input_schema(mut self, schema: impl Into<String>) -> Self {
        self.input_schema = schema.into();
        self
    }

    /// JSON Schema (draft-07) of the result.
    pub fn output_schema(mut self, schema: impl Into<String>) -> Self {
        self.output_schema = Some(schema.into());
        self
    }

    /// `TOOLHOST_OPERATION_*` flags (see [`crate::flags`]).
    pub fn flags(mut self, flags: u64) -> Self {
        self.flags = flags;
        self
    }

    /// What it serves to MCP clients instead of being a tool, as JSON text (ABI 1.1 roles:
    /// resource_list, resource_read, prompt, completion; see docs/plugin-abi.md).
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }

    /// The operation's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A tool described by one table: the SDK derives the descriptor and the dispatch from the same
/// rows, so an operation the table does not list is answered in one place.
pub struct ToolTable<T> {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) description: String,
    pub(crate) config_schema: Option<String>,
    pub(crate) thread_safe: bool,
    pub(crate) operations: Vec<Operation<T>>,
}

impl<T> ToolTable<T> {
    /// A tool `name` (unique among loaded tools; 1 to 64 characters of `[A-Za-z0-9_-]`,
    /// starting with a letter) of version `version` (the tool's own, not the ABI's).
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> ToolTable<T> {
        ToolTable {
            name: name.into(),
            version: version.into(),
            description: String::new(),
            config_schema: None,
            thread_safe: false,
            operations: Vec::new(),
        }
    }

    /// What the tool is for.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// JSON Schema (draft-07) of the configuration object; without one the tool takes none.
    pub fn config_schema(mut self, schema: impl Into<String>) -> Self {
        self.config_schema = Some(schema.into());
        self
    }

    /// Whether the host may run several calls of one instance at once.
    pub fn thread_safe(mut self, thread_safe: bool) -> Self {
        self.thread_safe = thread_safe;
        self
    }

    /// Adds an operation.
    pub fn operation(mut self, operation: Operation<T>) -> Self {
        self.operations.push(operation);
        self
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operations, in table order.
    pub fn operations(&self) -> &[Operation<T>] {
        &self.operations
    }

    /// Runs the operation the call names. The host only sends operations the descriptor lists,
    /// so UNIMPLEMENTED is for a host that does not check.
    pub fn dispatch(&self, tool: &T, call: &CallContext<'_>) -> CallResult {
        let wanted = call.operation();
        match self.operations.iter().find(|op| op.name == wanted) {
            Some(op) => (op.handler)(tool, call),
            None => Err(Error::new(
                Status::Unimplemented,
                format!("{} has no operation '{}'", self.name, wanted),
            )),
        }
    }
}
