#include "toolhost_plugins/sample.hpp"

#include "toolhost_plugins/paths.hpp"

#include <boost/json/parse.hpp>

namespace toolhost::plugins::sqlite {

namespace {
constexpr std::string_view marker_key = "sample_seeded";
}  // namespace

bool sample_data_wanted(const args& config) {
    if (config.has("seed_sample")) {
        if (config.has("sample_data"))
            invalid_argument("seed_sample", "is the deprecated name of sample_data; give only sample_data");
        return config.bool_or("seed_sample", true);
    }
    return config.bool_or("sample_data", true);
}

bool sample_seeded(database& db, std::string_view meta_table) {
    auto st = db.prepare("SELECT 1 FROM " + std::string(meta_table) + " WHERE key = ?1");
    st.bind(1, marker_key);
    return st.step();
}

bool seed_once(database& db, std::string_view meta_table, const std::function<std::string()>& insert) {
    transaction tx(db);
    // Checked under the write lock: another process may have seeded since any earlier look.
    if (sample_seeded(db, meta_table)) return false;
    const std::string value = insert();
    auto st = db.prepare("INSERT INTO " + std::string(meta_table) + " (key, value) VALUES (?1, ?2)");
    st.bind(1, marker_key).bind(2, value);
    st.run();
    tx.commit();
    return true;
}

int busy_timeout_ms(const args& config) {
    return static_cast<int>(config.int_or("busy_timeout_ms", store_options{}.busy_timeout_ms, 0, 600000));
}

store_options store_options_of(const args& config, const std::filesystem::path& sample_file) {
    store_options o;
    o.busy_timeout_ms = busy_timeout_ms(config);
    o.seed_sample = sample_data_wanted(config);
    if (o.seed_sample) o.sample_json = paths::read_small_file(sample_file, "config/sample_data");
    return o;
}

database open_store(const std::filesystem::path& file, const store_options& options,
                    const std::vector<std::string_view>& migrations, std::string_view meta_table,
                    const std::function<void(database&, const boost::json::value&)>& insert) {
    open_options o;
    o.busy_timeout_ms = options.busy_timeout_ms;
    database db = database::open(file, o);
    migrate(db, migrations);
    if (options.seed_sample)
        seed_once(db, meta_table, [&] {
            insert(db, boost::json::parse(options.sample_json));
            return std::string("true");
        });
    return db;
}

}  // namespace toolhost::plugins::sqlite
