#include <toolhost/logging.hpp>
#include <toolhost/serve/mcp.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <map>
#include <unordered_map>

#ifndef TOOLHOST_VERSION_STRING
#define TOOLHOST_VERSION_STRING "0.0.0"
#endif

namespace toolhost::mcp {

namespace json = boost::json;

namespace {

constexpr std::size_t max_name_length = 64;

bool name_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// FNV-1a, for the suffix that keeps cut names unique.
uint32_t fnv1a(std::string_view s) noexcept {
    uint32_t h = 2166136261u;
    for (unsigned char c : s) h = (h ^ c) * 16777619u;
    return h;
}

// The MCP log levels, least severe first, and the lowest TOOLHOST_LOG_* level each lets through.
struct mcp_level {
    std::string_view name;
    int32_t threshold;
};
constexpr std::array<mcp_level, 8> mcp_levels{{{"debug", TOOLHOST_LOG_TRACE},
                                                {"info", TOOLHOST_LOG_INFO},
                                                {"notice", TOOLHOST_LOG_WARNING},
                                                {"warning", TOOLHOST_LOG_WARNING},
                                                {"error", TOOLHOST_LOG_ERROR},
                                                {"critical", TOOLHOST_LOG_ERROR + 1},
                                                {"alert", TOOLHOST_LOG_ERROR + 1},
                                                {"emergency", TOOLHOST_LOG_ERROR + 1}}};

std::string_view mcp_level_name(int32_t toolhost_level) noexcept {
    switch (toolhost_level) {
    case TOOLHOST_LOG_TRACE:
    case TOOLHOST_LOG_DEBUG: return "debug";
    case TOOLHOST_LOG_INFO: return "info";
    case TOOLHOST_LOG_WARNING: return "warning";
    default: return "error";
    }
}

// A whole number as an integer ("50", not Boost.JSON's "5E1" for the double).
json::value number(double d) {
    if (d >= -9.0e15 && d <= 9.0e15 && d == static_cast<double>(static_cast<int64_t>(d))) return static_cast<int64_t>(d);
    return d;
}

bool modern(std::string_view version) noexcept { return version != "2025-03-26"; }

std::string response(const json::value& id, json::value result) {
    json::object o;
    o["jsonrpc"] = "2.0";
    o["id"] = id;
    o["result"] = std::move(result);
    return json::serialize(o);
}

std::string notification(std::string_view method, json::object params) {
    json::object o;
    o["jsonrpc"] = "2.0";
    o["method"] = method;
    o["params"] = std::move(params);
    return json::serialize(o);
}

// A JSON-RPC id: a string or an integer (MCP forbids null).
bool valid_id(const json::value& id) noexcept { return id.is_string() || id.is_int64() || id.is_uint64(); }

// An object schema for inputSchema/outputSchema: MCP wants "type": "object" at the top.
json::object object_schema(const json::value& schema) {
    json::object o = schema.is_object() ? schema.get_object() : json::object{};
    if (!o.contains("type")) o["type"] = "object";
    return o;
}

bool is_object_schema(const json::value& schema) {
    const auto* o = schema.if_object();
    if (o == nullptr) return false;
    const auto* t = o->if_contains("type");
    return t != nullptr && t->is_string() && t->get_string() == "object";
}

}  // namespace

bool supported_protocol_version(std::string_view v) noexcept {
    return std::find(std::begin(protocol_versions), std::end(protocol_versions), v) != std::end(protocol_versions);
}

std::string apply_name_template(std::string_view tmpl, std::string_view tool, std::string_view operation) {
    std::string out;
    for (std::size_t i = 0; i < tmpl.size();) {
        if (tmpl.substr(i).starts_with("{tool}")) {
            out += tool;
            i += 6;
        } else if (tmpl.substr(i).starts_with("{operation}")) {
            out += operation;
            i += 11;
        } else {
            out += name_char(tmpl[i]) ? tmpl[i] : '_';
            ++i;
        }
    }
    return out;
}

std::string error_response(const json::value& id, int code, std::string_view message, const json::value* data) {
    json::object err;
    err["code"] = code;
    err["message"] = message;
    if (data != nullptr) err["data"] = *data;
    json::object o;
    o["jsonrpc"] = "2.0";
    o["id"] = id;
    o["error"] = std::move(err);
    return json::serialize(o);
}

// ------------------------------------------------------------------------------------ catalog

struct server::catalog {
    struct entry {
        std::string name;  // the MCP name
        std::string tool;
        std::string operation;
        bool content_result = false;
        bool object_output = false;  // outputSchema declared (an object schema)
        bool run_inline = false;     // nonblocking operation of a thread-safe tool
        operation_ref ref;           // for host::call_inline
        json::object listing;        // the tools/list entry for 2025-06-18 and later
        json::object legacy;         // ... for 2025-03-26 (no title, no outputSchema)
    };
    std::vector<entry> entries;
    std::map<std::string, std::size_t, std::less<>> by_name;  // (looked up by string_view, no copy)
    std::vector<std::string> problems;
    std::string fingerprint;

