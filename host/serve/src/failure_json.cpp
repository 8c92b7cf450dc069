#include <toolhost/serve/failure_json.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace toolhost::serve {

std::string failure_json(std::string_view code, std::string_view message) {
    return boost::json::serialize(boost::json::object{{"ok", false}, {"error", {{"code", code}, {"message", message}}}});
}

}  // namespace toolhost::serve
