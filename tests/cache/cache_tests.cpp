// Plugin metadata cache: what discover() may take from it and what it must not.
//
// Files copied by a test are "racily clean" (changed within a timestamp tick, see settled()), so discover()
// itself never caches them; the tests that need cached entries forge them with
// PluginCache::store and a `now` far enough in the future, which is exactly what a later
// start-up would have stored.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "discover.h"
#include "plugin_cache.h"
#include "test_support.h"

using namespace testing;
using migrator::FileKey;
using migrator::PluginCache;
using migrator::PluginMeta;

namespace {

constexpr std::int64_t kFuture = std::int64_t{1} << 62;  // "much later": never racy

FileKey key_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return FileKey::of(st);
}

std::string real(const fs::path& p) { return fs::canonical(p).string(); }

// A plugin directory holding the reference plugins, and a cache path outside it.
struct Fixture {
    TempDir tmp;
    fs::path dir = tmp / "plugins";
    std::string cache = (tmp / "app.db.plugin-cache").string();
    std::vector<fs::path> files;
    Fixture() {
        files = reference_plugins();
        REQUIRE(files.size() >= 2);
        install_plugins(dir, files);
    }
    fs::path plugin(size_t i) const { return dir / files[i].filename(); }
    // Writes a cache whose entry for plugin i says `revision` (and is otherwise the real note).
    void forge(size_t i, const std::string& description) {
        std::vector<PluginMeta> real_metas;
        REQUIRE(migrator::discover(dir.string(), real_metas).is_ok());
        PluginCache c(cache, real(dir));
        for (size_t k = 0; k < real_metas.size(); ++k) {
            PluginMeta m = real_metas[k];
            if (k == i) m.description = description;
            std::string name = fs::path(m.file).filename().string();
            c.store(name, key_of(dir / name), m, kFuture);
        }
        REQUIRE(c.save());
        REQUIRE(fs::exists(cache));
    }
    std::vector<PluginMeta> discover() const {
        std::vector<PluginMeta> out;
        auto st = migrator::discover(dir.string(), out, cache);
        INFO(st.message());
        REQUIRE(st.is_ok());
        return out;
    }
};

std::string description_of(const std::vector<PluginMeta>& metas, const fs::path& file) {
    for (const auto& m : metas)
        if (fs::path(m.file).filename() == file.filename()) return m.description;
    FAIL("plugin not discovered: " << file);
    return {};
}

}  // namespace

TEST_CASE("an entry whose key matches is served from the cache") {
    Fixture f;
    f.forge(0, "FROM THE CACHE");
    CHECK(description_of(f.discover(), f.plugin(0)) == "FROM THE CACHE");
}

TEST_CASE("a stale entry is not used after the plugin file changes") {
    Fixture f;
    f.forge(0, "FROM THE CACHE");
    std::string real_description;
    {
        std::vector<PluginMeta> metas;
        REQUIRE(migrator::discover(f.dir.string(), metas).is_ok());
        real_description = description_of(metas, f.plugin(0));
    }
    REQUIRE(real_description != "FROM THE CACHE");
    // The cache entry was forged as if stored long after the copy; let the timestamp clock
    // tick past the copy's (jiffy-coarse) timestamps so that a change now gets new ones, as it
    // always does for a file that the racy-clean rule let into the cache.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));

    SECTION("content rewritten in place, same size (inode and size unchanged)") {
        std::string bytes = read_file(f.plugin(0));
        write_file(f.plugin(0), bytes);  // same bytes, same inode: only mtime/ctime move
        CHECK(description_of(f.discover(), f.plugin(0)) == real_description);
    }
    SECTION("mtime set back to the cached value (ctime still moves)") {
        struct stat st {};
        REQUIRE(::stat(f.plugin(0).c_str(), &st) == 0);
        std::string bytes = read_file(f.plugin(0));
        write_file(f.plugin(0), bytes);
        struct timespec times[2] = {st.st_atim, st.st_mtim};
        REQUIRE(::utimensat(AT_FDCWD, f.plugin(0).c_str(), times, 0) == 0);
        CHECK(description_of(f.discover(), f.plugin(0)) == real_description);
    }
    SECTION("file replaced by another file under the same name") {
        fs::path other = f.tmp / "other.so";
        fs::copy_file(f.files[0], other);
        ::chmod(other.c_str(), 0755);
        fs::rename(other, f.plugin(0));
        CHECK(description_of(f.discover(), f.plugin(0)) == real_description);
    }
    SECTION("plugin directory is another one") {
        fs::path dir2 = f.tmp / "plugins2";
        install_plugins(dir2, f.files);
        std::vector<PluginMeta> out;
        REQUIRE(migrator::discover(dir2.string(), out, f.cache).is_ok());
        CHECK(description_of(out, f.plugin(0)) == real_description);
    }
}