    const entry* find(std::string_view name) const {
        auto it = by_name.find(name);
        return it == by_name.end() ? nullptr : &entries[it->second];
    }
};

namespace {

std::shared_ptr<const server::catalog> build_catalog(toolhost::host& h, const server_options& o);

}  // namespace

// ------------------------------------------------------------------------------------ session

namespace {

// A request of the server's to the client (sampling, elicitation), waiting for its answer.
struct pending_request {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    json::value answer;  // the response object ("result" or "error")
};

}  // namespace

struct session::state {
    mutable std::mutex m;
    bool stateless = false;
    bool initialized = false;     // initialize answered
    bool client_ready = false;    // notifications/initialized received
    bool closed = false;
    std::string version;
    json::object client_capabilities;
    std::atomic<int32_t> log_threshold{TOOLHOST_LOG_INFO};
    std::shared_ptr<standalone_stream> standalone;
    // tools/call requests in flight, by the serialized JSON-RPC id, with their cancellation.
    std::unordered_map<std::string, std::shared_ptr<boost::asio::cancellation_signal>> in_flight;
    std::unordered_map<int64_t, std::shared_ptr<pending_request>> pending;
    int64_t next_request_id = 1;
    std::chrono::steady_clock::time_point last_activity = std::chrono::steady_clock::now();
};

namespace {

// The client of one tools/call, as the plugin sees it (call_peer): log messages become
// notifications/message and requests go to the client on the call's exchange.
class client_peer final : public call_peer {
public:
    client_peer(std::weak_ptr<session> s, session::state* st, std::shared_ptr<exchange> out,
                std::chrono::milliseconds timeout, bool inline_call)
        : session_(std::move(s)), st_(st), out_(std::move(out)), timeout_(timeout), inline_call_(inline_call) {}

    bool wants_log(int32_t level) const noexcept override {
        return level >= st_->log_threshold.load(std::memory_order_relaxed);
    }

    void log(int32_t level, std::string_view logger, std::string_view message) noexcept override {
        try {
            auto keep = session_.lock();
            if (!keep) return;
            out_->send(notification("notifications/message",
                                    {{"level", mcp_level_name(level)}, {"logger", logger}, {"data", message}}));
        } catch (...) {
        }
    }

