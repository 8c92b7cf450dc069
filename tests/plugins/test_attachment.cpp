// The attachment tool (plugins/attachment) through the real host: type detection from the bytes
// (never the name), refusal of executables, scripts and archives built byte by byte here, text
// extraction for text/Markdown/CSV/JSON/HTML/PDF, encodings, limits, allowed folders, base64,
// cancellation, concurrent calls, and handing the text to rag through the host.
#define BOOST_TEST_MODULE attachment
#include <boost/test/unit_test.hpp>

#include <toolhost/host.hpp>
#include <toolhost/logging.hpp>

#include "test_support.hpp"

#include "base64.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/crc.hpp>
#include <boost/json.hpp>

#include <sys/stat.h>

#include <atomic>
#include <cstring>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace toolhost;
using toolhost::plugins::attachment::encode_base64;
using toolhost::test::read_file;
using toolhost::test::temp_dir;
using toolhost::test::write_file;

namespace {

struct quiet_logs {
    quiet_logs() { toolhost::logging::init(toolhost::logging::level::warning, toolhost::logging::format::text); }
};

using toolhost::test::contains;

const fs::path data_dir = TOOLHOST_ATTACHMENT_DATA_DIR;

// A host with the attachment plugin (and optionally rag), an uploads folder it may read, and
// temporary data.
class attachment_env {
public:
    temp_dir dir;
    fs::path plugins = dir / "plugins";
    fs::path uploads = dir / "uploads";
    fs::path var = dir / "var";

    explicit attachment_env(bool with_rag = false) : with_rag_(with_rag) {
        fs::create_directory(plugins);
        fs::create_directory(uploads);
        toolhost::test::copy_into(TOOLHOST_ATTACHMENT_PLUGIN, plugins, "attachment.so");
        if (with_rag) toolhost::test::copy_into(TOOLHOST_RAG_PLUGIN, plugins, "rag.so");
    }

    json::object base_config() const { return {{"allowed_dirs", json::array{uploads.string()}}}; }

    start_report start(const json::object& config, const json::object& rag_config = {}) {
        host_.reset();
        auto c = *default_config([](std::string_view) { return std::optional<std::string>(); });
        c.plugin_dirs = {plugins};
        c.data_dir = var;
        c.threads = 4;
        c.log_level = "warning";
        c.tools["attachment"].config = config;
        if (with_rag_) c.tools["rag"].config = rag_config;
        host_ = std::make_unique<host>(std::move(c));
        host_->load_plugins();
        call_policy p;  // each call's own outcome: no retries, no breaker
        p.retry.max_attempts = 1;
        p.breaker_enabled = false;
        for (const auto& name : host_->list()) BOOST_TEST_REQUIRE(host_->set_policy(name, p).has_value());
        return host_->start({});
    }
    void start() { BOOST_TEST_REQUIRE(start(base_config()).ok()); }

    host& h() { return *host_; }

    fs::path upload(const std::string& name, const std::string& bytes) const {
        write_file(uploads / name, bytes);
        return uploads / name;
    }