TEST_CASE("a racily clean file (changed just now) is never cached") {
    Fixture f;
    PluginCache c(f.cache, real(f.dir));
    PluginMeta m;
    m.revision = "x";
    struct timespec now {};
    ::clock_gettime(CLOCK_REALTIME, &now);
    c.store("a.so", key_of(f.plugin(0)),  m, std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec);
    REQUIRE(c.save());
    CHECK_FALSE(fs::exists(f.cache));  // nothing to save
    f.discover();
    CHECK_FALSE(fs::exists(f.cache));
}

TEST_CASE("the safety checks still run on cached plugins") {
    Fixture f;
    f.forge(0, "FROM THE CACHE");
    ::chmod(f.plugin(0).c_str(), 0777);
    std::vector<PluginMeta> out;
    auto st = migrator::discover(f.dir.string(), out, f.cache);
    CHECK(st.code() == migrator::Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Catch::Contains("world-writable"));
}

TEST_CASE("a corrupt, truncated or foreign cache file is ignored") {
    Fixture f;
    f.forge(0, "FROM THE CACHE");
    const std::string good = read_file(f.cache);
    std::vector<PluginMeta> real_metas;
    REQUIRE(migrator::discover(f.dir.string(), real_metas).is_ok());
    const std::string real_description = description_of(real_metas, f.plugin(0));

    SECTION("every truncation") {
        for (size_t n = 0; n < good.size(); ++n) {
            write_file(f.cache, good.substr(0, n));
            PluginCache c(f.cache, real(f.dir));
            INFO("length " << n);
            REQUIRE_FALSE(c.load());
        }
        CHECK(description_of(f.discover(), f.plugin(0)) == real_description);
    }
    SECTION("every single flipped byte") {
        for (size_t i = 0; i < good.size(); ++i) {
            std::string bad = good;
            bad[i] = static_cast<char>(bad[i] ^ 0x5a);
            write_file(f.cache, bad);
            PluginCache c(f.cache, real(f.dir));
            INFO("byte " << i);
            REQUIRE_FALSE(c.load());
        }
        CHECK(description_of(f.discover(), f.plugin(0)) == real_description);
    }
    SECTION("garbage and huge lengths") {
        write_file(f.cache, std::string(100000, '\xff'));
        CHECK(description_of(f.discover(), f.plugin(0)) == real_description);
        write_file(f.cache, "MIGPLCA\n" + std::string(32, '\xff'));
        CHECK(description_of(f.discover(), f.plugin(0)) == real_description);
    }
    SECTION("group- or world-writable cache file") {
        ::chmod(f.cache.c_str(), 0666);
        CHECK(description_of(f.discover(), f.plugin(0)) == real_description);
    }
    SECTION("a directory or a FIFO under the cache's name") {
        fs::remove(f.cache);
        SECTION("directory") { fs::create_directory(f.cache); }
        SECTION("fifo") { REQUIRE(::mkfifo(f.cache.c_str(), 0600) == 0); }
        CHECK(description_of(f.discover(), f.plugin(0)) == real_description);
    }
    SECTION("a symlink to a valid cache") {
        fs::path elsewhere = f.tmp / "elsewhere";
        fs::rename(f.cache, elsewhere);
        fs::create_symlink(elsewhere, f.cache);
        CHECK(description_of(f.discover(), f.plugin(0)) == real_description);
    }
}