    call_result request(std::string_view method, std::string_view params, const call_control& control) noexcept override {
        try {
            return request_impl(method, params, control);
        } catch (const std::exception& e) {
            return make_tool_error(status_code::internal, std::string("asking the client failed: ") + e.what());
        }
    }

private:
    call_result request_impl(std::string_view method, std::string_view params, const call_control& control) {
        // The answer would arrive on the very thread this call blocks.
        if (inline_call_)
            return make_tool_error(status_code::failed_precondition,
                                   "an operation flagged NONBLOCKING cannot wait for the client's answer to " +
                                       std::string(method) + "; drop the flag");
        auto keep = session_.lock();
        if (!keep) return make_tool_error(status_code::unavailable, "the MCP session has ended");
        std::string_view capability = method.starts_with("sampling/")      ? "sampling"
                                      : method.starts_with("elicitation/") ? "elicitation"
                                      : method.starts_with("roots/")       ? "roots"
                                                                           : "";
        json::value p;
        if (!params.empty()) {
            boost::system::error_code ec;
            p = json::parse(params, ec);
            if (ec || !p.is_object())
                return make_tool_error(status_code::invalid_argument,
                                  "the params of " + std::string(method) + " must be a JSON object");
        }
        auto pr = std::make_shared<pending_request>();
        int64_t id = 0;
        {
            std::lock_guard lock(st_->m);
            if (st_->closed) return make_tool_error(status_code::unavailable, "the MCP session has ended");
            if (!capability.empty() && !st_->client_capabilities.contains(capability))
                return make_tool_error(status_code::failed_precondition,
                                  "the MCP client did not declare the '" + std::string(capability) +
                                      "' capability, so it cannot answer " + std::string(method));
            id = st_->next_request_id++;
            st_->pending.emplace(id, pr);
        }
        auto forget = [&] {
            std::lock_guard lock(st_->m);
            st_->pending.erase(id);
        };
        json::object req{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
        if (!p.is_null()) req["params"] = std::move(p);
        if (!out_->send(json::serialize(req))) {
            forget();
            return make_tool_error(status_code::unavailable, "the MCP client's stream is gone; cannot send " + std::string(method));
        }
        const auto give_up = std::chrono::steady_clock::now() + timeout_;
        std::unique_lock lock(pr->m);
        for (;;) {
            if (pr->cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return pr->done; })) break;
            const bool cancelled = control.cancel_requested();
            const bool late = control.cancelled() || std::chrono::steady_clock::now() >= give_up;
            if (cancelled || late) {
                lock.unlock();
                forget();
                out_->send(notification("notifications/cancelled",
                                        {{"requestId", id}, {"reason", cancelled ? "the tool call was cancelled" : "timed out"}}));
                if (cancelled) return make_tool_error(status_code::cancelled, std::string(method) + " cancelled with its call");
                return make_tool_error(status_code::deadline_exceeded,
                                  "the MCP client did not answer " + std::string(method) + " in time");
            }
        }
        const json::object& answer = pr->answer.as_object();
        if (const auto* r = answer.if_contains("result")) return json::serialize(*r);
        std::string text = "the MCP client answered " + std::string(method) + " with an error";
        if (const auto* e = answer.if_contains("error"); e && e->is_object()) {
            if (const auto* c = e->get_object().if_contains("code")) text += " " + json::serialize(*c);
            if (const auto* m = e->get_object().if_contains("message"); m && m->is_string())
                text += ": " + std::string(m->get_string());
        }
        return make_tool_error(status_code::unavailable, std::move(text));
    }

    std::weak_ptr<session> session_;
    session::state* st_;  // valid while session_ locks
    std::shared_ptr<exchange> out_;
    std::chrono::milliseconds timeout_;
    bool inline_call_;
};

}  // namespace

session::session(server& srv, std::string id, bool stateless)
    : server_(srv), id_(std::move(id)), st_(std::make_unique<state>()) {
    st_->stateless = stateless;
    if (stateless) {
        st_->initialized = true;
        st_->client_ready = true;
        st_->version = std::string(latest_protocol_version);
    }
}

session::~session() { close(); }

bool session::initialized() const noexcept {
    std::lock_guard lock(st_->m);
    return st_->initialized;
}

std::string session::protocol_version() const {
    std::lock_guard lock(st_->m);
    return st_->version;
}

void session::set_standalone(std::shared_ptr<standalone_stream> s) {
    std::lock_guard lock(st_->m);
    st_->standalone = std::move(s);
}

bool session::closed() const noexcept {
    std::lock_guard lock(st_->m);
    return st_->closed;
}

std::size_t session::in_flight() const {
    std::lock_guard lock(st_->m);
    return st_->in_flight.size();
}

std::chrono::steady_clock::time_point session::last_activity() const {
    std::lock_guard lock(st_->m);
    return st_->last_activity;
}

void session::close() {
    std::vector<std::shared_ptr<boost::asio::cancellation_signal>> calls;
    std::vector<std::shared_ptr<pending_request>> waiting;
    {
        std::lock_guard lock(st_->m);
        if (st_->closed) return;
        st_->closed = true;
        st_->standalone.reset();
        for (auto& [id, sig] : st_->in_flight) calls.push_back(sig);
        for (auto& [id, p] : st_->pending) waiting.push_back(p);
        st_->pending.clear();
        // Emitting under the lock: a call's completion removes its entry under the same lock, so
        // no signal is emitted while its slot is being torn down.
        for (auto& sig : calls) sig->emit(boost::asio::cancellation_type::terminal);
    }
    for (auto& p : waiting) {
        std::lock_guard lock(p->m);
        p->done = true;
        p->answer = json::object{{"error", {{"code", internal_error}, {"message", "the MCP session ended"}}}};
        p->cv.notify_all();
    }
}

