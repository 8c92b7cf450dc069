#include "authenticator.hpp"

#include "base64url.hpp"
#include "fetch.hpp"

#include <toolhost/logging.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace toolhost::serve::auth {

namespace json = boost::json;

namespace {

// The whole of both, whatever differs first, so that the time taken tells nothing.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    const std::size_t n = std::max(a.size(), b.size());
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The credential of "Bearer <token>" (the scheme in any case, RFC 7235); nullopt for none.
// The credentials after `scheme` ("bearer ", "basic ": lower case, with the space), or nullopt.
std::optional<std::string_view> credentials(std::string_view authorization, std::string_view scheme) {
    authorization = trim(authorization);
    if (authorization.size() <= scheme.size()) return std::nullopt;
    const auto head = authorization.substr(0, scheme.size());
    if (!std::equal(head.begin(), head.end(), scheme.begin(),
                    [](char a, char b) { return static_cast<char>(a | 0x20) == b; }))
        return std::nullopt;
    const auto rest = trim(authorization.substr(scheme.size()));
    if (rest.empty()) return std::nullopt;
    return rest;
}

// The token of "Bearer <token>", or the password of "Basic base64(<user>:<password>)" (the
// way a browser sends what a person typed; RFC 7617), with `basic` set. A user name is not
// looked at.
std::optional<std::string> presented_token(std::string_view authorization, bool& basic) {
    basic = false;
    if (auto token = credentials(authorization, "bearer ")) return std::string(*token);
    auto encoded = credentials(authorization, "basic ");
    if (!encoded) return std::nullopt;
    auto decoded = base64_decode(*encoded);
    if (!decoded) return std::nullopt;
    const auto colon = decoded->find(':');
    if (colon == std::string::npos || colon + 1 == decoded->size()) return std::nullopt;
    basic = true;
    return decoded->substr(colon + 1);
}

// A quoted-string of an auth-param (RFC 9110 §5.6.4): printable ASCII, '"' and '\' escaped.
// A quoted auth-param value as RFC 6750 (section 3) allows it: printable ASCII without '"' and
// '\\' (a client's parser need not know backslash escapes), which become ' and /.
std::string auth_param(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"')
            out += '\'';
        else if (c == '\\')
            out += '/';
        else
            out += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    return out + '"';
}

std::string join(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
    return out;
}

bool stat_file(const std::string& path, int64_t& mtime_ns, uint64_t& size) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return false;
    mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    size = static_cast<uint64_t>(st.st_size);
    return true;
}

}  // namespace

bool principal::has_scope(std::string_view scope) const noexcept {
    return how != kind::oauth || std::binary_search(scopes.begin(), scopes.end(), scope, std::less<>());
}

// ============================================================================= key_source

key_source::key_source(const oauth_settings& settings) : settings_(settings) {}

boost::system::result<std::unique_ptr<key_source>, std::string> key_source::open(const oauth_settings& settings) {
    std::unique_ptr<key_source> s(new key_source(settings));
    if (auto problem = s->load(); !problem.empty()) return problem;
    s->thread_ = std::thread([p = s.get()] { p->run(); });
    return s;
}

key_source::~key_source() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const key_set> key_source::keys() const {
    std::lock_guard lock(mutex_);
    return keys_;
}

void key_source::missing_key() {
    {
        std::lock_guard lock(mutex_);
        if (wanted_) return;
        wanted_ = true;
    }
    wake_.notify_all();
}

std::string key_source::refresh_now() { return load(); }

std::string key_source::load() {
    std::string text;
    const std::string& from = settings_.jwks_file.empty() ? settings_.jwks_url : settings_.jwks_file;
    int64_t mtime = 0;
    uint64_t size = 0;
    if (!settings_.jwks_file.empty()) {
        if (!stat_file(settings_.jwks_file, mtime, size)) return settings_.jwks_file + ": cannot be read";
        std::ifstream in(settings_.jwks_file, std::ios::binary);
        std::ostringstream buf;
        buf << in.rdbuf();
        if (!in) return settings_.jwks_file + ": cannot be read";
        text = buf.str();
    } else {
        fetch_options options;
        options.ca_file = settings_.jwks_ca_file;
        auto got = fetch(settings_.jwks_url, options);
        if (!got.ok) {
            std::lock_guard lock(mutex_);
            last_load_ = std::chrono::steady_clock::now();
            return got.error;
        }
        text = std::move(got.body);
    }
    auto parsed = key_set::parse(text);
    std::lock_guard lock(mutex_);
    last_load_ = std::chrono::steady_clock::now();
    if (!parsed) return from + ": " + parsed.error();
    if (parsed->size() == 0) return from + ": no key usable for RS256, ES256 or EdDSA";
    for (const auto& why : parsed->skipped())
        logging::write(logging::level::debug, "serve.auth", "signing key left out", {{"keys", from}, {"key", why}});
    keys_ = std::make_shared<const key_set>(std::move(*parsed));
    file_mtime_ns_ = mtime;
    file_size_ = size;
    generation_.fetch_add(1, std::memory_order_acq_rel);
    return {};
}

