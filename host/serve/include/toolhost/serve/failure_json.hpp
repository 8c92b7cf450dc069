#pragma once
/// The JSON shape of a failure, shared by the REST API and `toolhost ... --json`.

#include <toolhost/serve/export.hpp>

#include <string>
#include <string_view>

namespace toolhost::serve {

/// A failed call as `toolhost call --json` and the REST API answer it:
/// {"ok":false,"error":{"code":"<code>","message":"<message>"}}.
TOOLHOST_SERVE_API std::string failure_json(std::string_view code, std::string_view message);

}  // namespace toolhost::serve