    call_result call(json::object args, call_options o = {}, const std::string& tool = "attachment",
                     const std::string& op = "process") {
        return host_->call(tool, op, std::move(args), std::move(o));
    }
    json::object ok(json::object args) {
        auto r = call(std::move(args));
        BOOST_TEST_REQUIRE(r.has_value(), "process failed: " << (r ? "" : r.error().to_string()));
        return json::parse(*r).as_object();
    }
    json::object ok_path(const fs::path& p) { return ok({{"path", p.string()}}); }
    tool_error fails(json::object args) {
        auto r = call(std::move(args));
        BOOST_TEST_REQUIRE(!r.has_value(), "process succeeded: " << (r ? *r : ""));
        return r.error();
    }

private:
    bool with_rag_;
    std::unique_ptr<host> host_;
};

// ------------------------------------------------------------ files built byte by byte

void put16(std::string& s, uint16_t v) {
    s += static_cast<char>(v & 0xFF);
    s += static_cast<char>(v >> 8);
}
void put32(std::string& s, uint32_t v) {
    put16(s, static_cast<uint16_t>(v & 0xFFFF));
    put16(s, static_cast<uint16_t>(v >> 16));
}
uint32_t crc32(std::string_view data) {
    boost::crc_32_type crc;
    crc.process_bytes(data.data(), data.size());
    return crc.checksum();
}

// A zip archive with one stored (uncompressed) file: local header, data, central directory,
// end-of-central-directory record (APPNOTE.TXT 4.3).
std::string make_zip(const std::string& name, const std::string& content) {
    const uint32_t crc = crc32(content);
    const auto size = static_cast<uint32_t>(content.size());
    std::string z = "PK\x03\x04";
    put16(z, 20), put16(z, 0), put16(z, 0), put16(z, 0), put16(z, 0);  // version, flags, stored, time, date
    put32(z, crc), put32(z, size), put32(z, size);
    put16(z, static_cast<uint16_t>(name.size())), put16(z, 0);
    z += name + content;
    const auto central = static_cast<uint32_t>(z.size());
    z += "PK\x01\x02";
    put16(z, 20), put16(z, 20), put16(z, 0), put16(z, 0), put16(z, 0), put16(z, 0);
    put32(z, crc), put32(z, size), put32(z, size);
    put16(z, static_cast<uint16_t>(name.size())), put16(z, 0), put16(z, 0), put16(z, 0), put16(z, 0);
    put32(z, 0), put32(z, 0);  // external attributes, offset of the local header
    z += name;
    const auto central_size = static_cast<uint32_t>(z.size()) - central;
    z += "PK\x05\x06";
    put16(z, 0), put16(z, 0), put16(z, 1), put16(z, 1);
    put32(z, central_size), put32(z, central), put16(z, 0);
    return z;
}

// A POSIX ustar archive with one file: a 512-byte header whose checksum is the byte sum with the
// checksum field read as spaces, the data padded to 512, and two zero blocks.
std::string make_tar(const std::string& name, const std::string& content) {
    std::string h(512, '\0');
    auto field = [&](size_t off, const std::string& v) { std::memcpy(h.data() + off, v.data(), v.size()); };
    auto octal = [](uint64_t v, int width) {
        std::string s(static_cast<size_t>(width - 1), '0');
        for (int i = width - 2; i >= 0 && v; --i, v >>= 3) s[static_cast<size_t>(i)] = static_cast<char>('0' + (v & 7));
        return s;
    };
    field(0, name);
    field(100, octal(0644, 8));
    field(108, octal(0, 8));
    field(116, octal(0, 8));
    field(124, octal(content.size(), 12));
    field(136, octal(0, 12));
    field(148, "        ");
    h[156] = '0';
    field(257, std::string("ustar\0"
                           "00",
                           8));
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    field(148, octal(sum, 7) + std::string("\0 ", 2));
    std::string t = h + content + std::string((512 - content.size() % 512) % 512, '\0');
    return t + std::string(1024, '\0');
}

// gzip of the empty input: header, an empty final stored deflate block, CRC 0, size 0 (RFC 1952).
std::string make_gzip() {
    return std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
}

// A 1x1 PNG: signature, IHDR, IDAT (one zlib-compressed scanline) and IEND, each with its CRC.
std::string make_png() {
    auto chunk = [](const std::string& type, const std::string& body) {
        std::string c;
        const auto len = static_cast<uint32_t>(body.size());
        for (int i = 3; i >= 0; --i) c += static_cast<char>((len >> (8 * i)) & 0xFF);
        c += type + body;
        const uint32_t crc = crc32(type + body);
        for (int i = 3; i >= 0; --i) c += static_cast<char>((crc >> (8 * i)) & 0xFF);
        return c;
    };
    const std::string ihdr("\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00", 13);  // 1x1, 8-bit grey
    const std::string idat("\x78\x9c\x63\x60\x00\x00\x00\x02\x00\x01", 10);
    return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", idat) + chunk("IEND", "");
}

// The start of this test's own executable: an ELF header and program headers, which is what
// libmagic looks at. (The whole file is over the default 20 MiB limit in sanitizer builds.)
std::string self_executable() { return read_file(fs::read_symlink("/proc/self/exe")).substr(0, 256 * 1024); }

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(quiet_logs);

// ================================================================================ extraction

BOOST_AUTO_TEST_SUITE(extraction)

BOOST_AUTO_TEST_CASE(plain_text_and_its_fingerprint) {
    attachment_env env;
    env.start();
    const auto r = env.ok_path(env.upload("abc.txt", "abc"));
    BOOST_TEST(r.at("sha256") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    BOOST_TEST(r.at("bytes") == 3);
    BOOST_TEST(r.at("mime_type") == "text/plain");
    BOOST_TEST(r.at("format") == "text");
    BOOST_TEST(r.at("text") == "abc");
    BOOST_TEST(r.at("text_chars") == 3);
    BOOST_TEST(r.at("truncated") == false);
    BOOST_TEST(r.at("filename") == "abc.txt");
    BOOST_TEST(r.at("path") == json::value(fs::canonical(env.uploads / "abc.txt").string()));
}

BOOST_AUTO_TEST_CASE(markdown_csv_json_html_and_pdf) {
    attachment_env env;
    env.start();
    for (const char* f : {"notes.md", "cities.csv", "order.json", "page.html", "two-pages.pdf"})
        fs::copy_file(data_dir / f, env.uploads / f);

    auto md = env.ok_path(env.uploads / "notes.md");
    BOOST_TEST(md.at("mime_type") == "text/plain");  // libmagic's view of Markdown: it is text
    BOOST_TEST(md.at("text") == json::value(read_file(data_dir / "notes.md")));

    auto csv = env.ok_path(env.uploads / "cities.csv");
    BOOST_TEST(csv.at("mime_type") == "text/csv");
    BOOST_TEST(csv.at("format") == "csv");
    BOOST_TEST(csv.at("rows") == 4);
    BOOST_TEST(csv.at("text") ==
               "city | country | population\nUtrecht | Netherlands | 361966\n"
               "Rotterdam, South Holland | Netherlands | 655468\nQuote \"inside\" | Nowhere | 1 2\n");

    auto js = env.ok_path(env.uploads / "order.json");
    BOOST_TEST(js.at("mime_type") == "application/json");
    BOOST_TEST(js.at("format") == "json");
    BOOST_TEST(contains(js.at("text").as_string(), "\"note\": \"Leave at the door\""));

    auto html = env.ok_path(env.uploads / "page.html");
    BOOST_TEST(html.at("mime_type") == "text/html");
    BOOST_TEST(html.at("format") == "html");
    const std::string t(html.at("text").as_string());
    BOOST_TEST(contains(t, "Delivery notice"));
    BOOST_TEST(contains(t, "Your parcel is on its way"));
    BOOST_TEST(contains(t, "Tracking number TW-4411 — expected on Friday."));
    BOOST_TEST(!contains(t, "scriptword"));
    BOOST_TEST(!contains(t, "<"));

    auto pdf = env.ok_path(env.uploads / "two-pages.pdf");
    BOOST_TEST(pdf.at("mime_type") == "application/pdf");
    BOOST_TEST(pdf.at("format") == "pdf");
    BOOST_TEST(pdf.at("pages") == 2);
    BOOST_TEST(pdf.at("text") ==
               "Hello from page one of the attachment test.\nThe quick brown fox jumps over the lazy dog.\n\n"
               "Page two mentions a zebra crossing.");
}

BOOST_AUTO_TEST_CASE(content_in_base64_equals_the_file) {
    attachment_env env;
    env.start();
    fs::copy_file(data_dir / "two-pages.pdf", env.uploads / "doc.pdf");
    const auto by_path = env.ok_path(env.uploads / "doc.pdf");
    const std::string b64 = encode_base64(read_file(data_dir / "two-pages.pdf"));
    auto by_content = env.ok({{"content", b64}, {"filename", "doc.pdf"}});
    BOOST_TEST(!by_content.contains("path"));
    by_content["path"] = by_path.at("path");
    BOOST_TEST(by_content == by_path);
    // MIME line breaks in the base64 are fine.
    std::string wrapped;
    for (size_t i = 0; i < b64.size(); i += 76) wrapped += b64.substr(i, 76) + "\r\n";
    BOOST_TEST(env.ok({{"content", wrapped}, {"filename", "doc.pdf"}}).at("sha256") == by_path.at("sha256"));
}

BOOST_AUTO_TEST_CASE(encodings_become_utf8) {
    attachment_env env;
    env.start();
    auto latin1 = env.ok_path(env.upload("latin1.txt", "caf\xE9 cr\xE8me br\xFBl\xE9\n"));
    BOOST_TEST(latin1.at("charset") == "iso-8859-1");
    BOOST_TEST(latin1.at("text") == "café crème brûlé\n");
    auto utf16 = env.ok_path(env.upload("utf16.txt", std::string("\xFF\xFEh\0\xE9\0l\0l\0o\0\n\0", 14)));
    BOOST_TEST(utf16.at("charset") == "utf-16le");
    BOOST_TEST(utf16.at("text") == "héllo\n");
    auto cp1252 = env.ok_path(env.upload("cp1252.txt",
                                         "\x93"
                                         "Caf\xE9\x94 costs 3 \x80 \x96 cheap\n"));
    BOOST_TEST(cp1252.at("charset") == "unknown-8bit");
    BOOST_TEST(cp1252.at("text") == "“Café” costs 3 € – cheap\n");
    auto bom = env.ok_path(env.upload("bom.txt", "\xEF\xBB\xBFplain"));
    BOOST_TEST(bom.at("text") == "plain");
}

BOOST_AUTO_TEST_CASE(limits_and_options) {
    attachment_env env;
    auto config = env.base_config();
    config["max_bytes"] = 1000;
    config["max_text_chars"] = 50;
    BOOST_TEST_REQUIRE(env.start(config).ok());

    auto e = env.fails({{"path", env.upload("big.txt", std::string(1001, 'x')).string()}});
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "path:"));
    BOOST_TEST(contains(e.message, "1001 bytes, over the limit of 1000"));
    e = env.fails({{"content", encode_base64(std::string(1001, 'x'))}, {"filename", "big.txt"}});
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "content: decodes to more than 1000 bytes"));
    BOOST_TEST(env.ok_path(env.upload("exact.txt", std::string(1000, 'x'))).at("bytes") == 1000);

    auto r = env.ok_path(env.upload("long.txt", std::string(60, 'y') + "é"));
    BOOST_TEST(r.at("truncated") == true);
    BOOST_TEST(r.at("text_chars") == 50);
    r = env.ok({{"path", (env.uploads / "long.txt").string()}, {"max_text_chars", 5}});
    BOOST_TEST(r.at("text") == "yyyyy");
    r = env.ok({{"path", (env.uploads / "long.txt").string()}, {"return_text", false}});
    BOOST_TEST(!r.contains("text"));
    BOOST_TEST(r.at("text_chars") == 50);
    e = env.fails({{"path", (env.uploads / "long.txt").string()}, {"max_text_chars", 51}});
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "max_text_chars"));
}

