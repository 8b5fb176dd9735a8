// The head verdict (host/head_verdict.h): a start-up at head that reads no plugin, and every
// change that must send the next run down the full path anyway. One test per way the
// shortcut could answer "nothing to do" where the full path would not.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <functional>

#include "chain_support.h"
#include "commands.h"
#include "head_verdict.h"
#include "sidecar_file.h"

using chaintest::contains;
using chaintest::fixture_set;
using chaintest::q;
using chaintest::recorded_revision;
using chaintest::reference_prefix;
using chaintest::Sqlite;
using chaintest::wait_until_settled;
using chaintest::Workspace;

namespace {

namespace fs = std::filesystem;

const std::string kFastPathLine = "no plugin read";

std::string verdict_path(const Workspace& w) { return w.db.string() + ".head-verdict"; }

std::string head_of(const std::vector<fs::path>& files) {
    // Versioned file names: "<revision>-<12 hex>.so".
    std::string name = files.back().filename().string();
    return name.substr(0, name.rfind('-'));
}

// Migrates `w` to head and stores a verdict; REQUIREs that the next `up` takes the shortcut.
void store_verdict(const Workspace& w) {
    REQUIRE(w.run("up").exit_code == 0);
    REQUIRE(wait_until_settled(w.plugins));
    REQUIRE(w.run("up").exit_code == 0);
    REQUIRE(fs::is_regular_file(verdict_path(w)));
    auto r = w.run("-v up");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    REQUIRE(contains(r.err, kFastPathLine));
}

bool took_shortcut(const testing::RunResult& r) { return contains(r.err, kFastPathLine); }

// Copies `src` into `dir` the way a package manager does: a temporary name, then rename().
void install_by_rename(const fs::path& src, const fs::path& dir) {
    const fs::path tmp = dir / (".tmp-" + src.filename().string());
    fs::copy_file(src, tmp);
    ::chmod(tmp.c_str(), 0755);
    fs::rename(tmp, dir / src.filename());
}

}  // namespace

TEST_CASE("head verdict: a start-up at head reads no plugin and prints what the full path prints") {
    const auto files = testing::reference_plugins();
    Workspace w(files);
    REQUIRE(w.run("up").exit_code == 0);
    REQUIRE(wait_until_settled(w.plugins));
    fs::remove(verdict_path(w));  // whatever the first run stored
    auto full = w.run("-v --json up");  // full path: stores the verdict
    REQUIRE(full.exit_code == 0);
    CHECK_FALSE(took_shortcut(full));
    auto fast = w.run("-v --json up");
    INFO(fast.err);
    CHECK(fast.exit_code == 0);
    CHECK(took_shortcut(fast));
    CHECK(fast.out == full.out);

    auto text = w.run("up");
    CHECK(text.out == "nothing to do: database is at " + head_of(files) + "\n");
    auto start = w.run("-v start");
    CHECK(start.exit_code == 0);
    CHECK(took_shortcut(start));
    CHECK(start.out == text.out);
    // The verdict file is private to the user, like the database's other sidecars.
    struct stat st {};
    REQUIRE(::stat(verdict_path(w).c_str(), &st) == 0);
    CHECK((st.st_mode & 0077) == 0);
}

TEST_CASE("head verdict: a plugin added to the directory is applied, by up and by start") {
    const auto files = testing::reference_plugins();
    for (const char* cmd : {"up", "start"}) {
        INFO(cmd);
        Workspace w(reference_prefix(files.size() - 1));
        store_verdict(w);
        install_by_rename(files.back(), w.plugins);
        auto r = w.run(std::string("-v ") + cmd);
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK_FALSE(took_shortcut(r));
        CHECK(contains(r.out, "1 revision(s) applied"));
        CHECK(recorded_revision(w.db) == head_of(files));
    }
}

TEST_CASE("head verdict: the head plugin removed (app downgrade) exits 4 from up and start") {
    const auto files = testing::reference_plugins();
    Workspace w(files);
    store_verdict(w);
    fs::remove(w.plugins / files.back().filename());
    for (const char* cmd : {"up", "start"}) {
        auto r = w.run(cmd);
        INFO(cmd << ": " << r.err);
        CHECK(r.exit_code == 4);
        CHECK(contains(r.err, "migrated by a newer version of the app"));
    }
    CHECK(recorded_revision(w.db) == head_of(files));
}

