#include <toolhost/json_input.hpp>
#include <toolhost/json_source.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace toolhost {
namespace {

namespace json = boost::json;

// Builds the value as json::parser does (a value_stack), and marks integers beyond 64 bits.
class input_handler {
public:
    static constexpr std::size_t max_object_size = json::object::max_size();
    static constexpr std::size_t max_array_size = json::array::max_size();
    static constexpr std::size_t max_key_size = json::string::max_size();
    static constexpr std::size_t max_string_size = json::string::max_size();

    input_handler(unsigned char* temp, std::size_t size) : st(json::storage_ptr(), temp, size) {}

    json::value_stack st;

    bool on_document_begin(json::error_code&) { return true; }
    bool on_document_end(json::error_code&) { return true; }
    bool on_object_begin(json::error_code&) { return true; }
    bool on_object_end(std::size_t n, json::error_code&) {
        st.push_object(n);
        return true;
    }
    bool on_array_begin(json::error_code&) { return true; }
    bool on_array_end(std::size_t n, json::error_code&) {
        st.push_array(n);
        return true;
    }
    bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
        st.push_chars(s);
        return true;
    }
    bool on_key(json::string_view s, std::size_t, json::error_code&) {
        st.push_key(s);
        return true;
    }
    bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
        st.push_chars(s);
        return true;
    }
    bool on_string(json::string_view s, std::size_t, json::error_code&) {
        st.push_string(s);
        return true;
    }
    bool on_number_part(json::string_view s, json::error_code&) {
        number_.append(s.data(), s.size());  // (only when a number is split between writes)
        return true;
    }
    bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
        number_.clear();
        st.push_int64(i);
        return true;
    }
    bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
        number_.clear();
        st.push_uint64(u);
        return true;
    }
    // Boost.JSON reads an integer literal that fits neither int64 nor uint64 as a double. That
    // double is kept when it is the integer exactly (100000000000000000000, 2^64: what
    // JSON.stringify writes for such doubles); otherwise it would silently change the value
    // (123456789012345678901234567890 would read 123456789012345677877719597056), so it becomes
    // infinity instead, which find_out_of_range_number() refuses, as it refuses 1e309 (already
    // infinity here). A literal with a fraction or an exponent is a double as usual.
    bool on_double(double d, json::string_view s, json::error_code&) {
        std::string_view literal(s.data(), s.size());
        if (!number_.empty()) literal = number_.append(s.data(), s.size());
        if (std::isfinite(d) && literal.find_first_of(".eE") == std::string_view::npos && !exact_integer(d, literal))
            d = std::copysign(std::numeric_limits<double>::infinity(), d);
        number_.clear();
        st.push_double(d);
        return true;
    }
    bool on_bool(bool b, json::error_code&) {
        st.push_bool(b);
        return true;
    }
    bool on_null(json::error_code&) {
        st.push_null();
        return true;
    }
    bool on_comment_part(json::string_view, json::error_code&) { return true; }
    bool on_comment(json::string_view, json::error_code&) { return true; }

private:
    // Whether the integral double `d` is exactly the integer `literal` (an optional '-' and
    // digits without leading zeros, as JSON writes integers).
    static bool exact_integer(double d, std::string_view literal) noexcept {
        if (!literal.empty() && literal.front() == '-') literal.remove_prefix(1);
        char digits[400];  // DBL_MAX has 309 digits
        const auto r = std::to_chars(digits, digits + sizeof digits, std::fabs(d), std::chars_format::fixed, 0);
        return r.ec == std::errc() && std::string_view(digits, static_cast<std::size_t>(r.ptr - digits)) == literal;
    }
    std::string number_;  // the parts of a number split between writes
};

}  // namespace

std::string json_input_error::to_string() const { return reason + " at offset " + std::to_string(offset); }

boost::system::result<json::value, json_input_error> parse_json_input(std::string_view text, std::size_t max_depth) {
    json::parse_options options;
    options.max_depth = max_depth;
    unsigned char temp[4096];  // the value stack starts here, as json::parse's does
    json::basic_parser<input_handler> p(options, temp, sizeof temp);
    p.handler().st.reset();
    json::error_code ec;
    // write_some stops where the text stops being JSON and says how far it got: the error's
    // offset comes from this one pass (the end of the text when it ends too early).
    const std::size_t consumed = p.write_some(false, text.data(), text.size(), ec);
    if (!ec && consumed < text.size()) return json_input_error{"unexpected data after the JSON value", consumed};
    if (ec == json::error::too_deep)
        return json_input_error{"nesting deeper than " + std::to_string(max_depth) + " levels", consumed};
    if (ec) return json_input_error{ec.message(), consumed};
    return p.handler().st.release();
}

std::optional<std::string> find_out_of_range_number(const json::value& v) {
    // Depth-first in document order with an explicit stack (a value a program built may nest
    // deeper than any parser allows), on this thread's stack up to 32 levels so that a call's
    // arguments are checked without touching the heap; the pointer is written only when
    // something is found.
    struct frame {
        const json::value* container = nullptr;
        std::size_t next = 0;
    };
    class frames {
    public:
        bool empty() const noexcept { return size_ == 0; }
        frame& back() noexcept { return at(size_ - 1); }
        void pop() noexcept { --size_; }
        void push(const json::value* c) {
            if (size_ >= near_.size()) far_.resize(size_ + 1 - near_.size());
            at(size_++) = frame{c, 0};
        }
        frame& at(std::size_t i) noexcept { return i < near_.size() ? near_[i] : far_[i - near_.size()]; }
        std::size_t size() const noexcept { return size_; }

    private:
        std::array<frame, 32> near_{};
        std::vector<frame> far_;
        std::size_t size_ = 0;
    };
    auto bad = [](const json::value& x) { return x.is_double() && !std::isfinite(x.get_double()); };
    if (bad(v)) return std::string();
    if (!v.is_structured() || (v.is_object() && v.get_object().empty())) return std::nullopt;
    frames stack;
    stack.push(&v);
    while (!stack.empty()) {
        frame& f = stack.back();
        const json::value* child = nullptr;
        if (const auto* a = f.container->if_array()) {
            if (f.next < a->size()) child = &(*a)[f.next];
        } else {
            const auto& o = f.container->get_object();
            if (f.next < o.size()) child = &(o.begin() + f.next)->value();
        }
        if (child == nullptr) {
            stack.pop();
            continue;
        }
        ++f.next;
        if (bad(*child)) {
            std::string pointer;
            for (std::size_t i = 0; i < stack.size(); ++i) {
                const frame& g = stack.at(i);
                pointer += '/';
                if (g.container->is_array())
                    pointer += std::to_string(g.next - 1);
                else
                    pointer += json_pointer_escape((g.container->get_object().begin() + (g.next - 1))->key());
            }
            return pointer;
        }
        if (child->is_structured()) stack.push(child);
    }
    return std::nullopt;
}

}  // namespace toolhost