void session::handle(std::string_view message, std::shared_ptr<exchange> out) {
    boost::system::error_code ec;
    json::value v = json::parse(message, ec);
    if (ec) {
        out->finish(error_response(nullptr, parse_error, "parse error: the message is not valid JSON (" + ec.message() + ")"));
        return;
    }
    handle(std::move(v), std::move(out));
}

namespace {

struct dispatch_error {
    int code;
    std::string message;
};

}  // namespace

void session::handle(json::value message, std::shared_ptr<exchange> out) {
    {
        std::lock_guard lock(st_->m);
        st_->last_activity = std::chrono::steady_clock::now();
    }
    if (message.is_array()) {
        out->finish(error_response(nullptr, invalid_request,
                                   "JSON-RPC batches are not supported (MCP removed them in 2025-06-18); send one "
                                   "message per request"));
        return;
    }
    if (!message.is_object()) {
        out->finish(error_response(nullptr, invalid_request, "invalid request: a JSON-RPC message must be an object"));
        return;
    }
    json::object& msg = message.get_object();
    const json::value* idp = msg.if_contains("id");
    const json::value id = idp != nullptr && valid_id(*idp) ? *idp : json::value(nullptr);
    const json::value* jsonrpc = msg.if_contains("jsonrpc");
    if (jsonrpc == nullptr || !jsonrpc->is_string() || jsonrpc->get_string() != "2.0") {
        out->finish(error_response(id, invalid_request, "invalid request: \"jsonrpc\" must be \"2.0\""));
        return;
    }
    const json::value* method = msg.if_contains("method");
    if (method == nullptr) {
        // A response to one of our requests.
        if (idp == nullptr || (!msg.contains("result") && !msg.contains("error"))) {
            out->finish(error_response(id, invalid_request, "invalid request: no \"method\", and not a response"));
            return;
        }
        std::shared_ptr<pending_request> p;
        if (idp->is_int64() || idp->is_uint64()) {
            std::lock_guard lock(st_->m);
            if (auto it = st_->pending.find(idp->to_number<int64_t>()); it != st_->pending.end()) {
                p = it->second;
                st_->pending.erase(it);
            }
        }
        if (p) {
            std::lock_guard lock(p->m);
            p->answer = std::move(message);
            p->done = true;
            p->cv.notify_all();
        } else {
            logging::write(logging::level::debug, "mcp", "response to no pending request ignored",
                           {{"session", id_}, {"id", json::serialize(*idp)}});
        }
        out->finish({});
        return;
    }
    if (!method->is_string()) {
        out->finish(error_response(id, invalid_request, "invalid request: \"method\" must be a string"));
        return;
    }
    const std::string_view name = method->get_string();
    // (Not msg["params"]: operator[] may grow the table and invalidate `idp` and `method`.)
    json::value* given = msg.if_contains("params");
    json::value params = given != nullptr ? std::move(*given) : json::value(json::object{});
    if (!params.is_object()) {
        if (idp != nullptr) {
            out->finish(error_response(id, invalid_params, "invalid params: \"params\" must be an object"));
        } else {
            out->finish({});
        }
        return;
    }
    if (idp == nullptr) {  // a notification
        on_notification(name, params.get_object());
        out->finish({});
        return;
    }
    if (!valid_id(*idp)) {
        out->finish(error_response(nullptr, invalid_request, "invalid request: \"id\" must be a string or an integer"));
        return;
    }
    on_request(name, id, std::move(params.get_object()), std::move(out));
}

void session::send_standalone(const std::string& message) {
    std::shared_ptr<standalone_stream> s;
    {
        std::lock_guard lock(st_->m);
        if (!st_->initialized || st_->closed) return;
        s = st_->standalone;
    }
    if (s) s->send(message);
}

