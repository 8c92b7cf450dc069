//! The SDK seen from the host: a tool exported with `export_plugin!`, driven through the entry
//! symbol and the C structs by a fake host, as toolhost drives a plugin.

#![deny(unsafe_op_in_unsafe_fn)]

use std::ffi::CStr;
use std::os::raw::{c_char, c_void};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use toolhost_sdk::abi::*;
use toolhost_sdk::json::{self, Value};
use toolhost_sdk::{flags, CallContext, CallResult, Error, Host, InitContext, Operation, Status, Tool, ToolTable};

// ------------------------------------------------------------------------------ the plugin

static DROPS: AtomicUsize = AtomicUsize::new(0);

struct Probe {
    host: Host,
    label: String,
    panic_in_cleanup: bool,
}

impl Probe {
    fn ok(&self, call: &CallContext) -> CallResult {
        let args = call.args()?;
        call.log(toolhost_sdk::LogLevel::Info, "ok called");
        call.progress(1.0, Some(2.0), "half");
        Ok(Value::object([
            ("label", Value::from(self.label.as_str())),
            ("args", args.value().clone()),
            ("request_id", Value::from(call.request_id())),
            ("attempt", Value::from(call.attempt())),
        ]))
    }
    fn fail(&self, _call: &CallContext) -> CallResult {
        Err(Error::not_found("record 7 does not exist"))
    }
    fn fail_ok(&self, _call: &CallContext) -> CallResult {
        Err(Error::new(Status::Ok, "an error built with OK"))
    }
    fn boom(&self, _call: &CallContext) -> CallResult {
        panic!("boom {}", 42)
    }
    fn nested(&self, call: &CallContext) -> CallResult {
        let text = call.call_tool("other", "op", r#"{"x":1}"#)?;
        Ok(Value::object([(
            "nested",
            json::parse(&text).map_err(|e| Error::internal(e.to_string()))?,
        )]))
    }
    fn ask(&self, call: &CallContext) -> CallResult {
        call.ask_client("roots/list", "").map(Value::from)
    }
    fn wait(&self, call: &CallContext) -> CallResult {
        loop {
            call.check_cancelled()?;
        }
    }
    fn announce(&self, _call: &CallContext) -> CallResult {
        self.host.resource_updated("probe://a");
        self.host.resource_list_changed();
        Ok(Value::from(self.host.can_announce_resources()))
    }
}

impl Tool for Probe {
    fn table() -> ToolTable<Self> {
        ToolTable::new("probe", "2.0.0")
            .description("A test tool.")
            .config_schema(r#"{"type":"object"}"#)
            .thread_safe(true)
            .operation(
                Operation::new("ok", Probe::ok)
                    .description("Answers.")
                    .output_schema(r#"{"type":"object"}"#)
                    .flags(flags::IDEMPOTENT | flags::READ_ONLY),
            )
            .operation(Operation::new("fail", Probe::fail))
            .operation(Operation::new("fail_ok", Probe::fail_ok))
            .operation(Operation::new("boom", Probe::boom))
            .operation(Operation::new("nested", Probe::nested))
            .operation(Operation::new("ask", Probe::ask))
            .operation(Operation::new("wait", Probe::wait).flags(flags::CANCELLABLE))
            .operation(
                Operation::new("announce", Probe::announce).role(r#"{"role":"resource_read","uris":["probe://"]}"#),
            )
    }

    fn create(host: Host) -> Result<Self, Error> {
        Ok(Probe {
            host,
            label: String::new(),
            panic_in_cleanup: false,
        })
    }

    fn initialize(&mut self, init: &InitContext) -> Result<(), Error> {
        let config = init.config_json()?;
        if config.get("panic").is_some() {
            panic!("initialize exploded");
        }
        if config.get("fail").is_some() {
            return Err(Error::failed_precondition("config: fail was set"));
        }
        self.label = config.get("label").and_then(Value::as_str).unwrap_or("none").to_owned();
        self.panic_in_cleanup = config.get("panic_in_cleanup").is_some();
        assert_eq!(init.data_dir(), std::path::Path::new("/data/probe"));
        Ok(())
    }

    fn cleanup(&mut self) {
        if self.panic_in_cleanup {
            panic!("cleanup exploded");
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

/// A second tool whose creation fails.
struct Refuses;

impl Tool for Refuses {
    fn table() -> ToolTable<Self> {
        ToolTable::new("refuses", "1.0.0").operation(Operation::new("never", |_: &Refuses, _| Ok(Value::Null)))
    }
    fn create(_host: Host) -> Result<Self, Error> {
        Err(Error::unavailable("backend down"))
    }
}

toolhost_sdk::export_plugin!("probe-plugin", "0.9.0", [Probe, Refuses]);

extern "C" {
    // The symbol export_plugin! defined above, found by its name as the host's dlsym would.
    static toolhost_plugin_entry_v1: ToolhostPluginEntry;
}

fn entry() -> &'static ToolhostPluginEntry {
    // SAFETY: the static is defined (and initialized) by export_plugin! in this crate.
    unsafe { &toolhost_plugin_entry_v1 }
}

// ---------------------------------------------------------------------------- the fake host

fn s(text: &str) -> ToolhostStr {
    ToolhostStr {
        data: text.as_ptr() as *const c_char,
        size: text.len(),
    }
}

fn text_of(s: ToolhostStr) -> String {
    if s.size == 0 {
        return String::new();
    }
    // SAFETY: the plugin passes strings valid for the call.
    String::from_utf8(unsafe { std::slice::from_raw_parts(s.data as *const u8, s.size) }.to_vec()).unwrap()
}

#[derive(Default)]
struct HostLog {
    lines: Mutex<Vec<String>>,
    events: Mutex<Vec<String>>,
}

fn host_log(h: *const ToolhostHost) -> &'static HostLog {
    // SAFETY: host_data is a leaked HostLog (see fake_host).
    unsafe { &*((*h).host_data as *const HostLog) }
}

unsafe extern "C" fn h_log(h: *const ToolhostHost, level: i32, message: ToolhostStr) {
    host_log(h)
        .lines
        .lock()
        .unwrap()
        .push(format!("{}:{}", level, text_of(message)));
}
unsafe extern "C" fn h_log_enabled(_h: *const ToolhostHost, level: i32) -> bool {
    level >= TOOLHOST_LOG_INFO
}

unsafe extern "C" fn nested_call(
    caller: *const ToolhostToolCaller,
    parent: *const ToolhostCall,
    tool: ToolhostStr,
    operation: ToolhostStr,
    arguments: ToolhostStr,
    on_result: ToolhostCallResultFn,
    user: *mut c_void,
) -> ToolhostStatus {
    assert!(!parent.is_null());
    // SAFETY: the caller struct is one of the leaked ones in h_get_extension.
    let fails = unsafe { !(*caller).host_data.is_null() };
    let (status, text) = if fails {
        (TOOLHOST_STATUS_UNAVAILABLE, "other is down".to_owned())
    } else {
        (
            TOOLHOST_STATUS_OK,
            format!(
                r#"{{"tool":"{}","op":"{}","args":{}}}"#,
                text_of(tool),
                text_of(operation),
                text_of(arguments)
            ),
        )
    };
    // SAFETY: the plugin's callback with its own user pointer; the text lives during the call.
    unsafe { on_result.unwrap()(user, status, s(&text)) };
    status
}

unsafe extern "C" fn events_updated(events: *const ToolhostResourceEvents, uri: ToolhostStr) {
    // SAFETY: host_data of the events struct is the HostLog.
    let log = unsafe { &*((*events).host_data as *const HostLog) };
    log.events.lock().unwrap().push(format!("updated {}", text_of(uri)));
}
unsafe extern "C" fn events_list_changed(events: *const ToolhostResourceEvents) {
    // SAFETY: as above.
    let log = unsafe { &*((*events).host_data as *const HostLog) };
    log.events.lock().unwrap().push("list_changed".to_owned());
}

unsafe extern "C" fn h_get_extension(h: *const ToolhostHost, id: *const c_char) -> *const c_void {
    // SAFETY: the plugin passes a NUL-terminated id.
    let id = unsafe { CStr::from_ptr(id) }.to_bytes_with_nul();
    if id == TOOLHOST_EXT_TOOL_CALLER_V1 {
        let caller = Box::leak(Box::new(ToolhostToolCaller {
            struct_size: std::mem::size_of::<ToolhostToolCaller>() as u32,
            host_data: ptr::null_mut(),
            call: Some(nested_call),
        }));
        return caller as *const ToolhostToolCaller as *const c_void;
    }
    if id == TOOLHOST_EXT_RESOURCE_EVENTS_V1 {
        let events = Box::leak(Box::new(ToolhostResourceEvents {
            struct_size: std::mem::size_of::<ToolhostResourceEvents>() as u32,
            // SAFETY: reading host_data of the fake host.
            host_data: unsafe { (*h).host_data },
            updated: Some(events_updated),
            list_changed: Some(events_list_changed),
        }));
        return events as *const ToolhostResourceEvents as *const c_void;
    }
    ptr::null() // no client extension: ask_client is UNIMPLEMENTED
}

fn fake_host() -> &'static ToolhostHost {
    let log: &'static HostLog = Box::leak(Box::new(HostLog::default()));
    Box::leak(Box::new(ToolhostHost {
        struct_size: std::mem::size_of::<ToolhostHost>() as u32,
        abi_version: ToolhostAbiVersion { major: 1, minor: 1 },
        host_data: log as *const HostLog as *mut c_void,
        host_version: b"fake 1.0\0".as_ptr() as *const c_char,
        log: Some(h_log),
        log_enabled: Some(h_log_enabled),
        get_extension: Some(h_get_extension),
    }))
}

#[derive(Default)]
struct Recorder {
    results: Vec<String>,
    errors: Vec<String>,
    logs: Vec<String>,
    progress: Vec<(f64, f64, String)>,
    cancelled: bool,
    remaining_ns: i64,
}

fn rec(c: *const ToolhostCall) -> &'static Mutex<Recorder> {
    // SAFETY: host_data of every test call is a Mutex<Recorder> that outlives it.
    unsafe { &*((*c).host_data as *const Mutex<Recorder>) }
}
unsafe extern "C" fn c_is_cancelled(c: *const ToolhostCall) -> bool {
    rec(c).lock().unwrap().cancelled
}
unsafe extern "C" fn c_remaining(c: *const ToolhostCall) -> i64 {
    rec(c).lock().unwrap().remaining_ns
}
unsafe extern "C" fn c_log(c: *const ToolhostCall, level: i32, m: ToolhostStr) {
    rec(c).lock().unwrap().logs.push(format!("{}:{}", level, text_of(m)));
}
unsafe extern "C" fn c_progress(c: *const ToolhostCall, done: f64, total: f64, m: ToolhostStr) {
    rec(c).lock().unwrap().progress.push((done, total, text_of(m)));
}
unsafe extern "C" fn c_set_result(c: *const ToolhostCall, json: ToolhostStr) {
    rec(c).lock().unwrap().results.push(text_of(json));
}
unsafe extern "C" fn c_set_error(c: *const ToolhostCall, m: ToolhostStr) {
    rec(c).lock().unwrap().errors.push(text_of(m));
}
unsafe extern "C" fn c_retry_after(_c: *const ToolhostCall, _ms: u64) {}

/// Creates and initializes an instance of tool 0 (probe) with `config`.
fn start(config: &str) -> (*mut ToolhostTool, &'static ToolhostHost, ToolhostStatus, Vec<String>) {
    let host = fake_host();
    let mut tool: *mut ToolhostTool = ptr::null_mut();
    // SAFETY: the entry's functions called as the host calls them.
    let status = unsafe { entry().create_tool.unwrap()(0, host, &mut tool) };
    assert_eq!(status, TOOLHOST_STATUS_OK);
    let errors: &'static Mutex<Vec<String>> = Box::leak(Box::new(Mutex::new(Vec::new())));
    unsafe extern "C" fn set_init_error(init: *const ToolhostInitContext, m: ToolhostStr) {
        // SAFETY: host_data is the leaked error list.
        let errors = unsafe { &*((*init).host_data as *const Mutex<Vec<String>>) };
        errors.lock().unwrap().push(text_of(m));
    }
    let init = ToolhostInitContext {
        struct_size: std::mem::size_of::<ToolhostInitContext>() as u32,
        host_data: errors as *const Mutex<Vec<String>> as *mut c_void,
        config: s(config),
        data_dir: s("/data/probe"),
        set_error: Some(set_init_error),
    };
    // SAFETY: the instance's functions called as the host calls them.
    let status = unsafe { (*tool).initialize.unwrap()(tool, &init) };
    let errors = errors.lock().unwrap().clone();
    (tool, host, status, errors)
}

fn invoke_with(
    tool: *mut ToolhostTool,
    operation: &str,
    arguments: &str,
    setup: impl FnOnce(&mut Recorder),
) -> (ToolhostStatus, Recorder) {
    let recorder = Mutex::new(Recorder {
        remaining_ns: i64::MAX,
        ..Recorder::default()
    });
    setup(&mut recorder.lock().unwrap());
    let call = ToolhostCall {
        struct_size: std::mem::size_of::<ToolhostCall>() as u32,
        host_data: &recorder as *const Mutex<Recorder> as *mut c_void,
        operation: s(operation),
        arguments: s(arguments),
        request_id: s("req-1"),
        session_id: s(""),
        traceparent: s(""),
        attempt: 2,
        is_cancelled: Some(c_is_cancelled),
        remaining_ns: Some(c_remaining),
        log: Some(c_log),
        report_progress: Some(c_progress),
        set_result: Some(c_set_result),
        set_error: Some(c_set_error),
        set_retry_after_ms: Some(c_retry_after),
    };
    // SAFETY: the instance's invoke called as the host calls it.
    let status = unsafe { (*tool).invoke.unwrap()(tool, &call) };
    (status, recorder.into_inner().unwrap())
}

fn invoke(tool: *mut ToolhostTool, operation: &str, arguments: &str) -> (ToolhostStatus, Recorder) {
    invoke_with(tool, operation, arguments, |_| {})
}

fn stop(tool: *mut ToolhostTool) {
    // SAFETY: lifecycle functions called once each, last.
    unsafe {
        (*tool).cleanup.unwrap()(tool);
        (*tool).destroy.unwrap()(tool);
    }
}

fn cstr(p: *const c_char) -> &'static str {
    // SAFETY: descriptor strings are NUL-terminated and live while the library is loaded.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap()
}

// ------------------------------------------------------------------------------------ tests

#[test]
fn the_entry_describes_the_plugin_and_its_tools() {
    let e = entry();
    assert_eq!(e.struct_size as usize, std::mem::size_of::<ToolhostPluginEntry>());
    assert_eq!(e.abi_version, ToolhostAbiVersion { major: 1, minor: 1 });
    assert_eq!(cstr(e.plugin_name), "probe-plugin");
    assert_eq!(cstr(e.plugin_version), "0.9.0");
    // SAFETY: the entry's functions called as the host calls them.
    unsafe {
        assert_eq!(e.init.unwrap()(fake_host()), TOOLHOST_STATUS_OK);
        assert_eq!(e.tool_count.unwrap()(), 2);
        assert!(e.tool_descriptor.unwrap()(2).is_null());
        let d = &*e.tool_descriptor.unwrap()(0);
        assert_eq!(d as *const _, e.tool_descriptor.unwrap()(0), "built once");
        assert_eq!(d.struct_size as usize, std::mem::size_of::<ToolhostToolDescriptor>());
        assert_eq!(
            (cstr(d.name), cstr(d.version), cstr(d.description)),
            ("probe", "2.0.0", "A test tool.")
        );
        assert_eq!(cstr(d.config_schema), r#"{"type":"object"}"#);
        assert_eq!(d.flags, TOOLHOST_TOOL_THREAD_SAFE);
        assert_eq!(d.operation_count, 8);
        let ops = std::slice::from_raw_parts(d.operations, d.operation_count as usize);
        let ok = &*ops[0];
        assert_eq!(
            ok.struct_size as usize,
            std::mem::size_of::<ToolhostOperationDescriptor>()
        );
        assert_eq!((cstr(ok.name), cstr(ok.description)), ("ok", "Answers."));
        assert_eq!(cstr(ok.input_schema), r#"{"type":"object"}"#);
        assert_eq!(cstr(ok.output_schema), r#"{"type":"object"}"#);
        assert_eq!(ok.flags, TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_READ_ONLY);
        assert!(ok.role.is_null());
        let fail = &*ops[1];
        assert!(fail.output_schema.is_null());
        assert_eq!(cstr(fail.description), "");
        assert_eq!(cstr((*ops[7]).role), r#"{"role":"resource_read","uris":["probe://"]}"#);
        let r = &*e.tool_descriptor.unwrap()(1);
        assert_eq!((cstr(r.name), r.flags), ("refuses", 0));
        assert!(r.config_schema.is_null());
    }
}

#[test]
fn a_result_is_set_once_and_an_error_with_its_status() {
    let (tool, _host, status, _) = start(r#"{"label":"L"}"#);
    assert_eq!(status, TOOLHOST_STATUS_OK);

    let (status, r) = invoke(tool, "ok", r#"{"a":[1,"x"]}"#);
    assert_eq!(status, TOOLHOST_STATUS_OK);
    assert_eq!(
        r.results,
        vec![r#"{"label":"L","args":{"a":[1,"x"]},"request_id":"req-1","attempt":2}"#]
    );
    assert!(r.errors.is_empty());
    assert_eq!(r.logs, vec!["2:ok called"]);
    assert_eq!(r.progress, vec![(1.0, 2.0, "half".to_owned())]);

    let (status, r) = invoke(tool, "fail", "{}");
    assert_eq!(status, TOOLHOST_STATUS_NOT_FOUND);
    assert_eq!(
        (r.results.len(), r.errors),
        (0, vec!["record 7 does not exist".to_owned()])
    );

    let (status, r) = invoke(tool, "fail_ok", "{}");
    assert_eq!(status, TOOLHOST_STATUS_INTERNAL);
    assert_eq!(r.errors, vec!["an error built with OK"]);

    let (status, r) = invoke(tool, "nope", "{}");
    assert_eq!(status, TOOLHOST_STATUS_UNIMPLEMENTED);
    assert_eq!(r.errors, vec!["probe has no operation 'nope'"]);

    let (status, r) = invoke(tool, "ok", "[1]");
    assert_eq!(status, TOOLHOST_STATUS_INVALID_ARGUMENT);
    assert_eq!(r.errors, vec!["arguments: expected an object, got array"]);
    stop(tool);
}

#[test]
fn a_panic_becomes_internal_with_its_message() {
    let (tool, _host, _, _) = start("{}");
    let (status, r) = invoke(tool, "boom", "{}");
    assert_eq!(status, TOOLHOST_STATUS_INTERNAL);
    assert_eq!(r.errors, vec!["the operation panicked: boom 42"]);
    assert!(r.results.is_empty());
    // The instance keeps working.
    assert_eq!(invoke(tool, "ok", "{}").0, TOOLHOST_STATUS_OK);
    stop(tool);
}

#[test]
fn initialize_reports_errors_and_panics_through_the_init_context() {
    let (tool, _host, status, errors) = start(r#"{"fail":true}"#);
    assert_eq!(status, TOOLHOST_STATUS_FAILED_PRECONDITION);
    assert_eq!(errors, vec!["config: fail was set"]);
    // SAFETY: destroy without cleanup, as the host does after a failed initialize.
    unsafe { (*tool).destroy.unwrap()(tool) };

    let (tool, _host, status, errors) = start(r#"{"panic":true}"#);
    assert_eq!(status, TOOLHOST_STATUS_INTERNAL);
    assert_eq!(errors, vec!["initialize panicked: initialize exploded"]);
    // SAFETY: as above.
    unsafe { (*tool).destroy.unwrap()(tool) };

    let (tool, _host, status, errors) = start("not json");
    assert_eq!(status, TOOLHOST_STATUS_INVALID_ARGUMENT);
    assert_eq!(errors, vec!["config: not valid JSON: invalid literal at offset 0"]);
    // SAFETY: as above.
    unsafe { (*tool).destroy.unwrap()(tool) };
}

#[test]
fn cleanup_panics_are_logged_and_destroy_drops_the_tool() {
    let before = DROPS.load(Ordering::SeqCst);
    let (tool, host, status, _) = start(r#"{"panic_in_cleanup":true}"#);
    assert_eq!(status, TOOLHOST_STATUS_OK);
    stop(tool);
    assert!(DROPS.load(Ordering::SeqCst) > before);
    let lines = host_log(host).lines.lock().unwrap().clone();
    assert_eq!(lines, vec!["4:cleanup panicked: cleanup exploded"]);
}

#[test]
fn a_failed_create_returns_its_status_and_logs_why() {
    let host = fake_host();
    let mut tool: *mut ToolhostTool = ptr::null_mut();
    // SAFETY: the entry's functions called as the host calls them.
    unsafe {
        assert_eq!(
            entry().create_tool.unwrap()(1, host, &mut tool),
            TOOLHOST_STATUS_UNAVAILABLE
        );
        assert!(tool.is_null());
        assert_eq!(
            entry().create_tool.unwrap()(5, host, &mut tool),
            TOOLHOST_STATUS_NOT_FOUND
        );
    }
    assert_eq!(
        host_log(host).lines.lock().unwrap().clone(),
        vec!["4:creating the tool failed: backend down"]
    );
}

#[test]
fn nested_calls_and_client_requests_go_through_the_extensions() {
    let (tool, _host, _, _) = start("{}");
    let (status, r) = invoke(tool, "nested", "{}");
    assert_eq!(status, TOOLHOST_STATUS_OK, "{:?}", r.errors);
    assert_eq!(
        r.results,
        vec![r#"{"nested":{"tool":"other","op":"op","args":{"x":1}}}"#]
    );

    let (status, r) = invoke(tool, "ask", "{}");
    assert_eq!(status, TOOLHOST_STATUS_UNIMPLEMENTED);
    assert_eq!(r.errors, vec!["this host cannot ask clients (no toolhost.client/1)"]);
    stop(tool);
}

#[test]
fn resource_events_reach_the_host() {
    let (tool, host, _, _) = start("{}");
    let (status, r) = invoke(tool, "announce", "{}");
    assert_eq!((status, r.results), (TOOLHOST_STATUS_OK, vec!["true".to_owned()]));
    assert_eq!(
        host_log(host).events.lock().unwrap().clone(),
        vec!["updated probe://a", "list_changed"]
    );
    stop(tool);
}

#[test]
fn cancellation_ends_a_loop_with_cancelled_or_deadline_exceeded() {
    let (tool, _host, _, _) = start("{}");
    let (status, r) = invoke_with(tool, "wait", "{}", |r| r.cancelled = true);
    assert_eq!(status, TOOLHOST_STATUS_CANCELLED);
    assert_eq!(r.errors, vec!["wait: cancelled"]);
    let (status, r) = invoke_with(tool, "wait", "{}", |r| {
        r.cancelled = true;
        r.remaining_ns = -5;
    });
    assert_eq!(status, TOOLHOST_STATUS_DEADLINE_EXCEEDED);
    assert_eq!(r.errors, vec!["wait: the deadline passed"]);
    stop(tool);
}
