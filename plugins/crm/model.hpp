// The CRM's data model, shared by both backends: what an operation asks for, the JSON shapes
// every backend returns, and the normalization of e-mail addresses, phone numbers and times that
// happens before any backend sees a value (so both backends store and match the same strings).
#pragma once

#include <toolhost/plugin.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::plugins::crm {

/// "Ada@Example.COM " -> "ada@example.com". Throws INVALID_ARGUMENT naming `field` when it is
/// not an address.
std::string normalize_email(std::string_view email, std::string_view field = "email");

/// Phone numbers to one form: "+<country><number>" (E.164) when the number is international
/// ("+" or "00" prefix) or a default country code is configured (a national trunk "0" is
/// dropped); otherwise the bare national digits. Spaces, dashes, dots, slashes and parentheses
/// are ignored. Throws INVALID_ARGUMENT naming `field` for anything else or a wrong length.
std::string normalize_phone(std::string_view phone, std::string_view default_country_code,
                            std::string_view field = "phone");

/// An ISO 8601 / RFC 3339 date-time with seconds and a zone ("2025-03-01T10:00:00+01:00",
/// fractions allowed) to UTC "YYYY-MM-DDTHH:MM:SSZ". Throws INVALID_ARGUMENT naming `field`.
std::string normalize_time(std::string_view text, std::string_view field = "occurred_at");

/// How get_customer finds a customer: exactly one of these.
struct customer_key {
    enum class kind { id, email, phone } by = kind::id;
    std::string value;  ///< normalized
    std::string_view field() const noexcept;
};

/// One field of an upsert: absent (leave it), null (clear it) or a new value.
struct field_update {
    bool present = false;
    std::optional<std::string> value;
};

struct customer_update {
    std::optional<std::string> id;  ///< the key when given, else the e-mail address is
    field_update name, email, phone, company, tier, notes;

    /// The fields to change as a JSON object: present fields only, null for a cleared one.
    boost::json::object fields_json() const;
};

struct new_interaction {
    std::string customer_id;
    std::string channel;
    std::string summary;
    std::string outcome;
    std::optional<std::string> occurred_at;  ///< normalized; the backend uses now when absent
    std::optional<std::string> idempotency_key;

    /// What a repeated call must agree on to count as the same request.
    std::string fingerprint() const;
};

struct customer_page {
    boost::json::array customers;
    int64_t total = 0;
};

struct upsert_result {
    boost::json::object customer;
    bool created = false;
};

struct log_result {
    boost::json::object interaction;
    bool created = false;
};

/// A customer as the database backends (SQLite, PostgreSQL) store it.
struct customer_row {
    std::string id;
    std::string name;
    std::optional<std::string> email;
    std::optional<std::string> phone;
    std::optional<std::string> company;
    std::string tier = "standard";
    std::optional<std::string> notes;
    std::string created_at;
    std::string updated_at;
};

/// An interaction as the database backends store it; its id is "I-<seq>".
struct interaction_row {
    int64_t seq = 0;
    std::string customer_id;
    std::string channel;
    std::string summary;
    std::string outcome;
    std::string occurred_at;
    std::optional<std::string> idempotency_key;
    std::string created_at;
};

boost::json::object customer_json(const customer_row& c);
boost::json::object interaction_json(const interaction_row& i);

/// The sample ({"customers": [...], "interactions": [...]}) as the database backends store it:
/// values normalized, tier "standard" when it has none, updated_at = created_at, interactions
/// created when they occurred (seq 0: the database numbers them).
struct sample_rows {
    std::vector<customer_row> customers;
    std::vector<interaction_row> interactions;
};
sample_rows read_sample(const boost::json::value& sample);

/// The errors every database backend reports in the same words.
[[noreturn]] void customer_not_found(const customer_key& key);
/// ALREADY_EXISTS: "<field> '<value>' already belongs to customer <owner>".
[[noreturn]] void already_taken(std::string_view field, const std::string& value, std::string_view owner);
/// ALREADY_EXISTS: an idempotency key already used for interaction I-<seq> with other data.
[[noreturn]] void key_reused(const std::string& key, int64_t seq);

/// The words of a search query, every one to be found (at most 8; INVALID_ARGUMENT naming query).
std::vector<std::string_view> search_words(const std::string& query);
/// A LIKE pattern (ESCAPE '\') that finds `word` anywhere, with LIKE's own wildcards escaped and
/// ASCII letters in lower case, for a LIKE that folds ASCII case as SQLite's does.
std::string contains_pattern(std::string_view word);

/// The WHERE clause of a search for `n` words (empty for none): every word must occur in the name,
/// the e-mail address or the company, each a LIKE ... ESCAPE '\\' of contains_pattern(word).
/// `column(name)` is how the dialect reads a column for the comparison, `placeholder(i)` its i-th
/// parameter (from 1). The SQL text depends only on the number of words; the words are bound.
std::string search_filter(size_t n, const std::function<std::string(std::string_view)>& column,
                          const std::function<std::string(size_t)>& placeholder);

/// A customer in the shape every backend returns: id, name, email, phone, company, tier, notes,
/// created_at, updated_at (null when unknown). `where` names the source in errors; a record
/// without a string id or name is INTERNAL (a backend that breaks the contract).
boost::json::object customer_shape(const boost::json::object& record, std::string_view where);
/// An interaction in the shape every backend returns: id, customer_id, channel, summary, outcome,
/// occurred_at, idempotency_key, created_at.
boost::json::object interaction_shape(const boost::json::object& record, std::string_view where);

/// Where customers and interactions live. Implementations throw sdk::error with a fitting status
/// (NOT_FOUND for a missing customer, ALREADY_EXISTS for a taken e-mail address or phone number
/// or an idempotency key reused for different data, UNAVAILABLE for storage or backend trouble).
/// [thread-safe]: every implementation may be called from several threads at once.
class backend {
public:
    virtual ~backend() = default;
    virtual boost::json::object get_customer(const customer_key& key, const sdk::call_context& call) = 0;
    /// Customers whose name, e-mail or company contain every word of `query` (all when empty),
    /// ordered by name, a page at a time.
    virtual customer_page search(const std::string& query, int64_t limit, int64_t offset,
                                 const sdk::call_context& call) = 0;
    /// Updates the customer with update.id (or, without an id, with update.email), or creates it.
    virtual upsert_result upsert(const customer_update& update, const sdk::call_context& call) = 0;
    virtual log_result log_interaction(const new_interaction& interaction, const sdk::call_context& call) = 0;
    /// Newest first. NOT_FOUND when there is no such customer.
    virtual boost::json::array recent_interactions(const std::string& customer_id, int64_t limit,
                                                   const sdk::call_context& call) = 0;
    /// For an error thrown by this backend: may throw it again with the place named (PostgreSQL:
    /// the database's host, port and name, never a password) and the same status.
    virtual void error_context(std::string_view /*operation*/, const sdk::error& /*e*/) const {}
};

}  // namespace toolhost::plugins::crm