void session::on_notification(std::string_view method, const json::object& params) {
    if (method == "notifications/initialized") {
        std::lock_guard lock(st_->m);
        st_->client_ready = true;
        return;
    }
    if (method == "notifications/cancelled") {
        const json::value* rid = params.if_contains("requestId");
        if (rid == nullptr || !valid_id(*rid)) return;
        const std::string key = json::serialize(*rid);
        std::lock_guard lock(st_->m);
        if (auto it = st_->in_flight.find(key); it != st_->in_flight.end()) {
            it->second->emit(boost::asio::cancellation_type::terminal);
            logging::write(logging::level::debug, "mcp", "call cancelled by the client", {{"session", id_}, {"id", key}});
        }
        return;
    }
    // notifications/roots/list_changed and anything newer: nothing to do.
}

namespace {

json::object tool_error_result(const tool_error& e) {
    std::string text(status_name(e.code));
    text += ": ";
    text += e.message;
    json::object err{{"code", status_name(e.code)}, {"message", e.message}};
    if (e.retry_after) err["retryAfterMs"] = static_cast<int64_t>(e.retry_after->count());
    return {{"content", json::array{json::object{{"type", "text"}, {"text", std::move(text)}}}},
            {"isError", true},
            {"_meta", {{"toolhost/error", std::move(err)}}}};
}

// A tool's result as a tools/call result: content blocks, plus structuredContent from 2025-06-18.
json::object call_result_json(const server::catalog::entry& e, const call_result& r, bool is_modern) {
    if (!r) return tool_error_result(r.error());
    boost::system::error_code ec;
    json::value v = json::parse(*r, ec);
    if (ec)
        return tool_error_result(make_tool_error(
            status_code::internal, e.tool + "." + e.operation + " returned a result that is not valid JSON: " + ec.message()));
    if (e.content_result) {
        json::object* o = v.if_object();
        json::value* content = o ? o->if_contains("content") : nullptr;
        if (content == nullptr || !content->is_array())
            return tool_error_result(make_tool_error(
                status_code::internal,
                e.tool + "." + e.operation + " is declared to return content blocks but its result has no \"content\" array"));
        json::object out{{"content", std::move(*content)}};
        if (is_modern) {
            if (json::value* sc = o->if_contains("structuredContent")) out["structuredContent"] = std::move(*sc);
        }
        if (json::value* err = o->if_contains("isError"); err && err->is_bool()) out["isError"] = err->get_bool();
        return out;
    }
    json::object out{{"content", json::array{json::object{{"type", "text"}, {"text", *r}}}}};
    if (is_modern && v.is_object()) out["structuredContent"] = std::move(v);
    return out;
}

// The tools/call response. A result that is JSON text goes into it as it is (escaped once for the
// text block, spliced in as structuredContent when it is an object) instead of being parsed and
// serialized again: the common case, and the one on every call's path.
std::string call_response(const json::value& id, const server::catalog::entry& e, const call_result& r, bool is_modern) {
    if (r && !e.content_result && is_valid_json(*r)) {
        const std::string_view text = *r;
        const auto first = text.find_first_not_of(" \t\r\n");
        const bool object = first != std::string_view::npos && text[first] == '{';
        std::string out;
        out.reserve(96 + 2 * text.size());
        out += R"({"jsonrpc":"2.0","id":)";
        out += json::serialize(id);
        out += R"(,"result":{"content":[{"type":"text","text":)";
        out += json::serialize(json::string_view(text.data(), text.size()));
        out += "}]";
        if (object && is_modern) {
            out += R"(,"structuredContent":)";
            out += text;
        }
        out += "}}";
        return out;
    }
    return response(id, call_result_json(e, r, is_modern));
}

}  // namespace