BOOST_AUTO_TEST_CASE(types_without_text_are_described_not_refused) {
    attachment_env env;
    env.start();
    const auto png = env.ok({{"content", encode_base64(make_png())}, {"filename", "pixel.txt"}});
    BOOST_TEST(png.at("mime_type") == "image/png");
    BOOST_TEST(png.at("format").is_null());
    BOOST_TEST(png.at("text").is_null());
    BOOST_TEST(png.at("text_chars") == 0);
    const auto empty = env.ok({{"content", ""}, {"filename", "empty"}});
    BOOST_TEST(empty.at("bytes") == 0);
    BOOST_TEST(empty.at("sha256") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

BOOST_AUTO_TEST_SUITE_END()

// ================================================================================== refusals

BOOST_AUTO_TEST_SUITE(refusals)

BOOST_AUTO_TEST_CASE(executables_scripts_and_archives_are_refused_whatever_their_name) {
    attachment_env env;
    env.start();
    struct item {
        std::string name;  // deliberately harmless-looking
        std::string bytes;
        std::string reason;
    };
    const std::vector<item> items = {
        {"holiday.jpg", self_executable(), "executable file"},
        {"notes.txt", read_file(TOOLHOST_ATTACHMENT_PLUGIN), "executable file (application/x-sharedlib)"},
        {"readme.txt", "#!/bin/sh\nrm -rf ~\n", "script with a #! interpreter line"},
        {"data.csv", "#!/usr/bin/env python3\nprint('hi')\n", "script with a #! interpreter line"},
        {"report.pdf", make_zip("inner.txt", "hello from inside the zip\n"),
         "archive or compressed file (application/zip)"},
        {"photo.png", make_tar("inner.txt", "hello from inside the tar\n"),
         "archive or compressed file (application/x-tar)"},
        {"letter.docx", make_gzip(), "archive or compressed file (application/gzip)"},
        {"table.csv", std::string("7z\xBC\xAF\x27\x1C\x00\x04", 8) + std::string(24, '\0'),
         "archive or compressed file (application/x-7z-compressed)"},
    };
    for (const auto& it : items) {
        // Both ways in: as an uploaded file, and as base64 content.
        auto e = env.fails({{"path", env.upload(it.name, it.bytes).string()}});
        BOOST_TEST((e.code == status_code::invalid_argument), it.name << ": " << e.to_string());
        BOOST_TEST(contains(e.message, "path: refused: " + it.reason), it.name << ": " << e.message);
        e = env.fails({{"content", encode_base64(it.bytes)}, {"filename", it.name}});
        BOOST_TEST((e.code == status_code::invalid_argument));
        BOOST_TEST(contains(e.message, "content: refused: " + it.reason), it.name << ": " << e.message);
    }
    // And the other way round: a harmless text named like a program is processed as text.
    const auto r = env.ok({{"content", encode_base64("just words\n")}, {"filename", "setup.exe"}});
    BOOST_TEST(r.at("format") == "text");
}

BOOST_AUTO_TEST_CASE(paths_outside_allowed_dirs_and_odd_files) {
    attachment_env env;
    const fs::path outside = env.dir / "outside";
    fs::create_directory(outside);
    write_file(outside / "secret.txt", "secret");
    fs::create_symlink(outside / "secret.txt", env.uploads / "innocent.txt");
    BOOST_TEST_REQUIRE(::mkfifo((env.uploads / "pipe").c_str(), 0600) == 0);
    fs::create_directory(env.uploads / "folder");
    env.start();

    auto e = env.fails({{"path", (outside / "secret.txt").string()}});
    BOOST_TEST((e.code == status_code::permission_denied));
    BOOST_TEST(contains(e.message, "path: " + (outside / "secret.txt").string() + " is outside the allowed folders"));
    e = env.fails({{"path", (env.uploads / "innocent.txt").string()}});
    BOOST_TEST((e.code == status_code::permission_denied));
    e = env.fails({{"path", (env.uploads / ".." / "outside" / "secret.txt").string()}});
    BOOST_TEST((e.code == status_code::permission_denied));
    e = env.fails({{"path", (env.uploads / "missing.txt").string()}});
    BOOST_TEST((e.code == status_code::not_found));
    BOOST_TEST(contains(e.message, "missing.txt"));
    e = env.fails({{"path", (env.uploads / "pipe").string()}});  // must not block reading a FIFO
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "not a regular file"));
    e = env.fails({{"path", (env.uploads / "folder").string()}});
    BOOST_TEST((e.code == status_code::invalid_argument));
}

