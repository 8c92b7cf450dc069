// The bundled sample tickets (sample/tickets.json), compiled into the plugin by CMake so that
// they are found wherever the plugin is installed.
#pragma once

#include <string_view>

namespace toolhost::plugins::escalation {

std::string_view sample_tickets_json() noexcept;

}  // namespace toolhost::plugins::escalation