void session::on_request(std::string_view method, const json::value& id, json::object params,
                         std::shared_ptr<exchange> out) {
    if (method == "ping") {
        out->finish(response(id, json::object{}));
        return;
    }
    if (method == "initialize") {
        const json::value* pv = params.if_contains("protocolVersion");
        if (pv == nullptr || !pv->is_string()) {
            out->finish(error_response(id, invalid_params, "invalid params: initialize needs \"protocolVersion\" (a string)"));
            return;
        }
        std::string version = supported_protocol_version(pv->get_string()) ? std::string(pv->get_string())
                                                                           : std::string(latest_protocol_version);
        bool again = false;
        {
            std::lock_guard lock(st_->m);
            again = st_->initialized && !st_->stateless;
            if (!again) {
                st_->version = version;
                if (const auto* c = params.if_contains("capabilities"); c && c->is_object())
                    st_->client_capabilities = c->get_object();
                st_->initialized = true;
            }
        }
        if (again) {
            out->finish(error_response(id, invalid_request, "invalid request: the session is already initialized"));
            return;
        }
        const auto& o = server_.options();
        json::object info{{"name", o.server_name},
                          {"version", o.server_version.empty() ? std::string(TOOLHOST_VERSION_STRING) : o.server_version}};
        if (modern(version)) info["title"] = o.server_title;
        json::object result{{"protocolVersion", version},
                            {"capabilities", {{"tools", {{"listChanged", true}}}, {"logging", json::object{}}}},
                            {"serverInfo", std::move(info)}};
        if (!o.instructions.empty()) result["instructions"] = o.instructions;
        out->finish(response(id, std::move(result)));
        return;
    }
    std::string version;
    bool closed = false, initialized = false;
    {
        std::lock_guard lock(st_->m);
        closed = st_->closed;
        initialized = st_->initialized;
        version = st_->version;
    }
    // (Answers outside the lock: an exchange may call back into the session.)
    if (closed) {
        out->finish(error_response(id, invalid_request, "the session has ended"));
        return;
    }
    if (!initialized) {
        out->finish(error_response(id, invalid_request, "invalid request: the session is not initialized; send initialize first"));
        return;
    }
    if (method == "tools/list") {
        auto cat = server_.current();
        std::size_t offset = 0;
        if (const auto* c = params.if_contains("cursor"); c && !c->is_null()) {
            const auto* cs = c->if_string();
            bool ok = cs != nullptr && cs->size() > 5 && std::string_view(*cs).starts_with("page:");
            if (ok) {
                auto [end, err] = std::from_chars(cs->data() + 5, cs->data() + cs->size(), offset);
                ok = err == std::errc() && end == cs->data() + cs->size() && offset <= cat->entries.size();
            }
            if (!ok) {
                out->finish(error_response(id, invalid_params,
                                           "invalid params: \"cursor\" is not a cursor this server gave out"));
                return;
            }
        }
        const std::size_t end = std::min(cat->entries.size(), offset + server_.options().page_size);
        json::array tools;
        tools.reserve(end - offset);
        const bool is_modern = modern(version);
        for (std::size_t i = offset; i < end; ++i)
            tools.push_back(is_modern ? cat->entries[i].listing : cat->entries[i].legacy);
        json::object result{{"tools", std::move(tools)}};
        if (end < cat->entries.size()) result["nextCursor"] = "page:" + std::to_string(end);
        out->finish(response(id, std::move(result)));
        return;
    }
    if (method == "tools/call") {
        call_tool(id, std::move(params), std::move(out));
        return;
    }
    if (method == "logging/setLevel") {
        const json::value* level = params.if_contains("level");
        const mcp_level* found = nullptr;
        if (level != nullptr && level->is_string())
            for (const auto& l : mcp_levels)
                if (l.name == level->get_string()) found = &l;
        if (found == nullptr) {
            out->finish(error_response(id, invalid_params,
                                       "invalid params: \"level\" must be one of debug, info, notice, warning, error, "
                                       "critical, alert, emergency"));
            return;
        }
        st_->log_threshold.store(found->threshold, std::memory_order_relaxed);
        out->finish(response(id, json::object{}));
        return;
    }
    out->finish(error_response(id, method_not_found, "method not found: " + std::string(method)));
}

