#include "sqlite_backend.hpp"

#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/sample.hpp>
#include <toolhost_plugins/time.hpp>

#include <boost/json/parse.hpp>

#include <cctype>

namespace toolhost::plugins::crm {

namespace json = boost::json;
using sdk::status;

namespace {

const std::vector<std::string_view> migrations = {
    R"sql(
    CREATE TABLE customers (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        email TEXT UNIQUE,
        phone TEXT UNIQUE,
        company TEXT,
        tier TEXT NOT NULL,
        notes TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX customers_by_name ON customers (name COLLATE NOCASE, id);
    CREATE TABLE interactions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        customer_id TEXT NOT NULL REFERENCES customers (id),
        channel TEXT NOT NULL,
        summary TEXT NOT NULL,
        outcome TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        created_at TEXT NOT NULL,
        idempotency_key TEXT UNIQUE,
        fingerprint TEXT NOT NULL
    );
    CREATE INDEX interactions_by_customer ON interactions (customer_id, occurred_at DESC, seq DESC);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    )sql",
};

constexpr std::string_view customer_columns = "id, name, email, phone, company, tier, notes, created_at, updated_at";
constexpr std::string_view interaction_columns =
    "seq, customer_id, channel, summary, outcome, occurred_at, idempotency_key, created_at";

json::object customer_from_row(const sqlite::statement& st) {
    customer_row c;
    st.read_row(c.id, c.name, c.email, c.phone, c.company, c.tier, c.notes, c.created_at, c.updated_at);
    return customer_json(c);
}

json::object interaction_from_row(const sqlite::statement& st) {
    interaction_row i;
    st.read_row(i.seq, i.customer_id, i.channel, i.summary, i.outcome, i.occurred_at, i.idempotency_key, i.created_at);
    return interaction_json(i);
}

// The value a field has after an update.
std::optional<std::string> updated(const field_update& f, const json::value& current) {
    if (!f.present)
        return current.is_string() ? std::optional<std::string>(std::string(current.as_string())) : std::nullopt;
    return f.value;
}

}  // namespace

sqlite_backend::sqlite_backend(const std::filesystem::path& file, const options& opts)
    : db_(sqlite::open_store(file, opts, migrations, "meta", &insert_sample)) {}

void sqlite_backend::insert_sample(sqlite::database& db, const json::value& sample) {
    const auto rows = read_sample(sample);
    auto customer = db.prepare(
        "INSERT INTO customers (id, name, email, phone, company, tier, notes, created_at, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    for (const auto& c : rows.customers) {
        customer.bind_all(c.id, c.name, c.email, c.phone, c.company, c.tier, c.notes, c.created_at, c.updated_at).run();
        customer.reset();
    }
    auto interaction = db.prepare(
        "INSERT INTO interactions (customer_id, channel, summary, outcome, occurred_at, created_at, fingerprint) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'sample')");
    for (const auto& i : rows.interactions) {
        interaction.bind_all(i.customer_id, i.channel, i.summary, i.outcome, i.occurred_at, i.created_at).run();
        interaction.reset();
    }
}

std::optional<json::object> sqlite_backend::find(std::string_view column, std::string_view value) {
    // One constant statement per column: the column name never comes from the caller.
    std::string sql = "SELECT " + std::string(customer_columns) + " FROM customers WHERE ";
    if (column == "email")
        sql += "email = ?1";
    else if (column == "phone")
        sql += "phone = ?1";
    else
        sql += "id = ?1";
    auto st = db_.prepare(sql);
    st.bind(1, value);
    if (!st.step()) return std::nullopt;
    return customer_from_row(st);
}

json::object sqlite_backend::get_customer(const customer_key& key, const sdk::call_context&) {
    std::lock_guard l(m_);
    auto c = find(key.field(), key.value);
    if (!c) customer_not_found(key);
    return std::move(*c);
}

customer_page sqlite_backend::search(const std::string& query, int64_t limit, int64_t offset,
                                     const sdk::call_context&) {
    const auto words = search_words(query);
    const std::string where = search_filter(
        words.size(), [](std::string_view column) { return std::string(column); },
        [](size_t i) { return std::string("?").append(std::to_string(i)); });
    const int limit_index = static_cast<int>(words.size()) + 1;
    std::lock_guard l(m_);
    customer_page page;
    auto count = db_.prepare("SELECT count(*) FROM customers" + where);
    for (size_t i = 0; i < words.size(); ++i) count.bind(static_cast<int>(i) + 1, contains_pattern(words[i]));
    if (count.step()) page.total = count.int64(0);
    auto st = db_.prepare("SELECT " + std::string(customer_columns) + " FROM customers" + where +
                          " ORDER BY name COLLATE NOCASE, id LIMIT ?" + std::to_string(limit_index) + " OFFSET ?" +
                          std::to_string(limit_index + 1));
    for (size_t i = 0; i < words.size(); ++i) st.bind(static_cast<int>(i) + 1, contains_pattern(words[i]));
    st.bind(limit_index, limit).bind(limit_index + 1, offset);
    while (st.step()) page.customers.emplace_back(customer_from_row(st));
    return page;
}

void sqlite_backend::check_unique(std::string_view column, const std::optional<std::string>& value,
                                  std::string_view own_id) {
    if (!value) return;
    auto other = find(column, *value);
    if (other && other->at("id").as_string() != own_id) already_taken(column, *value, other->at("id").as_string());
}