void key_source::run() {
    using namespace std::chrono;
    std::unique_lock lock(mutex_);
    for (;;) {
        const auto next = last_load_ + milliseconds(settings_.jwks_refresh_ms);
        const auto soonest = last_load_ + milliseconds(settings_.jwks_min_refresh_ms);
        if (stopping_) return;
        if (wanted_ && steady_clock::now() >= soonest) {
            wanted_ = false;
        } else if (steady_clock::now() < next) {
            wake_.wait_until(lock, wanted_ ? soonest : next);
            continue;
        }
        // A file that did not change is not read again.
        if (!settings_.jwks_file.empty()) {
            int64_t mtime = 0;
            uint64_t size = 0;
            if (stat_file(settings_.jwks_file, mtime, size) && mtime == file_mtime_ns_ && size == file_size_) {
                last_load_ = steady_clock::now();
                continue;
            }
        }
        lock.unlock();
        const auto problem = load();
        if (!problem.empty())
            logging::write(logging::level::warning, "serve.auth", "the signing keys could not be refreshed",
                           {{"error", problem}});
        lock.lock();
    }
}

// ========================================================================== authenticator

boost::system::result<std::unique_ptr<authenticator>, std::string> authenticator::create(const serve_settings& settings,
                                                                                         time_source now) {
    std::unique_ptr<key_source> keys;
    if (settings.oauth.enabled()) {
        auto k = key_source::open(settings.oauth);
        if (!k) return "serve.http.oauth: the signing keys: " + k.error();
        keys = std::move(*k);
    }
    return std::unique_ptr<authenticator>(new authenticator(settings, std::move(keys), std::move(now)));
}

authenticator::authenticator(const serve_settings& settings, std::unique_ptr<key_source> keys, time_source now)
    : static_token_(settings.auth_token), oauth_(settings.oauth), keys_(std::move(keys)), now_(std::move(now)) {
    expect_.issuer = oauth_.issuer;
    expect_.audiences = oauth_.audiences;
    expect_.audiences.push_back(oauth_.resource);
    expect_.leeway = std::chrono::seconds(oauth_.leeway_s);
    expect_.algorithms.clear();
    for (const auto& a : oauth_.algorithms)
        if (auto alg = parse_alg(a)) expect_.algorithms.push_back(*alg);
    metadata_path_ = "/.well-known/oauth-protected-resource";
    if (const auto u = boost::urls::parse_absolute_uri(oauth_.resource); u && u->encoded_path() != "/")
        metadata_path_ += std::string(u->encoded_path());
}

std::string authenticator::metadata_url() const {
    const auto u = boost::urls::parse_absolute_uri(oauth_.resource);
    if (!u) return {};
    return std::string(u->scheme()) + "://" + std::string(u->encoded_authority()) + metadata_path_;
}

challenge authenticator::unauthorized(std::string error, std::string description) const {
    challenge c;
    c.status = 401;
    c.message =
        "Unauthorized: " + (description.empty() ? std::string("a valid bearer token is required") : description);
    if (!keys_) {
        c.www_authenticate = "Bearer";
        return c;
    }
    c.www_authenticate = "Bearer resource_metadata=" + auth_param(metadata_url());
    if (!oauth_.required_scopes.empty()) c.www_authenticate += ", scope=" + auth_param(join(oauth_.required_scopes));
    if (!error.empty()) c.www_authenticate += ", error=" + auth_param(error);
    if (!description.empty()) c.www_authenticate += ", error_description=" + auth_param(description);
    return c;
}

