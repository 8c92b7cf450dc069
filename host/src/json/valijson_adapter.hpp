#pragma once
// valijson's view of a boost::json::value, after valijson 1.0's own BoostJsonAdapter
// (valijson/adapters/boost_json_adapter.hpp, BSD 2-Clause) with what that one gets wrong about
// values a client may send:
//   - strings are read whole: valijson's copies them with c_str(), so "abc\u0000<anything>"
//     matched "pattern", "enum" and "const" as "abc";
//   - an unsigned integer above INT64_MAX is a number valijson can compare: valijson's saw
//     neither an integer nor a double there and threw from "minimum" ("JSON value cannot be cast
//     to a double"). It reads as a double for comparisons (the value itself is not changed);
//     an unsigned integer that fits int64 is an integer.
// Only json_schema.cpp includes it (valijson is configured there).

#include <valijson/internal/adapter.hpp>
#include <valijson/internal/basic_adapter.hpp>
#include <valijson/internal/frozen_value.hpp>

#include <boost/json/value.hpp>

#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <utility>

namespace toolhost::detail {

class valijson_adapter;
class valijson_array_iterator;
class valijson_member_iterator;
using valijson_member = std::pair<std::string, valijson_adapter>;

class valijson_array {
public:
    using const_iterator = valijson_array_iterator;
    using iterator = valijson_array_iterator;
    valijson_array() : a_(empty()) {}
    explicit valijson_array(const boost::json::value& v) : a_(v.as_array()) {}
    valijson_array_iterator begin() const;
    valijson_array_iterator end() const;
    std::size_t size() const { return a_.size(); }

private:
    static const boost::json::array& empty() {
        static const boost::json::array a;
        return a;
    }
    const boost::json::array& a_;
};

class valijson_object {
public:
    using const_iterator = valijson_member_iterator;
    using iterator = valijson_member_iterator;
    valijson_object() : o_(empty()) {}
    explicit valijson_object(const boost::json::value& v) : o_(v.as_object()) {}
    valijson_member_iterator begin() const;
    valijson_member_iterator end() const;
    valijson_member_iterator find(const std::string& name) const;
    std::size_t size() const { return o_.size(); }

private:
    static const boost::json::object& empty() {
        static const boost::json::object o;
        return o;
    }
    const boost::json::object& o_;
};

class valijson_frozen_value : public valijson::adapters::FrozenValue {
public:
    explicit valijson_frozen_value(const boost::json::value& v) : v_(v) {}
    valijson::adapters::FrozenValue* clone() const override { return new valijson_frozen_value(v_); }
    bool equalTo(const valijson::adapters::Adapter& other, bool strict) const override;

private:
    boost::json::value v_;
};

class valijson_value {
public:
    valijson_value() : v_(empty()) {}
    valijson_value(const boost::json::value& v) : v_(v) {}  // NOLINT: valijson converts implicitly