TEST_CASE("head verdict: an applied migration replaced by an edited one exits 3 (drift)") {
    Workspace w(fixture_set("drift_a"));
    store_verdict(w);
    const auto before = w.bytes();
    // The upgrade renames the edited plugin in and removes the old file.
    const auto edited = fixture_set("drift_b");
    install_by_rename(edited.front(), w.plugins);
    fs::remove(w.plugins / fixture_set("drift_a").front().filename());
    auto r = w.run("up");
    INFO(r.err);
    CHECK(r.exit_code == 3);
    CHECK(contains(r.err, "checksum drift"));
    CHECK(w.bytes() == before);
}

TEST_CASE("head verdict: a database moved down by another run is migrated up again") {
    const auto files = testing::reference_plugins();
    Workspace w(files);
    store_verdict(w);
    const std::string previous = head_of(reference_prefix(files.size() - 1));
    REQUIRE(w.run("down --to " + previous).exit_code == 0);
    REQUIRE(recorded_revision(w.db) == previous);
    auto r = w.run("-v up");
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK_FALSE(took_shortcut(r));
    CHECK(recorded_revision(w.db) == head_of(files));
}

TEST_CASE("head verdict: a database restored from an older copy is migrated up") {
    const auto files = testing::reference_plugins();
    Workspace w(files);
    // An older copy of the database, at the revision before head.
    Workspace old(reference_prefix(files.size() - 1));
    REQUIRE(old.run("up").exit_code == 0);
    store_verdict(w);
    // Copied over the file in place: same inode, other content.
    fs::copy_file(old.db, w.db, fs::copy_options::overwrite_existing);
    auto r = w.run("-v up");
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK_FALSE(took_shortcut(r));
    CHECK(contains(r.out, "1 revision(s) applied"));
    CHECK(recorded_revision(w.db) == head_of(files));
}

// Review finding: the first mark held only the head row and the file's inode, and `cp`
// keeps the inode: a copy from a build with another checksum for an older revision passed.
TEST_CASE("head verdict: a database copied over the file with another applied checksum exits 3") {
    const auto files = testing::reference_plugins();
    REQUIRE(files.size() >= 3);
    Workspace w(files);
    Workspace other(files);
    REQUIRE(other.run("up").exit_code == 0);
    const std::string older = head_of(reference_prefix(2));
    Sqlite(other.db).exec("UPDATE migrator_applied SET checksum = printf('%064d', 0) WHERE revision = '" + older + "'");
    store_verdict(w);
    fs::copy_file(other.db, w.db, fs::copy_options::overwrite_existing);
    for (const char* cmd : {"up", "start"}) {
        auto r = w.run(cmd);
        INFO(cmd << ": " << r.err);
        CHECK(r.exit_code == 3);
        CHECK(contains(r.err, "checksum drift: revision '" + older + "'"));
    }
}