BOOST_AUTO_TEST_CASE(bad_arguments_name_the_field) {
    attachment_env env;
    env.start();
    env.upload("a.txt", "a");
    auto e = env.fails({{"content", "!!!notbase64"}, {"filename", "x.txt"}});
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "content: is not valid base64"));
    e = env.fails({{"content", "QUJDR"}, {"filename", "x.txt"}});  // 5 symbols: one too many
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "content: is not valid base64: truncated"));
    e = env.fails({{"content", "QUJD="}, {"filename", "x.txt"}});
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "content: is not valid base64: wrong padding"));
    BOOST_TEST(env.ok({{"content", "QUI"}, {"filename", "x.txt"}}).at("text") == "AB");  // padding is optional
    BOOST_TEST(env.ok({{"content", "QUI="}, {"filename", "x.txt"}}).at("text") == "AB");
    e = env.fails({{"content", "QUJD"}, {"filename", "../etc/passwd"}});
    BOOST_TEST((e.code == status_code::invalid_argument));
    BOOST_TEST(contains(e.message, "filename"));
    e = env.fails({{"content", "QUJD"}});  // no filename
    BOOST_TEST((e.code == status_code::invalid_argument));
    e = env.fails({{"path", (env.uploads / "a.txt").string()}, {"content", "QUJD"}, {"filename", "a.txt"}});
    BOOST_TEST((e.code == status_code::invalid_argument));
    e = env.fails({});
    BOOST_TEST((e.code == status_code::invalid_argument));
}

