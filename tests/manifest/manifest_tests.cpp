// Release manifest: a plugin directory with MANIFEST.json runs only the files it lists, with
// the bytes it lists, checked before anything is loaded.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "manifest.h"
#include "sha256.h"
#include "test_support.h"

using namespace testing;

namespace {

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// The reference plugins in <tmp>/plugins with a manifest written by `migrator manifest`.
struct Release {
    TempDir tmp;
    fs::path dir = tmp / "plugins";
    fs::path db = tmp / "app.db";
    Release() {
        install_plugins(dir, reference_plugins());
        auto r = run_migrator("--plugins " + q(dir) + " manifest --release 7.1");
        REQUIRE(r.exit_code == 0);
        REQUIRE(fs::exists(dir / "MANIFEST.json"));
    }
    RunResult run(const std::string& args) { return run_migrator("--db " + q(db) + " --plugins " + q(dir) + " " + args); }
    fs::path plugin(const std::string& prefix) const {
        for (const auto& e : fs::directory_iterator(dir))
            if (e.path().filename().string().rfind(prefix, 0) == 0 && e.path().extension() == ".so") return e.path();
        FAIL("no plugin " << prefix);
        return {};
    }
    std::string sqlite(const std::string& sql) const {
        TempDir t;
        std::string cmd = "sqlite3 " + q(db) + " \"" + sql + "\" > " + q(t / "o");
        REQUIRE(std::system(cmd.c_str()) == 0);
        std::string s = read_file(t / "o");
        while (!s.empty() && s.back() == '\n') s.pop_back();
        return s;
    }
};

}  // namespace