    valijson::adapters::FrozenValue* freeze() const { return new valijson_frozen_value(v_); }
    std::optional<valijson_array> getArrayOptional() const {
        if (v_.is_array()) return std::make_optional(valijson_array(v_));
        return {};
    }
    bool getArraySize(std::size_t& n) const {
        if (!v_.is_array()) return false;
        n = v_.get_array().size();
        return true;
    }
    bool getBool(bool& b) const {
        if (!v_.is_bool()) return false;
        b = v_.get_bool();
        return true;
    }
    bool getDouble(double& d) const {
        if (v_.is_double()) {
            d = v_.get_double();
            return true;
        }
        if (!big_unsigned()) return false;
        d = static_cast<double>(v_.get_uint64());
        return true;
    }
    bool getInteger(int64_t& i) const {
        if (v_.is_int64()) {
            i = v_.get_int64();
            return true;
        }
        if (!v_.is_uint64() || big_unsigned()) return false;
        i = static_cast<int64_t>(v_.get_uint64());
        return true;
    }
    std::optional<valijson_object> getObjectOptional() const {
        if (v_.is_object()) return std::make_optional(valijson_object(v_));
        return {};
    }
    bool getObjectSize(std::size_t& n) const {
        if (!v_.is_object()) return false;
        n = v_.get_object().size();
        return true;
    }
    bool getString(std::string& s) const {
        if (!v_.is_string()) return false;
        s.assign(v_.get_string().data(), v_.get_string().size());  // whole, NULs included
        return true;
    }
    static bool hasStrictTypes() { return true; }
    bool isArray() const { return v_.is_array(); }
    bool isBool() const { return v_.is_bool(); }
    bool isDouble() const { return v_.is_double() || big_unsigned(); }
    bool isInteger() const { return v_.is_int64() || (v_.is_uint64() && !big_unsigned()); }
    bool isNull() const { return v_.is_null(); }
    bool isNumber() const { return v_.is_number(); }
    bool isObject() const { return v_.is_object(); }
    bool isString() const { return v_.is_string(); }

private:
    bool big_unsigned() const {
        return v_.is_uint64() && v_.get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    }
    static const boost::json::value& empty() {
        static const boost::json::value v;
        return v;
    }
    const boost::json::value& v_;
};

class valijson_adapter : public valijson::adapters::BasicAdapter<valijson_adapter, valijson_array, valijson_member,
                                                                 valijson_object, valijson_value> {
public:
    valijson_adapter() : BasicAdapter() {}
    explicit valijson_adapter(const boost::json::value& v) : BasicAdapter(v) {}
};

class valijson_array_iterator {
public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = valijson_adapter;
    using difference_type = valijson_adapter;  // (as valijson's own iterators declare it)
    using pointer = valijson_adapter*;
    using reference = valijson_adapter&;
    valijson_array_iterator(boost::json::array::const_iterator it) : it_(it) {}  // NOLINT
    valijson_adapter operator*() const { return valijson_adapter(*it_); }
    valijson::adapters::DerefProxy<valijson_adapter> operator->() const {
        return valijson::adapters::DerefProxy<valijson_adapter>(**this);
    }
    bool operator==(const valijson_array_iterator& o) const { return it_ == o.it_; }
    bool operator!=(const valijson_array_iterator& o) const { return it_ != o.it_; }
    const valijson_array_iterator& operator++() {
        ++it_;
        return *this;
    }
    valijson_array_iterator operator++(int) {
        valijson_array_iterator before(it_);
        ++it_;
        return before;
    }
    const valijson_array_iterator& operator--() {
        --it_;
        return *this;
    }
    void advance(std::ptrdiff_t n) { it_ += n; }

private:
    boost::json::array::const_iterator it_;
};

class valijson_member_iterator {
public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = valijson_member;
    using difference_type = valijson_member;
    using pointer = valijson_member*;
    using reference = valijson_member&;
    valijson_member_iterator(boost::json::object::const_iterator it) : it_(it) {}  // NOLINT
    valijson_member operator*() const {
        return valijson_member(std::string(it_->key().data(), it_->key().size()), valijson_adapter(it_->value()));
    }
    valijson::adapters::DerefProxy<valijson_member> operator->() const {
        return valijson::adapters::DerefProxy<valijson_member>(**this);
    }
    bool operator==(const valijson_member_iterator& o) const { return it_ == o.it_; }
    bool operator!=(const valijson_member_iterator& o) const { return it_ != o.it_; }
    const valijson_member_iterator& operator++() {
        ++it_;
        return *this;
    }
    valijson_member_iterator operator++(int) {
        valijson_member_iterator before(it_);
        ++it_;
        return before;
    }
    const valijson_member_iterator& operator--() {
        --it_;
        return *this;
    }

private:
    boost::json::object::const_iterator it_;
};

inline bool valijson_frozen_value::equalTo(const valijson::adapters::Adapter& other, bool strict) const {
    return valijson_adapter(v_).equalTo(other, strict);
}
inline valijson_array_iterator valijson_array::begin() const { return a_.cbegin(); }
inline valijson_array_iterator valijson_array::end() const { return a_.cend(); }
inline valijson_member_iterator valijson_object::begin() const { return o_.cbegin(); }
inline valijson_member_iterator valijson_object::end() const { return o_.cend(); }
inline valijson_member_iterator valijson_object::find(const std::string& name) const { return o_.find(name); }

}  // namespace toolhost::detail

template <>
struct valijson::adapters::AdapterTraits<toolhost::detail::valijson_adapter> {
    using DocumentType = boost::json::value;
    static std::string adapterName() { return "toolhost::detail::valijson_adapter"; }
};
