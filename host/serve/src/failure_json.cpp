#include <toolhost/serve/failure_json.hpp>

#include <boost/json/object.hpp>
#include <toolhost/json_text.hpp>

namespace toolhost::serve {

std::string failure_json(std::string_view code, std::string_view message) {
    return toolhost::json_text(boost::json::object{{"ok", false}, {"error", {{"code", code}, {"message", message}}}});
}

}  // namespace toolhost::serve