TEST_CASE("sha256_matches_the_fips_180_2_vectors", "[manifest]") {
    auto digest = [](std::string_view s) {
        std::string out;
        REQUIRE(migrator::sha256_hex(s, out));
        return out;
    };
    CHECK(digest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(digest("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    TempDir t;
    write_file(t / "m", std::string(1000000, 'a'));  // spans several read blocks
    std::string hex;
    REQUIRE(migrator::sha256_file((t / "m").string(), hex));
    CHECK(hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("manifest_written_release_verifies_and_migrates", "[manifest]") {
    Release r;
    const std::string text = read_file(r.dir / "MANIFEST.json");
    CHECK(text.find("\"release\":\"7.1\"") != std::string::npos);
    CHECK(text.find("\"revision\":\"0005_message_v2\"") != std::string::npos);
    std::string hex;
    REQUIRE(migrator::sha256_file(r.plugin("0001_initial").string(), hex));
    CHECK(text.find(hex) != std::string::npos);
    struct stat st {};
    REQUIRE(::stat((r.dir / "MANIFEST.json").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0644);

    auto v = run_migrator("--plugins " + q(r.dir) + " manifest --verify");
    CHECK(v.exit_code == 0);
    auto up = r.run("-q --require-manifest up");
    INFO(up.err);
    CHECK(up.exit_code == 0);
    CHECK(r.sqlite("SELECT revision FROM migrator_version") == "0006_frozen_schema_fingerprints");
}

TEST_CASE("manifest_tampered_plugin_is_refused_before_anything_loads", "[manifest]") {
    Release r;
    const fs::path victim = r.plugin("0005_message_v2");
    {
        std::ofstream out(victim, std::ios::app | std::ios::binary);
        out << "tampered";  // still a loadable ELF file: only the hash can tell
    }
    auto up = r.run("up");
    CHECK(up.exit_code == 3);
    CHECK(up.err.find(victim.string()) != std::string::npos);
    CHECK(up.err.find("SHA-256") != std::string::npos);
    CHECK(up.err.find("nothing was loaded") != std::string::npos);
    // Refused before the database file was even created (the review found an empty file).
    CHECK_FALSE(fs::exists(r.db));
    auto start = r.run("start");
    CHECK(start.exit_code == 3);
    CHECK_FALSE(fs::exists(r.db));

    auto v = run_migrator("--plugins " + q(r.dir) + " manifest --verify");
    CHECK(v.exit_code == 3);
    CHECK(v.err.find(victim.filename().string()) != std::string::npos);
}

TEST_CASE("manifest_tampered_plugin_is_refused_by_a_dry_run_and_by_start", "[manifest]") {
    Release r;
    {
        std::ofstream out(r.plugin("0003_agent_tools"), std::ios::app | std::ios::binary);
        out << '\0';
    }
    auto dry = r.run("up --dry-run");
    CHECK(dry.exit_code == 3);
    // start: a bad plugin set is never answered with a reset.
    auto start = r.run("start");
    CHECK(start.exit_code == 3);
    CHECK_FALSE(fs::exists(r.tmp / "app.db.backups"));
}

TEST_CASE("manifest_unlisted_plugin_is_refused_by_name", "[manifest]") {
    Release r;
    fs::copy_file(r.plugin("0001_initial"), r.dir / "0001_initial-stray.so");
    auto st = r.run("status");
    CHECK(st.exit_code == 3);
    CHECK(st.err.find("0001_initial-stray.so") != std::string::npos);
    CHECK(st.err.find("not listed in the release manifest") != std::string::npos);
    CHECK_FALSE(fs::exists(r.db));
}

TEST_CASE("manifest_listed_plugin_missing_means_incomplete_release", "[manifest]") {
    Release r;
    const std::string name = r.plugin("0004_task_status_check").filename().string();
    fs::remove(r.dir / name);
    auto up = r.run("up");
    CHECK(up.exit_code == 3);
    CHECK(up.err.find(name) != std::string::npos);
    CHECK(up.err.find("incomplete") != std::string::npos);
}

TEST_CASE("manifest_revision_disagreeing_with_the_note_is_refused", "[manifest]") {
    Release r;
    std::string text = read_file(r.dir / "MANIFEST.json");
    const std::string from = "\"revision\":\"0002_task_priority\"";
    text.replace(text.find(from), from.size(), "\"revision\":\"0002_other\"");
    write_file(r.dir / "MANIFEST.json", text);
    auto up = r.run("up");
    CHECK(up.exit_code == 3);
    CHECK(up.err.find("declares revision '0002_task_priority'") != std::string::npos);
    CHECK(up.err.find("'0002_other'") != std::string::npos);
}

TEST_CASE("manifest_malformed_is_refused_naming_the_path", "[manifest]") {
    Release r;
    const fs::path m = r.dir / "MANIFEST.json";
    const std::string good = read_file(m);
    struct Case {
        std::string text, says;
    };
    std::string bad_hash = good;
    bad_hash.replace(bad_hash.find("\"sha256\":\"") + 10, 4, "ZZZZ");
    std::string dup = good;
    dup.insert(dup.find('{', 1) + 0, dup.substr(dup.find('{', 1), dup.find('}', dup.find('{', 1)) - dup.find('{', 1) + 1) + ",");
    const std::vector<Case> cases = {
        {"{not json", "not usable"},
        {"{\"format\":\"something-else/9\",\"plugins\":[]}", "\"format\" must be"},
        {"{\"format\":\"migrator-release-manifest/1\"}", "\"plugins\" must be an array"},
        {"{\"format\":\"migrator-release-manifest/1\",\"plugins\":[{\"file\":\"../x.so\",\"revision\":\"a\",\"sha256\":\"" +
             std::string(64, 'a') + "\"}]}",
         "is not a file name"},
        {bad_hash, "64 lower-case hex"},
        {dup, "listed twice"},
    };
    for (const auto& c : cases) {
        write_file(m, c.text);
        auto st = r.run("status");
        INFO(c.text << "\n" << st.err);
        CHECK(st.exit_code == 3);
        CHECK(st.err.find(m.string()) != std::string::npos);
        CHECK(st.err.find(c.says) != std::string::npos);
    }
}

TEST_CASE("manifest_group_writable_is_refused", "[manifest]") {
    Release r;
    ::chmod((r.dir / "MANIFEST.json").c_str(), 0664);
    auto st = r.run("status");
    CHECK(st.exit_code == 3);
    CHECK(st.err.find("group- or world-writable") != std::string::npos);
    CHECK(st.err.find("chmod go-w") != std::string::npos);
}

TEST_CASE("manifest_absent_is_refused_only_with_require_manifest", "[manifest]") {
    TempDir t;
    const fs::path dir = t / "plugins", db = t / "app.db";
    install_plugins(dir, reference_plugins());
    const std::string base = "--db " + q(db) + " --plugins " + q(dir);
    auto req = run_migrator(base + " --require-manifest up");
    CHECK(req.exit_code == 3);
    CHECK(req.err.find("--require-manifest") != std::string::npos);
    CHECK_FALSE(fs::exists(db));
    auto env = run_migrator(base + " up", "MIGRATOR_REQUIRE_MANIFEST=1");
    CHECK(env.exit_code == 3);
    auto plain = run_migrator(base + " -q up");
    CHECK(plain.exit_code == 0);
    auto v = run_migrator("--plugins " + q(dir) + " manifest --verify");
    CHECK(v.exit_code == 3);
}

TEST_CASE("manifest_is_not_written_over_a_broken_chain", "[manifest]") {
    TempDir t;
    const fs::path dir = t / "plugins";
    auto refs = reference_plugins();
    install_plugins(dir, {refs[0], refs[2]});  // 0003's parent, 0002, is missing
    auto r = run_migrator("--plugins " + q(dir) + " manifest");
    CHECK(r.exit_code == 3);
    CHECK_FALSE(fs::exists(dir / "MANIFEST.json"));
}

// Regression: a digest libcrypto refused (a broken OPENSSL_CONF, no memory) threw out of the
// host; in `start` the child aborted, and the parent took the crash for a failing migration
// and tried a reset.
TEST_CASE("manifest_hash_failure_is_exit_3_never_a_reset", "[manifest]") {
    Release r;
    REQUIRE(r.run("-q up --to 0003_agent_tools").exit_code == 0);
    write_file(r.tmp / "bad.cnf",
               "openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n"
               "[provider_sect]\nnope = nope_sect\n[nope_sect]\nmodule = /nonexistent/nope.so\nactivate = 1\n");
    const std::string env = "OPENSSL_CONF=" + q(r.tmp / "bad.cnf");
    const std::string before = read_file(r.db);
    auto v = run_migrator("--plugins " + q(r.dir) + " manifest --verify", env);
    CHECK(v.exit_code == 3);
    CHECK(v.err.find("SHA-256") != std::string::npos);
    auto s = run_migrator("--db " + q(r.db) + " --plugins " + q(r.dir) + " start", env);
    INFO(s.err);
    CHECK(s.exit_code == 3);
    CHECK_FALSE(fs::exists(r.tmp / "app.db.backups"));
    CHECK(read_file(r.db) == before);
}