BOOST_AUTO_TEST_CASE(a_damaged_pdf_is_invalid_argument) {
    attachment_env env;
    env.start();
    const auto e = env.fails(
        {{"content", encode_base64("%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage\n")}, {"filename", "broken.pdf"}});
    BOOST_TEST((e.code == status_code::invalid_argument), e.to_string());
    BOOST_TEST(contains(e.message, "content: the PDF"));
}

BOOST_AUTO_TEST_SUITE_END()

// ====================================================================== runtime behaviour

BOOST_AUTO_TEST_SUITE(runtime)

BOOST_AUTO_TEST_CASE(pdf_extraction_reports_progress_and_can_be_cancelled) {
    attachment_env env;
    env.start();
    fs::copy_file(data_dir / "two-pages.pdf", env.uploads / "doc.pdf");
    boost::asio::cancellation_signal signal;
    std::vector<double> pages;
    call_options o;
    o.on_progress = [&](double done, double total, std::string_view) {
        pages.push_back(done);
        BOOST_TEST(total == 2.0);
        signal.emit(boost::asio::cancellation_type::terminal);  // after the first page
    };
    auto f =
        env.h().async_call("attachment", "process", json::object{{"path", (env.uploads / "doc.pdf").string()}},
                           std::move(o), boost::asio::bind_cancellation_slot(signal.slot(), boost::asio::use_future));
    const auto r = f.get();
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::cancelled), r.error().to_string());
    BOOST_TEST(contains(r.error().message, "after 1 of 2 PDF pages"));
    BOOST_TEST(pages == (std::vector<double>{1.0}));
}