// Review finding: the shortcut read only the head's applied row, so `start` answered "nothing
// to do" for a database whose other bookkeeping pages were unreadable; the full path resets.
TEST_CASE("head verdict: a corrupt applied-revisions page is a reset, as without a verdict") {
    Workspace w(testing::reference_plugins());
    {
        Sqlite s(w.db);  // small pages, made permanent by a first write: the table spans several
        s.exec("PRAGMA page_size = 512; CREATE TABLE scratch(x); DROP TABLE scratch;");
    }
    store_verdict(w);
    // The first leaf page of migrator_applied: the oldest revisions, not the head's row.
    long long leaf = 0, page_size = 0, leaves = 0;
    {
        Sqlite s(w.db, SQLITE_OPEN_READONLY);
        leaves = std::stoll(s.text("SELECT count(*) FROM dbstat WHERE name = 'migrator_applied' AND pagetype = 'leaf'"));
        leaf = std::stoll(s.text("SELECT min(pageno) FROM dbstat WHERE name = 'migrator_applied' AND pagetype = 'leaf'"));
        page_size = std::stoll(s.text("PRAGMA page_size"));
    }
    REQUIRE(page_size == 512);
    REQUIRE(leaves >= 2);
    {
        std::fstream f(w.db, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp((leaf - 1) * page_size);
        const char junk[8] = {'\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff', '\xff'};
        f.write(junk, sizeof junk);
    }
    auto r = w.run("-v start");
    INFO(r.err);
    CHECK_FALSE(took_shortcut(r));
    CHECK(r.exit_code == 8);
    CHECK(contains(r.err, "malformed"));
}

TEST_CASE("head verdict: a head checksum edited in the database exits 3 (drift)") {
    const auto files = testing::reference_plugins();
    Workspace w(files);
    store_verdict(w);
    Sqlite(w.db).exec("UPDATE migrator_applied SET checksum = 'edited' WHERE revision = '" + head_of(files) + "'");
    auto r = w.run("up");
    INFO(r.err);
    CHECK(r.exit_code == 3);
    CHECK(contains(r.err, "checksum drift"));
}

TEST_CASE("head verdict: --require-manifest refuses an unsealed directory a verdict was made for") {
    Workspace w(testing::reference_plugins());
    store_verdict(w);
    for (const char* cmd : {"up", "start"}) {
        auto r = w.run(std::string("--require-manifest ") + cmd);
        INFO(cmd << ": " << r.err);
        CHECK(r.exit_code == 3);
        CHECK(contains(r.err, "MANIFEST.json"));
    }
}

TEST_CASE("head verdict: a release manifest edited in place is checked in full") {
    const auto files = testing::reference_plugins();
    Workspace w(files);
    REQUIRE(w.run("manifest --release r1").exit_code == 0);
    store_verdict(w);
    const fs::path manifest = w.plugins / "MANIFEST.json";
    std::string text = testing::read_file(manifest);
    const std::string head = head_of(files);
    const auto at = text.find("\"" + head + "\"");
    REQUIRE(at != std::string::npos);
    text.replace(at, head.size() + 2, "\"9999_not_this_one\"");
    testing::write_file(manifest, text);  // same inode: only the manifest's own key changes
    auto r = w.run("up");
    INFO(r.err);
    CHECK(r.exit_code == 3);
    CHECK(contains(r.err, "9999_not_this_one"));
}

TEST_CASE("head verdict: a plugin directory made group-writable is refused") {
    Workspace w(testing::reference_plugins());
    store_verdict(w);
    REQUIRE(::chmod(w.plugins.c_str(), 0775) == 0);
    for (const char* cmd : {"up", "start"}) {
        auto r = w.run(cmd);
        INFO(cmd << ": " << r.err);
        CHECK(r.exit_code == 3);
        CHECK(contains(r.err, "group- or world-writable"));
    }
}

TEST_CASE("head verdict: a corrupt, unsafe or planted verdict file is ignored and replaced") {
    Workspace w(testing::reference_plugins());
    store_verdict(w);
    const std::string good = testing::read_file(verdict_path(w));
    const std::string other = (w.tmp / "elsewhere").string();
    testing::write_file(other, good);
    struct Case {
        const char* what;
        std::function<void()> plant;
    };
    const std::vector<Case> cases = {
        {"garbage", [&] { testing::write_file(verdict_path(w), "\x01\x02 not json"); }},
        {"truncated", [&] { testing::write_file(verdict_path(w), good.substr(0, good.size() / 2)); }},
        {"empty", [&] { testing::write_file(verdict_path(w), ""); }},
        {"world-writable", [&] {
             testing::write_file(verdict_path(w), good);
             ::chmod(verdict_path(w).c_str(), 0666);
         }},
        {"symlink", [&] {
             fs::remove(verdict_path(w));
             fs::create_symlink(other, verdict_path(w));
         }},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        c.plant();
        auto r = w.run("-v up");
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK_FALSE(took_shortcut(r));
        CHECK(contains(r.out, "nothing to do"));
        // The full path stored a good one in its place.
        CHECK(fs::is_regular_file(fs::symlink_status(verdict_path(w))));
        CHECK(took_shortcut(w.run("-v up")));
    }
}

TEST_CASE("head verdict: an unwritable verdict location does not fail the command") {
    Workspace w(testing::reference_plugins());
    REQUIRE(w.run("up").exit_code == 0);
    fs::remove(verdict_path(w));  // whatever the first run stored
    fs::create_directory(verdict_path(w));
    REQUIRE(wait_until_settled(w.plugins));
    for (int i = 0; i < 2; ++i) {
        auto r = w.run("-v up");
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(contains(r.out, "nothing to do"));
        CHECK_FALSE(took_shortcut(r));
    }
    CHECK(fs::is_directory(verdict_path(w)));
}

TEST_CASE("head verdict: a racily new file is never judged settled") {
    using migrator::FileKey;
    using migrator::settled;
    const std::int64_t now = 1'800'000'000'123'456'789;
    FileKey fine;  // a filesystem with nanosecond timestamps
    fine.mtime_ns = fine.ctime_ns = now - 10'000'000;
    CHECK_FALSE(settled(fine, now));
    fine.mtime_ns = fine.ctime_ns = now - migrator::kFineMarginNs - 1;
    CHECK(settled(fine, now));
    fine.ctime_ns = now - 1'000;  // a chmod just now
    CHECK_FALSE(settled(fine, now));
    FileKey coarse;  // whole seconds: FAT, ext3
    coarse.mtime_ns = coarse.ctime_ns = (now / 1'000'000'000 - 2) * 1'000'000'000;
    CHECK_FALSE(settled(coarse, now));
    coarse.mtime_ns = coarse.ctime_ns = (now / 1'000'000'000 - 4) * 1'000'000'000;
    CHECK(settled(coarse, now));
    FileKey future;  // the clock went backwards
    future.mtime_ns = future.ctime_ns = now + 5'000'000'000;
    CHECK_FALSE(settled(future, now));
}

// Review finding: the racy rule was judged when the verdict was saved, so a run that read a
// just-changed directory and then waited (a busy database) stored a key that a second change
// in the same timestamp tick would not alter.
TEST_CASE("head verdict: none is stored from a key captured while the directory was racy") {
    Workspace w(testing::reference_plugins());
    REQUIRE(w.run("up").exit_code == 0);
    migrator::GlobalOptions g;
    g.db = w.db.string();
    g.plugins = w.plugins.string();
    testing::write_file(w.plugins / "README", "changed just before the run");
    const auto key = migrator::PluginSetKey::capture(g.plugins, false);
    migrator::Chain chain;
    REQUIRE(migrator::load_chain(g, chain).is_ok());
    migrator::Db db;
    REQUIRE(migrator::Db::open(g.db, migrator::Db::Mode::read_only, 1000, db).is_ok());
    REQUIRE(wait_until_settled(w.plugins));  // the run took long: "now" is settled, the key is not
    fs::remove(verdict_path(w));
    migrator::HeadVerdict::save(g.db, key, chain, db);
    CHECK_FALSE(fs::exists(verdict_path(w)));
}

TEST_CASE("head verdict: none is stored when the plugin directory changes during the run") {
    Workspace w(testing::reference_plugins());
    REQUIRE(w.run("up").exit_code == 0);
    REQUIRE(wait_until_settled(w.plugins));
    migrator::GlobalOptions g;
    g.db = w.db.string();
    g.plugins = w.plugins.string();
    const auto key = migrator::PluginSetKey::capture(g.plugins, false);
    migrator::Chain chain;
    REQUIRE(migrator::load_chain(g, chain).is_ok());
    migrator::Db db;
    REQUIRE(migrator::Db::open(g.db, migrator::Db::Mode::read_only, 1000, db).is_ok());
    fs::remove(verdict_path(w));  // whatever the `up` above stored

    testing::write_file(w.plugins / "README", "a file added while the run read the directory");
    migrator::HeadVerdict::save(g.db, key, chain, db);
    CHECK_FALSE(fs::exists(verdict_path(w)));

    // Control: the same call with an unchanged directory stores it.
    fs::remove(w.plugins / "README");
    REQUIRE(wait_until_settled(w.plugins));
    migrator::HeadVerdict::save(g.db, migrator::PluginSetKey::capture(g.plugins, false), chain, db);
    CHECK(fs::exists(verdict_path(w)));
}

TEST_CASE("head verdict: verify and plugins always read the directory") {
    const auto files = testing::reference_plugins();
    Workspace w(files);
    store_verdict(w);
    for (const char* cmd : {"verify", "plugins", "status"}) {
        auto r = w.run(std::string("-v ") + cmd);
        INFO(cmd << ": " << r.err);
        CHECK(r.exit_code == 0);
        CHECK_FALSE(took_shortcut(r));
    }
}