void session::call_tool(const json::value& id, json::object params, std::shared_ptr<exchange> out) {
    const json::value* name = params.if_contains("name");
    if (name == nullptr || !name->is_string()) {
        out->finish(error_response(id, invalid_params, "invalid params: tools/call needs \"name\" (a string)"));
        return;
    }
    auto cat = server_.current();
    const server::catalog::entry* e = cat->find(name->get_string());
    if (e == nullptr) {
        out->finish(error_response(id, invalid_params, "unknown tool: " + std::string(name->get_string())));
        return;
    }
    json::value arguments = json::object{};
    if (json::value* a = params.if_contains("arguments"); a && !a->is_null()) {
        if (!a->is_object()) {
            out->finish(error_response(id, invalid_params, "invalid params: \"arguments\" must be an object"));
            return;
        }
        arguments = std::move(*a);
    }
    call_options options;
    options.session_id = id_;
    const auto& o = server_.options();
    if (o.call_timeout.count() > 0) options.deadline = std::chrono::steady_clock::now() + o.call_timeout;
    if (const auto* meta = params.if_contains("_meta"); meta && meta->is_object()) {
        const auto& m = meta->get_object();
        if (const auto* tp = m.if_contains("traceparent"); tp && tp->is_string()) options.traceparent = tp->get_string();
        if (const auto* token = m.if_contains("progressToken"); token && valid_id(*token)) {
            options.on_progress = [out, token = *token](double done, double total, std::string_view message) {
                json::object p{{"progressToken", token}, {"progress", number(done)}};
                if (total > 0) p["total"] = number(total);
                if (!message.empty()) p["message"] = message;
                out->send(notification("notifications/progress", std::move(p)));
            };
        }
    }
    if (e->run_inline) {
        // Microseconds on this thread: cheaper than two thread hand-offs. Nothing can cancel it
        // while it runs, so it is not registered as in flight. The call ends before this
        // function returns, so its peer lives on the stack (not owned by the shared_ptr).
        std::string version;
        {
            std::lock_guard lock(st_->m);
            version = st_->version;
        }
        client_peer peer(weak_from_this(), st_.get(), out, o.client_request_timeout, true);
        options.peer = std::shared_ptr<call_peer>(std::shared_ptr<call_peer>(), &peer);
        call_result r = server_.host().call_inline(e->ref, arguments, options);
        options.peer.reset();
        out->finish(call_response(id, *e, r, modern(version)));
        return;
    }
    options.peer = std::make_shared<client_peer>(weak_from_this(), st_.get(), out, o.client_request_timeout, false);

    const std::string key = json::serialize(id);
    auto signal = std::make_shared<boost::asio::cancellation_signal>();
    std::string version;
    bool taken = false;
    {
        std::lock_guard lock(st_->m);
        taken = !st_->in_flight.try_emplace(key, signal).second;
        version = st_->version;
    }
    if (taken) {  // (answered outside the lock: an exchange may call back into the session)
        out->finish(error_response(id, invalid_request, "invalid request: request id " + key + " is already in use"));
        return;
    }
    auto self = shared_from_this();
    server_.host().async_call(
        e->tool, e->operation, std::move(arguments), std::move(options),
        boost::asio::bind_cancellation_slot(
            signal->slot(), [self, cat, e, id, key, out, version = std::move(version)](call_result r) {
                bool cancelled = false;
                {
                    std::lock_guard lock(self->st_->m);
                    self->st_->in_flight.erase(key);
                    cancelled = !r && r.error().code == status_code::cancelled;
                }
                // A request the client cancelled gets no response (the client has stopped waiting).
                if (cancelled) {
                    out->finish({});
                    return;
                }
                out->finish(call_response(id, *e, r, modern(version)));
            }));
}

// ------------------------------------------------------------------------------------- server

namespace {

std::shared_ptr<const server::catalog> build_catalog(toolhost::host& h, const server_options& o) {
    auto cat = std::make_shared<server::catalog>();
    for (const auto& st : h.status()) {
        if (!st.enabled || st.state != tool_state::ready) continue;
        auto factory = h.find(st.name);
        if (!factory) continue;
        const auto& d = factory->descriptor();
        for (const auto& op : d.operations) {
            std::string name = apply_name_template(o.tool_name, d.name, op.name);
            if (name.empty()) name = d.name + "_" + op.name;
            if (name.size() > max_name_length) {
                char suffix[10];
                std::snprintf(suffix, sizeof suffix, "_%08x", fnv1a(d.name + "." + op.name));
                name = name.substr(0, max_name_length - 9) + suffix;
            }
            if (auto it = cat->by_name.find(name); it != cat->by_name.end()) {
                const auto& other = cat->entries[it->second];
                cat->problems.push_back("MCP tool name '" + name + "' of " + d.name + "." + op.name +
                                        " is taken by " + other.tool + "." + other.operation +
                                        "; change serve.mcp.tool_name (it must contain {tool} when operations of "
                                        "different tools share a name)");
                continue;
            }
            server::catalog::entry e;
            e.name = name;
            e.tool = d.name;
            e.operation = op.name;
            e.content_result = (op.flags & TOOLHOST_OPERATION_CONTENT_RESULT) != 0;
            if (o.inline_nonblocking && d.thread_safe && (op.flags & TOOLHOST_OPERATION_NONBLOCKING) != 0) {
                if (auto ref = h.resolve(d.name, op.name)) {
                    e.ref = std::move(*ref);
                    e.run_inline = true;
                }
            }
            std::string description = op.description.empty() ? d.description : op.description;
            if (description.empty()) description = d.name + " " + op.name;
            json::object annotations{{"readOnlyHint", op.read_only()},
                                     {"destructiveHint", !op.read_only() && op.destructive()},
                                     {"idempotentHint", op.idempotent()},
                                     {"openWorldHint", (op.flags & TOOLHOST_OPERATION_OPEN_WORLD) != 0}};
            json::object listing{{"name", name},
                                 {"description", description},
                                 {"inputSchema", object_schema(op.input_schema.source())}};
            e.legacy = listing;
            e.legacy["annotations"] = annotations;
            listing["title"] = d.name + " " + op.name;
            if (op.output_schema && is_object_schema(op.output_schema->source())) {
                listing["outputSchema"] = op.output_schema->source();
                e.object_output = true;
            }
            listing["annotations"] = std::move(annotations);
            e.listing = std::move(listing);
            cat->fingerprint += json::serialize(e.listing);
            cat->fingerprint += '\n';
            cat->by_name.emplace(e.name, cat->entries.size());
            cat->entries.push_back(std::move(e));
        }
    }
    return cat;
}

}  // namespace