BOOST_AUTO_TEST_CASE(concurrent_calls) {
    attachment_env env;
    env.start();
    fs::copy_file(data_dir / "two-pages.pdf", env.uploads / "doc.pdf");
    fs::copy_file(data_dir / "page.html", env.uploads / "page.html");
    const std::string zip_b64 = encode_base64(make_zip("a.txt", "zip"));
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&, t] {
            const json::object zip_args{{"content", zip_b64},
                                        {"filename", std::string(1, 'z').append(std::to_string(t))}};
            for (int i = 0; i < 10; ++i) {
                auto pdf =
                    env.h().call("attachment", "process", json::object{{"path", (env.uploads / "doc.pdf").string()}});
                auto html =
                    env.h().call("attachment", "process", json::object{{"path", (env.uploads / "page.html").string()}});
                auto zip = env.h().call("attachment", "process", zip_args);
                if (!pdf || !contains(*pdf, "zebra crossing")) wrong.fetch_add(1);
                if (!html || !contains(*html, "TW-4411")) wrong.fetch_add(1);
                if (zip || zip.error().code != status_code::invalid_argument) wrong.fetch_add(1);
            }
        });
    }
    for (auto& t : threads) t.join();
    BOOST_TEST(wrong.load() == 0);
}

BOOST_AUTO_TEST_CASE(the_bundled_samples_are_allowed_by_default) {
    attachment_env env;
    fs::create_directories(env.plugins / "attachment");
    fs::copy(TOOLHOST_ATTACHMENT_SAMPLE_DIR, env.plugins / "attachment" / "sample", fs::copy_options::recursive);
    BOOST_TEST_REQUIRE(env.start(json::object{}).ok());
    const auto r = env.ok_path(env.plugins / "attachment" / "sample" / "receipt.pdf");
    BOOST_TEST(r.at("format") == "pdf");
    BOOST_TEST(contains(r.at("text").as_string(), "Total paid with PayPal"));
    BOOST_TEST(env.ok_path(env.plugins / "attachment" / "sample" / "orders.csv").at("format") == "csv");
    // The data folder is allowed by default too; the test's uploads folder is not.
    fs::create_directories(env.var / "attachment" / "inbox");
    write_file(env.var / "attachment" / "inbox" / "x.txt", "a note in the inbox\n");
    BOOST_TEST(env.ok_path(env.var / "attachment" / "inbox" / "x.txt").at("format") == "text");
    BOOST_TEST((env.fails({{"path", env.upload("y.txt", "y").string()}}).code == status_code::permission_denied));
}

