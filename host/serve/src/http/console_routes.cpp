// The operator's console (docs/operations.md): GET /admin, the page (built into the program from
// src/console/console.html); GET /, a redirect to it; GET /v1/admin/status, what it shows
// (console/admin_console.hpp). Behind the same authentication as every other route; a browser
// sends the token as the password of Basic credentials. 404 when serve.http.console is off.
#include "auth/base64url.hpp"
#include "console/admin_console.hpp"
#include "handlers.hpp"

#include "console_page.hpp"  // generated: console_page, the text of console.html

#include <toolhost/json_text.hpp>

#include <openssl/sha.h>

namespace toolhost::serve::detail {
namespace {

bool console_on(const route_services& s, exchange& ex) {
    if (s.console != nullptr) return true;
    ex.error(bhttp::status::not_found, "Not Found: the console is off (serve.http.console)");
    return false;
}

// The page runs its one inline script and nothing else: no other script, no resource from
// anywhere, requests to this server only. The script is allowed by its hash (CSP Level 2).
const std::string& content_security_policy() {
    static const std::string policy = [] {
        const std::string_view page = console_page;
        std::string script_hash;
        const auto open = page.find("<script>");
        const auto close = page.find("</script>");
        if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
            const std::string_view script = page.substr(open + 8, close - open - 8);
            unsigned char digest[SHA256_DIGEST_LENGTH];
            SHA256(reinterpret_cast<const unsigned char*>(script.data()), script.size(), digest);
            script_hash = " 'sha256-" +
                          auth::base64_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest)) +
                          "'";
        }
        return "default-src 'none'; script-src" + script_hash +
               "; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; "
               "form-action 'none'; frame-ancestors 'none'";
    }();
    return policy;
}

}  // namespace

void console_page_route(const route_services& s, exchange& ex) {
    if (!console_on(s, ex) || !only(ex, bhttp::verb::get, "GET")) return;
    response& r = ex.start(bhttp::status::ok);
    r.set("Content-Type", "text/html; charset=utf-8");
    r.set("Cache-Control", "no-store");
    r.set("Content-Security-Policy", content_security_policy());
    r.set("X-Content-Type-Options", "nosniff");
    r.set("Referrer-Policy", "no-referrer");
    r.body() = console_page;
    ex.send();
}

void console_root_route(const route_services& s, exchange& ex) {
    if (!console_on(s, ex) || !only(ex, bhttp::verb::get, "GET")) return;
    response& r = ex.start(bhttp::status::found);
    r.set("Location", "/admin");
    r.set("Content-Type", "text/plain; charset=utf-8");
    r.body() = "The operator's console is at /admin\n";
    ex.send();
}

void console_status_route(const route_services& s, exchange& ex) {
    if (!console_on(s, ex) || !only(ex, bhttp::verb::get, "GET")) return;
    response& r = ex.start(bhttp::status::ok);
    r.set("Content-Type", "application/json");
    r.set("Cache-Control", "no-store");
    r.body() = toolhost::json_text(s.console->status());
    ex.send();
}

}  // namespace toolhost::serve::detail