// "C-<1000 + n>", the next number that is free (ids given by callers may have taken some).
std::string sqlite_backend::next_customer_id() {
    auto st = db_.prepare("SELECT COALESCE(MAX(seq), 0) + 1 FROM customers");
    int64_t n = st.step() ? st.int64(0) : 1;
    auto taken = db_.prepare("SELECT 1 FROM customers WHERE id = ?1");
    for (;; ++n) {
        std::string id = "C-" + std::to_string(1000 + n);
        taken.bind(1, id);
        const bool exists = taken.step();
        taken.reset();
        if (!exists) return id;
    }
}

json::object sqlite_backend::insert_customer(const customer_update& u) {
    if (!u.name.present || !u.name.value) invalid_argument("name", "is required to create a customer");
    const std::string id = u.id ? *u.id : next_customer_id();
    check_unique("email", u.email.value, id);
    check_unique("phone", u.phone.value, id);
    const std::string now = time::utc_now();
    auto st = db_.prepare(
        "INSERT INTO customers (id, name, email, phone, company, tier, notes, created_at, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)");
    st.bind_all(id, *u.name.value, u.email.value, u.phone.value, u.company.value, u.tier.value.value_or("standard"),
                u.notes.value, now)
        .run();
    return *find("id", id);
}

// Applies the present fields; false (and no write, so updated_at stays) when nothing changes.
bool sqlite_backend::update_customer(const json::object& current, const customer_update& u) {
    const std::string id(current.at("id").as_string());
    const auto name = updated(u.name, current.at("name"));
    const auto email = updated(u.email, current.at("email"));
    const auto phone = updated(u.phone, current.at("phone"));
    const auto company = updated(u.company, current.at("company"));
    const auto tier = updated(u.tier, current.at("tier"));
    const auto notes = updated(u.notes, current.at("notes"));
    if (!name) invalid_argument("name", "cannot be cleared");
    auto same = [&](const std::optional<std::string>& v, std::string_view key) {
        const auto& c = current.at(key);
        return v ? (c.is_string() && c.as_string() == *v) : c.is_null();
    };
    if (same(name, "name") && same(email, "email") && same(phone, "phone") && same(company, "company") &&
        same(tier, "tier") && same(notes, "notes"))
        return false;
    check_unique("email", email, id);
    check_unique("phone", phone, id);
    auto st = db_.prepare(
        "UPDATE customers SET name = ?1, email = ?2, phone = ?3, company = ?4, tier = ?5, notes = ?6, "
        "updated_at = ?7 WHERE id = ?8");
    st.bind_all(name, email, phone, company, tier.value_or("standard"), notes, time::utc_now(), id).run();
    return true;
}

upsert_result sqlite_backend::upsert(const customer_update& u, const sdk::call_context&) {
    std::lock_guard l(m_);
    sqlite::transaction tx(db_);
    auto current = u.id ? find("id", *u.id) : find("email", u.email.value.value_or(""));
    upsert_result out;
    if (current) {
        update_customer(*current, u);
        out.customer = *find("id", current->at("id").as_string());
    } else {
        out.customer = insert_customer(u);
        out.created = true;
    }
    tx.commit();
    return out;
}

json::object sqlite_backend::load_interaction(int64_t seq) {
    auto st = db_.prepare("SELECT " + std::string(interaction_columns) + " FROM interactions WHERE seq = ?1");
    st.bind(1, seq);
    if (!st.step()) throw sdk::error(status::internal, "interaction I-" + std::to_string(seq) + " vanished");
    return interaction_from_row(st);
}

log_result sqlite_backend::log_interaction(const new_interaction& in, const sdk::call_context&) {
    const std::string fp = in.fingerprint();
    std::lock_guard l(m_);
    sqlite::transaction tx(db_);
    if (in.idempotency_key) {
        auto existing = db_.prepare("SELECT seq, fingerprint FROM interactions WHERE idempotency_key = ?1");
        existing.bind(1, *in.idempotency_key);
        if (existing.step()) {
            if (existing.text(1) != fp) key_reused(*in.idempotency_key, existing.int64(0));
            log_result out{load_interaction(existing.int64(0)), false};
            tx.commit();
            return out;
        }
    }
    if (!find("id", in.customer_id)) customer_not_found({customer_key::kind::id, in.customer_id});
    const std::string now = time::utc_now();
    auto st = db_.prepare(
        "INSERT INTO interactions (customer_id, channel, summary, outcome, occurred_at, created_at, idempotency_key, "
        "fingerprint) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    st.bind_all(in.customer_id, in.channel, in.summary, in.outcome, in.occurred_at.value_or(now), now,
                in.idempotency_key, fp)
        .run();
    log_result out{load_interaction(db_.last_insert_rowid()), true};
    tx.commit();
    return out;
}

json::array sqlite_backend::recent_interactions(const std::string& customer_id, int64_t limit,
                                                const sdk::call_context&) {
    std::lock_guard l(m_);
    if (!find("id", customer_id)) customer_not_found({customer_key::kind::id, customer_id});
    auto st = db_.prepare("SELECT " + std::string(interaction_columns) +
                          " FROM interactions WHERE customer_id = ?1 ORDER BY occurred_at DESC, seq DESC LIMIT ?2");
    st.bind_all(customer_id, limit);
    json::array out;
    while (st.step()) out.emplace_back(interaction_from_row(st));
    return out;
}

}  // namespace toolhost::plugins::crm
