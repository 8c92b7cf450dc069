#include "commands.hpp"
#include <toolhost/version.hpp>

#include <boost/json/object.hpp>
#include <toolhost/json_text.hpp>

namespace toolhost::cli {

int cmd_help(command_context& c) {
    c.out() << usage_text;
    return exit_code::ok;
}

int cmd_version(command_context& c) {
    if (c.opts().json) {
        c.out() << toolhost::json_text(boost::json::object{
                       {"version", TOOLHOST_VERSION_STRING},
                       {"abi", {{"major", TOOLHOST_ABI_VERSION_MAJOR}, {"minor", TOOLHOST_ABI_VERSION_MINOR}}}})
                << '\n';
    } else {
        c.out() << "toolhost " TOOLHOST_VERSION_STRING " (plugin ABI " << TOOLHOST_ABI_VERSION_MAJOR << '.'
                << TOOLHOST_ABI_VERSION_MINOR << ")\n";
    }
    return exit_code::ok;
}

}  // namespace toolhost::cli