std::variant<principal, challenge> authenticator::authenticate(std::string_view authorization) {
    if (!required()) return principal{};
    bool basic = false;
    const auto token = presented_token(authorization, basic);
    if (!token) return unauthorized({}, {});
    if (!static_token_.empty() && constant_time_equal(*token, static_token_))
        return principal{principal::kind::static_token, {}, {}, {}, basic};
    // Basic credentials carry the static token only (a person at the console), never an OAuth
    // access token: those are for programs, which send them as bearer tokens.
    if (basic) return unauthorized({}, {});
    if (!keys_) return unauthorized("invalid_token", "the bearer token is not valid");

    const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now_().time_since_epoch()).count();
    const uint64_t generation = keys_->generation();
    principal who;
    bool cached = false;
    {
        std::lock_guard lock(cache_mutex_);
        if (auto it = cache_.find(std::string(*token)); it != cache_.end()) {
            if (it->second.generation == generation &&
                now_s < it->second.expires_at + static_cast<int64_t>(oauth_.leeway_s)) {
                who = it->second.who;
                cached = true;
            } else {
                cache_.erase(it);
            }
        }
    }
    if (!cached) {
        const auto keys = keys_->keys();
        auto verified_token = verify_token(*token, *keys, expect_, now_());
        if (!verified_token) {
            const auto& f = verified_token.error();
            if (f.problem == token_problem::unknown_key) keys_->missing_key();
            return unauthorized("invalid_token", f.message);
        }
        who.how = principal::kind::oauth;
        who.subject = std::move(verified_token->subject);
        who.client_id = std::move(verified_token->client_id);
        who.scopes = std::move(verified_token->scopes);
        std::lock_guard lock(cache_mutex_);
        if (cache_.size() >= 1024) cache_.clear();  // bounded; rebuilt by the next requests
        cache_.emplace(std::string(*token), verified{who, verified_token->expires_at, generation});
    }
    std::vector<std::string> missing;
    for (const auto& s : oauth_.required_scopes)
        if (!who.has_scope(s)) missing.push_back(s);
    if (!missing.empty()) {
        // As in authorize(): what the token has, with what is missing, so that a client asking
        // for exactly those keeps what it had.
        std::vector<std::string> ask = who.scopes;
        ask.insert(ask.end(), missing.begin(), missing.end());
        challenge c;
        c.status = 403;
        c.message = "Forbidden: the token lacks the scope " + join(missing);
        c.www_authenticate = "Bearer error=\"insufficient_scope\", scope=" + auth_param(join(ask)) +
                             ", resource_metadata=" + auth_param(metadata_url()) +
                             ", error_description=" + auth_param("the token lacks the scope " + join(missing));
        return c;
    }
    return who;
}

std::optional<challenge> authenticator::authorize(const principal& who, std::string_view tool,
                                                  std::string_view operation) const {
    if (who.how != principal::kind::oauth) return std::nullopt;
    std::vector<std::string> needed;
    const std::string qualified = std::string(tool) + "." + std::string(operation);
    for (const auto& [key, list] : oauth_.scopes)
        if (key == tool || key == qualified)
            for (const auto& s : list)
                if (std::find(needed.begin(), needed.end(), s) == needed.end()) needed.push_back(s);
    std::vector<std::string> missing;
    for (const auto& s : needed)
        if (!who.has_scope(s)) missing.push_back(s);
    if (missing.empty()) return std::nullopt;
    // The scope parameter lists everything the call needs, with what the token already has, so
    // that a client asking for exactly those does not lose what it had (MCP: scope challenges).
    std::vector<std::string> ask = who.scopes;
    for (const auto& s : needed)
        if (std::find(ask.begin(), ask.end(), s) == ask.end()) ask.push_back(s);
    challenge c;
    c.status = 403;
    const std::string what = "calling " + qualified + " needs the scope " + join(missing);
    c.message = "Forbidden: " + what;
    c.www_authenticate = "Bearer error=\"insufficient_scope\", scope=" + auth_param(join(ask)) +
                         ", resource_metadata=" + auth_param(metadata_url()) +
                         ", error_description=" + auth_param(what);
    return c;
}

std::string authenticator::metadata_json() const {
    json::object o;
    o["resource"] = oauth_.resource;
    json::array servers;
    for (const auto& s : oauth_.authorization_servers) servers.emplace_back(s);
    o["authorization_servers"] = std::move(servers);
    json::array scopes;
    for (const auto& s : oauth_.scopes_supported) scopes.emplace_back(s);
    if (!scopes.empty()) o["scopes_supported"] = std::move(scopes);
    o["bearer_methods_supported"] = json::array{"header"};
    o["resource_name"] = "toolhost";
    return json::serialize(o);
}

bool authenticator::is_metadata_path(std::string_view path) const noexcept {
    return keys_ && (path == "/.well-known/oauth-protected-resource" || path == metadata_path_);
}

std::string authenticator::refresh_keys() {
    if (!keys_) return {};
    return keys_->refresh_now();
}

}  // namespace toolhost::serve::auth