TEST_CASE("a stale cache is rewritten, atomically, mode 0600") {
    Fixture f;
    f.forge(0, "FROM THE CACHE");
    // Make every entry stale but the files old enough to be cached again: age them by
    // forging with a future `now` is not possible through discover(), so check the rewrite
    // through PluginCache directly: unused entries are dropped on save.
    PluginCache c(f.cache, real(f.dir));
    REQUIRE(c.load());
    REQUIRE(c.loaded_entries() == f.files.size());
    REQUIRE(c.lookup(f.files[0].filename().string(), key_of(f.plugin(0))) != nullptr);
    REQUIRE(c.save());  // only one entry used: rewritten with that one
    PluginCache again(f.cache, real(f.dir));
    REQUIRE(again.load());
    CHECK(again.loaded_entries() == 1);
    struct stat st {};
    REQUIRE(::stat(f.cache.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    for (const auto& e : fs::directory_iterator(f.tmp.path()))
        CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
}

TEST_CASE("an unwritable cache location does not fail the command") {
    TempDir tmp;
    fs::path dir = tmp / "plugins";
    install_plugins(dir, reference_plugins());
    const std::string db = (tmp / "app.db").string();
    const std::string args = "--db '" + db + "' --plugins '" + dir.string() + "' ";
    REQUIRE(run_migrator(args + "up").exit_code == 0);  // creates the DB (no cache yet)
    // A directory where the cache file would go: it cannot be read nor replaced.
    fs::create_directory(db + ".plugin-cache");
    // Let the plugin files age past the racy-clean margin so that a save is attempted.
    for (const auto& e : fs::directory_iterator(dir))
        while (!migrator::settled(key_of(e.path()), migrator::realtime_ns()))
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // `verify`: it always reads the plugin set (`up` at head may be served by the head verdict).
    auto r = run_migrator("-v " + args + "verify");
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.err, Catch::Contains("not saved"));
    CHECK(run_migrator(args + "verify").exit_code == 0);
    CHECK(run_migrator(args + "status").exit_code == 0);
    CHECK(fs::is_directory(db + ".plugin-cache"));

    SECTION("and once writable again, the cache is written and used") {
        fs::remove(db + ".plugin-cache");
        // `verify`, not `up`: a start-up at head is served by the head verdict and reads no
        // plugin note at all (head_verdict.h).
        CHECK(run_migrator(args + "verify").exit_code == 0);
        CHECK(fs::is_regular_file(db + ".plugin-cache"));
        auto r2 = run_migrator("-v " + args + "verify");
        CHECK(r2.exit_code == 0);
        CHECK_THAT(r2.err, Catch::Contains(std::to_string(reference_plugins().size()) + " of " +
                                           std::to_string(reference_plugins().size()) +
                                           " plugin notes from the cache"));
    }
}

TEST_CASE("no database, no cache") {
    CHECK(PluginCache::path_for_db("").empty());
    TempDir tmp;
    CHECK(PluginCache::path_for_db((tmp / "missing.db").string()).empty());
    write_file(tmp / "x.db", "");
    CHECK(PluginCache::path_for_db((tmp / "x.db").string()) == (tmp / "x.db").string() + ".plugin-cache");
}

// Regression: format 1 of the cache did not store blob migrations, so a blob revision served
// from the cache had none in its metadata and the loader refused it ("descriptor declares 1
// blob migration(s) but the metadata note lists 0") on every start after the first.
TEST_CASE("a blob revision served from the cache keeps its blob migrations") {
    Fixture f;
    std::vector<PluginMeta> real_metas;
    REQUIRE(migrator::discover(f.dir.string(), real_metas).is_ok());
    size_t blob_rev = real_metas.size();
    for (size_t k = 0; k < real_metas.size(); ++k)
        if (!real_metas[k].blobs.empty()) blob_rev = k;
    REQUIRE(blob_rev < real_metas.size());  // the reference history has a blob revision
    f.forge(0, "FROM THE CACHE");           // every entry cached, blobs included
    const auto cached = f.discover();
    CHECK(description_of(cached, f.plugin(0)) == "FROM THE CACHE");  // really from the cache
    REQUIRE(cached.size() == real_metas.size());
    for (size_t k = 0; k < cached.size(); ++k) {
        INFO(cached[k].revision);
        CHECK(cached[k].blobs == real_metas[k].blobs);
    }
    CHECK(cached[blob_rev].blobs.at(0).table == "saved_agent_message");
    CHECK(cached[blob_rev].blobs.at(0).model == "SavedAgentMessage");
}