BOOST_AUTO_TEST_SUITE_END()

// =================================================================== attachment -> rag

// These need the host side of "toolhost.tool_caller/1" (sdk/include/toolhost/tool_caller.h).
BOOST_AUTO_TEST_SUITE(indexing_through_the_host)

BOOST_AUTO_TEST_CASE(processed_text_is_found_by_rag_search) {
    attachment_env env(/*with_rag=*/true);
    BOOST_TEST_REQUIRE(
        env.start(env.base_config(), json::object{{"allowed_dirs", json::array{}}, {"index_on_start", json::array{}}})
            .ok());
    fs::copy_file(data_dir / "two-pages.pdf", env.uploads / "doc.pdf");
    const auto r =
        env.ok({{"path", (env.uploads / "doc.pdf").string()}, {"index", true}, {"tags", json::array{"upload"}}});
    const auto& index = r.at("index");
    BOOST_TEST(index.at("indexed") == true);
    BOOST_TEST(index.at("tool") == "rag");
    BOOST_TEST(index.at("status") == "added");
    const std::string source(index.at("source").as_string());
    BOOST_TEST(source == "attachment/" + std::string(r.at("sha256").as_string()).substr(0, 16) + "/doc.pdf");

    auto found = env.call({{"query", "zebra"}}, {}, "rag", "search");
    BOOST_TEST_REQUIRE(found.has_value(), found.error().to_string());
    const auto results = json::parse(*found).at("results").as_array();
    BOOST_TEST_REQUIRE(results.size() == 1u);
    BOOST_TEST(results[0].at("source") == json::value(source));
    BOOST_TEST(results[0].at("tags") == (json::array{"attachment", "upload"}));

    // The same upload again replaces, never duplicates (a retry is harmless).
    BOOST_TEST(env.ok({{"path", (env.uploads / "doc.pdf").string()}, {"index", true}, {"tags", json::array{"upload"}}})
                   .at("index")
                   .at("status") == "unchanged");
    // Nothing to index is reported, not an error; no call is made.
    const auto png = env.ok({{"content", encode_base64(make_png())}, {"filename", "p.png"}, {"index", true}});
    BOOST_TEST(png.at("index").at("indexed") == false);
    auto stats = env.call({}, {}, "rag", "stats");
    BOOST_TEST_REQUIRE(stats.has_value());
    BOOST_TEST(json::parse(*stats).at("documents") == 1);
}

BOOST_AUTO_TEST_CASE(a_missing_index_tool_is_a_failed_precondition) {
    attachment_env env;  // no rag
    auto config = env.base_config();
    config["index_tool"] = "no_such_tool";
    BOOST_TEST_REQUIRE(env.start(config).ok());
    const auto e = env.fails({{"content", encode_base64("words to index")}, {"filename", "a.txt"}, {"index", true}});
    BOOST_TEST((e.code == status_code::failed_precondition), e.to_string());
    BOOST_TEST(contains(e.message, "index: no_such_tool index_text failed"));
}

BOOST_AUTO_TEST_SUITE_END()
