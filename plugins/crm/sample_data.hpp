// The bundled sample customers and interactions (sample/customers.json), compiled into the
// plugin by CMake so that they are found wherever the plugin is installed.
#pragma once

#include <string_view>

namespace toolhost::plugins::crm {

std::string_view sample_customers_json() noexcept;

}  // namespace toolhost::plugins::crm