server::server(toolhost::host& h, server_options options) : host_(h), options_(std::move(options)) {
    if (options_.page_size == 0) options_.page_size = 100;
    catalog_ = build_catalog(host_, options_);
    for (const auto& p : catalog_->problems) logging::write(logging::level::error, "mcp", p);
    subscription_ = host_.subscribe([this](const host_event& e) { on_host_event(e); });
}

server::~server() {
    host_.unsubscribe(subscription_);
    std::vector<std::shared_ptr<session>> live;
    {
        std::lock_guard lock(mutex_);
        for (auto& w : sessions_)
            if (auto s = w.lock()) live.push_back(std::move(s));
        sessions_.clear();
    }
    for (auto& s : live) s->close();
}

std::shared_ptr<session> server::open_session(std::string id) {
    std::shared_ptr<session> s(new session(*this, std::move(id), false));
    std::lock_guard lock(mutex_);
    // Forget sessions that are gone, so the list stays as long as the live ones.
    std::erase_if(sessions_, [](const std::weak_ptr<session>& w) { return w.expired(); });
    sessions_.push_back(s);
    return s;
}

std::shared_ptr<session> server::stateless_session() {
    return std::shared_ptr<session>(new session(*this, std::string(), true));
}

std::shared_ptr<const server::catalog> server::current() const {
    std::lock_guard lock(mutex_);
    return catalog_;
}

json::array server::tools() const {
    auto cat = current();
    json::array a;
    for (const auto& e : cat->entries) a.push_back(e.listing);
    return a;
}

std::optional<std::pair<std::string, std::string>> server::resolve(std::string_view mcp_name) const {
    auto cat = current();
    if (const auto* e = cat->find(mcp_name)) return std::pair{e->tool, e->operation};
    return std::nullopt;
}

std::vector<std::string> server::naming_problems() const { return current()->problems; }

void server::refresh() {
    auto fresh = build_catalog(host_, options_);
    bool changed = false;
    {
        std::lock_guard lock(mutex_);
        changed = fresh->fingerprint != catalog_->fingerprint;
        if (changed) catalog_ = fresh;
    }
    if (!changed) return;
    for (const auto& p : fresh->problems) logging::write(logging::level::error, "mcp", p);
    logging::write(logging::level::info, "mcp", "tool list changed", {{"tools", fresh->entries.size()}});
    broadcast_list_changed();
}

void server::broadcast_list_changed() {
    std::vector<std::shared_ptr<session>> live;
    {
        std::lock_guard lock(mutex_);
        for (auto& w : sessions_)
            if (auto s = w.lock()) live.push_back(std::move(s));
    }
    const std::string message = notification("notifications/tools/list_changed", {});
    for (auto& s : live) s->send_standalone(message);
}

void server::on_host_event(const host_event& e) {
    if (e.kind != host_event_kind::tool_state_changed) return;
    refresh();
}

}  // namespace toolhost::mcp
