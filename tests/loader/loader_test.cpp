// Loader failure matrix: for every way a plugin file or a plugin set can be wrong, the host
// stage that must notice it (discover, build_chain, load_plugin, run_plan) refuses it with the
// documented Status code and a message that names the file and the cause. A few cases also
// run the real binary and check its exit code and stderr.
//
// Fixtures are built by tests/loader/CMakeLists.txt into FIXTURE_PLUGIN_DIR/loader/<set>/.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bookkeeping.h"
#include "chain.h"
#include "check.h"
#include "db.h"
#include "discover.h"
#include "loader.h"
#include "migrator/plugin_api.h"
#include "plan.h"
#include "status.h"
#include "test_support.h"

namespace Catch {
template <>
struct StringMaker<migrator::Code> {
    static std::string convert(migrator::Code c) {
        return fmt::format("{} ({})", migrator::code_name(c), static_cast<int>(c));
    }
};
}  // namespace Catch

namespace {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using migrator::Code;
using migrator::PluginMeta;
using migrator::Status;
using testing::TempDir;

const fs::path kFixtures = fs::path(FIXTURE_PLUGIN_DIR) / "loader";

// A C fixture: <set>/<name>.so.
fs::path fixture(const std::string& set, const std::string& name) {
    fs::path p = kFixtures / set / (name + ".so");
    REQUIRE(fs::is_regular_file(p));
    return p;
}

// The one SDK-built plugin (its name carries a checksum) in <set>/.
fs::path sdk_fixture(const std::string& set) {
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(kFixtures / set))
        if (e.path().extension() == ".so") found.push_back(e.path());
    REQUIRE(found.size() == 1);
    return found.front();
}

// A fresh 0755 plugin directory inside `tmp` holding `files` (each 0755).
fs::path plugin_dir(const TempDir& tmp, const std::vector<fs::path>& files) {
    fs::path dir = tmp / "plugins";
    testing::install_plugins(dir, files);
    return dir;
}

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

testing::RunResult run_plugins_cmd(const fs::path& dir) {
    return testing::run_migrator("plugins --plugins " + quoted(dir));
}

testing::RunResult run_up_cmd(const fs::path& dir, const fs::path& db) {
    return testing::run_migrator("up --db " + quoted(db) + " --plugins " + quoted(dir));
}

// Discovers the single plugin in `dir` (which must pass discovery) and loads it.
Status load_single(const fs::path& dir, std::vector<PluginMeta>& metas,
                   migrator::LoadedPlugin& out) {
    Status d = migrator::discover(dir.string(), metas);
    INFO(d.message());
    REQUIRE(d.is_ok());
    REQUIRE(metas.size() == 1);
    return migrator::load_plugin(metas[0], out);
}

// discover + build_chain over `dir`.
Status discover_chain(const fs::path& dir, migrator::Chain& chain) {
    std::vector<PluginMeta> metas;
    MIG_TRY(migrator::discover(dir.string(), metas));
    return migrator::build_chain(std::move(metas), chain);
}

// Runs `up` to head over the plugins in `dir` on the database `db_path` (created), exactly as
// `migrator up` does: discover, chain, plan, run_plan. `db` stays open for inspection.
Status run_up(const fs::path& dir, const fs::path& db_path, migrator::Db& db) {
    migrator::Chain chain;
    MIG_TRY(discover_chain(dir, chain));
    MIG_TRY(migrator::Db::open(db_path.string(), migrator::Db::Mode::create, 1000, db));
    migrator::DbState state;
    MIG_TRY(migrator::read_state(db, state));
    migrator::Plan plan;
    MIG_TRY(migrator::plan_up(chain, state.current, chain.head(), plan));
    migrator::RunReport report;
    return migrator::run_plan(db, plan, migrator::RunOptions{}, report);
}

// Strict UTF-8 validation (no overlongs, no surrogates, max U+10FFFF).
bool valid_utf8(const std::string& s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t n = 0;
        unsigned cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1Fu;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0Fu;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (s.size() - i <= n) return false;
        for (size_t k = 1; k <= n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

// Installs a copy of the plain C fixture as dir/<name> with `patch` applied to its bytes.
template <class F>
fs::path install_patched(const fs::path& dir, const std::string& name, F patch) {
    std::string bytes = testing::read_file(fixture("single", "c_plain"));
    REQUIRE(bytes.size() > 64);
    patch(bytes);
    const fs::path p = dir / name;
    testing::write_file(p, bytes);
    ::chmod(p.c_str(), 0755);
    return p;
}

bool file_contains(const fs::path& p, const std::string& needle) {
    return testing::read_file(p).find(needle) != std::string::npos;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Discovery: the directory and the files in it
// ---------------------------------------------------------------------------------------

TEST_CASE("loader: missing plugin directory is refused") {
    TempDir tmp;
    const fs::path dir = tmp / "no-such-plugins";
    std::vector<PluginMeta> metas;
    Status st = migrator::discover(dir.string(), metas);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains(dir.string()) && Contains("does not exist"));
    CHECK(metas.empty());

    auto r = run_plugins_cmd(dir);
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Contains(dir.string()) && Contains("does not exist"));
}

TEST_CASE("loader: empty plugin directory is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {});
    std::vector<PluginMeta> metas;
    Status d = migrator::discover(dir.string(), metas);
    REQUIRE(d.is_ok());
    CHECK(metas.empty());
    migrator::Chain chain;
    Status st = migrator::build_chain(metas, chain);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("no plugins found"));

    auto r = run_plugins_cmd(dir);
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Contains("no plugins found"));
}

// The operator sees "the plugin directory holds no plugins" without being told which directory
// the host looked in (it may come from MIGRATOR_PLUGINS, or a relative path).
TEST_CASE("loader: empty plugin directory error names the directory") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {});
    auto r = run_plugins_cmd(dir);
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Contains("no plugins found") && Contains(dir.string()));
}

TEST_CASE("loader: file that is not ELF is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {});
    const fs::path bogus = dir / "x.so";
    testing::write_file(bogus, "this is a text file, not a shared library\n");
    ::chmod(bogus.c_str(), 0644);
    std::vector<PluginMeta> metas;
    Status st = migrator::discover(dir.string(), metas);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains(bogus.string()) && Contains("not an ELF file"));

    auto r = run_plugins_cmd(dir);
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Contains("x.so") && Contains("not an ELF file"));
}

TEST_CASE("loader: metadata note of another type is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "note_type2")});
    std::vector<PluginMeta> metas;
    Status st = migrator::discover(dir.string(), metas);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("note_type2.so") && Contains("metadata note has type 0x4d494732") &&
                                 Contains("another ABI major"));

    auto r = run_plugins_cmd(dir);
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Contains("note_type2.so") && Contains("metadata note has type"));
}

TEST_CASE("loader: metadata note with an unknown format is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "note_format2")});
    std::vector<PluginMeta> metas;
    Status st = migrator::discover(dir.string(), metas);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("note_format2.so") && Contains("metadata note format 2 is unknown"));
}

TEST_CASE("loader: file with two metadata notes is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "two_notes")});
    std::vector<PluginMeta> metas;
    Status st = migrator::discover(dir.string(), metas);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("two_notes.so") && Contains("more than one migrator metadata note"));
}

TEST_CASE("loader: truncated ELF file is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {});
    const fs::path cut = dir / "cut.so";
    // The ELF header alone: the program header table it points to is past the end.
    testing::write_file(cut, testing::read_file(fixture("single", "c_plain")).substr(0, 64));
    ::chmod(cut.c_str(), 0755);
    std::vector<PluginMeta> metas;
    Status st = migrator::discover(dir.string(), metas);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains(cut.string()) && Contains("malformed ELF program header table"));
}

TEST_CASE("loader: ELF file that is not a 64-bit little-endian shared library is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {});
    std::string expected;
    fs::path bad;
    SECTION("32-bit class") {
        bad = install_patched(dir, "class32.so", [](std::string& b) { b[4] = 1; /* ELFCLASS32 */ });
        expected = "not a 64-bit little-endian ELF file";
    }
    SECTION("executable, not ET_DYN") {
        bad = install_patched(dir, "exec.so", [](std::string& b) {
            b[16] = 2;  // e_type = ET_EXEC
            b[17] = 0;
        });
        expected = "not a shared library";
    }
    SECTION("absurd program header count") {
        bad = install_patched(dir, "phnum.so", [](std::string& b) {
            b[56] = '\xff';  // e_phnum = 0xffff
            b[57] = '\xff';
        });
        expected = "malformed ELF program header table";
    }
    std::vector<PluginMeta> metas;
    Status st = migrator::discover(dir.string(), metas);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains(bad.string()) && Contains(expected));
}

TEST_CASE("loader: directory named like a plugin is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {});
    fs::create_directory(dir / "sub.so");
    ::chmod((dir / "sub.so").c_str(), 0755);
    std::vector<PluginMeta> metas;
    Status st = migrator::discover(dir.string(), metas);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains((dir / "sub.so").string()) && Contains("not a regular file"));
}

TEST_CASE("loader: dangling symlink is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {});
    fs::create_symlink("gone.bin", dir / "dangling.so");
    std::vector<PluginMeta> metas;
    Status st = migrator::discover(dir.string(), metas);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains((dir / "dangling.so").string()) && Contains("dangling symlink"));
}

TEST_CASE("loader: unknown flag bits in the note are refused") {
    std::string name, bits;
    SECTION("a low bit (1 << 3)") {
        name = "unknown_flag_lo";
        bits = "0x8";
    }
    SECTION("a high bit (1 << 32)") {
        name = "unknown_flag_hi";
        bits = "0x100000000";
    }
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", name)});
    std::vector<PluginMeta> metas;
    Status st = migrator::discover(dir.string(), metas);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains(name + ".so") && Contains("bits this host does not know (" + bits + ")"));

    auto r = run_plugins_cmd(dir);
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Contains(name + ".so") && Contains("does not know"));
}

TEST_CASE("loader: group- or world-writable plugin directory is refused") {
    mode_t mode = 0;
    SECTION("group-writable") { mode = 0775; }
    SECTION("world-writable") { mode = 0757; }
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "c_plain")});
    REQUIRE(::chmod(dir.c_str(), mode) == 0);
    std::vector<PluginMeta> metas;
    Status st = migrator::discover(dir.string(), metas);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("plugin directory '" + dir.string() + "'") &&
                                 Contains("group- or world-writable") && Contains("chmod go-w"));

    auto r = run_plugins_cmd(dir);
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Contains(dir.string()) && Contains("group- or world-writable"));
}

TEST_CASE("loader: group-writable plugin file is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "c_plain")});
    const fs::path file = dir / "c_plain.so";
    REQUIRE(::chmod(file.c_str(), 0775) == 0);
    std::vector<PluginMeta> metas;
    Status st = migrator::discover(dir.string(), metas);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("plugin file '" + file.string() + "'") &&
                                 Contains("group- or world-writable") && Contains("mode 0775"));
}

// Regression (user trial): only the write bits were checked, but a plugin file or directory
// owned by another (non-root) user can be made writable, or rewritten, by that user.
TEST_CASE("loader: plugin directory or file owned by another user is refused") {
    if (::geteuid() != 0) {
        WARN("needs root to give a file another owner; skipped");
        return;
    }
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "c_plain")});
    const fs::path file = dir / "c_plain.so";
    fs::path owned;
    SECTION("the directory") { owned = dir; }
    SECTION("a plugin file") { owned = file; }
    REQUIRE(::chown(owned.c_str(), 65534, 65534) == 0);  // nobody
    std::vector<PluginMeta> metas;
    Status st = migrator::discover(dir.string(), metas);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("'" + owned.string() + "' is owned by user 65534") &&
                                 Contains("chown root"));
    auto r = run_plugins_cmd(dir);
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Contains("owned by user 65534"));
    // Root-owned is fine (a package's files, read by the app's user).
    REQUIRE(::chown(owned.c_str(), 0, 0) == 0);
    CHECK(migrator::discover(dir.string(), metas).is_ok());
}

TEST_CASE("loader: symlink escaping the plugin directory is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {});
    const fs::path outside_dir = tmp / "outside";
    testing::install_plugins(outside_dir, {fixture("single", "c_plain")});
    const fs::path link = dir / "link.so";
    fs::create_symlink(outside_dir / "c_plain.so", link);
    std::vector<PluginMeta> metas;
    Status st = migrator::discover(dir.string(), metas);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains(link.string()) && Contains("outside the plugin directory") &&
                                 Contains((outside_dir / "c_plain.so").string()));

    auto r = run_plugins_cmd(dir);
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Contains("link.so") && Contains("outside the plugin directory"));
}

TEST_CASE("loader: symlink within the plugin directory is accepted") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {});
    // The target does not end in .so, so it is not discovered a second time itself.
    fs::copy_file(fixture("single", "c_plain"), dir / "c_plain.bin");
    ::chmod((dir / "c_plain.bin").c_str(), 0755);
    fs::create_symlink("c_plain.bin", dir / "c_plain.so");  // relative, stays inside
    std::vector<PluginMeta> metas;
    migrator::LoadedPlugin lp;
    Status st = load_single(dir, metas, lp);
    INFO(st.message());
    CHECK(st.is_ok());
    CHECK(metas[0].revision == "0001_c_plain");
    CHECK(fs::path(metas[0].file).filename() == "c_plain.so");
    CHECK(lp.desc.up != nullptr);
}

// ---------------------------------------------------------------------------------------
// Loading: dlopen, the entry point and the descriptor
// ---------------------------------------------------------------------------------------

TEST_CASE("loader: plugin file deleted after discovery is refused at load") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "c_plain")});
    std::vector<PluginMeta> metas;
    REQUIRE(migrator::discover(dir.string(), metas).is_ok());
    REQUIRE(metas.size() == 1);
    REQUIRE(fs::remove(dir / "c_plain.so"));
    migrator::LoadedPlugin lp;
    Status st = migrator::load_plugin(metas[0], lp);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains(metas[0].file) && Contains("cannot load") &&
                                 Contains("No such file"));
    CHECK(lp.meta == nullptr);
}

TEST_CASE("loader: plugin file replaced after discovery is refused at load") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "c_plain")});
    std::vector<PluginMeta> metas;
    REQUIRE(migrator::discover(dir.string(), metas).is_ok());
    REQUIRE(metas.size() == 1);
    // Another plugin lands under the same name between planning and loading.
    fs::copy_file(fixture("two_roots", "r1"), dir / "c_plain.so", fs::copy_options::overwrite_existing);
    migrator::LoadedPlugin lp;
    Status st = migrator::load_plugin(metas[0], lp);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains(metas[0].file) &&
                                 Contains("descriptor field 'revision' is '0001_r1' but the metadata "
                                          "note says '0001_c_plain'"));
}

TEST_CASE("loader: plugin without entry symbol is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "no_entry")});
    std::vector<PluginMeta> metas;
    migrator::LoadedPlugin lp;
    Status st = load_single(dir, metas, lp);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("no_entry.so") && Contains("0001_no_entry") &&
                                 Contains("no entry symbol 'mig_get_plugin_v1'"));

    auto r = run_up_cmd(dir, tmp / "app.db");
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Contains("no_entry.so") && Contains("no entry symbol"));
}

TEST_CASE("loader: entry returning NULL is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "entry_null")});
    std::vector<PluginMeta> metas;
    migrator::LoadedPlugin lp;
    Status st = load_single(dir, metas, lp);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("entry_null.so") && Contains("mig_get_plugin_v1 returned NULL"));
}

TEST_CASE("loader: descriptor with ABI major 2 is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "abi_major2")});
    std::vector<PluginMeta> metas;
    migrator::LoadedPlugin lp;
    Status st = load_single(dir, metas, lp);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("abi_major2.so") && Contains("abi_major is 2, expected 1"));
}

TEST_CASE("loader: descriptor struct_size smaller than the 1.0 size is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "small_struct")});
    std::vector<PluginMeta> metas;
    migrator::LoadedPlugin lp;
    Status st = load_single(dir, metas, lp);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(),
               Contains("small_struct.so") &&
                   Contains(fmt::format("struct_size is {}, smaller than the ABI 1.0 size {}",
                                        MIG_PLUGIN_V1_0_SIZE - 8u, MIG_PLUGIN_V1_0_SIZE)));

    auto r = run_up_cmd(dir, tmp / "app.db");
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Contains("small_struct.so") && Contains("struct_size"));
}

// plugin_api.h: the host copies at most struct_size bytes and reads what a 1.0 plugin lacks as
// zero; frozen_schemas (1.1) of a 1.0 plugin declares none, whatever lies past its end.
TEST_CASE("loader: a 1.0-size descriptor loads, its frozen_schemas (1.1) read as none") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "v1_0_size")});
    std::vector<PluginMeta> metas;
    migrator::LoadedPlugin lp;
    Status st = load_single(dir, metas, lp);
    INFO(st.message());
    REQUIRE(st.is_ok());
    CHECK(metas[0].abi_minor == 0u);
    CHECK(lp.desc.struct_size == MIG_PLUGIN_V1_0_SIZE);
    CHECK(lp.desc.frozen_schemas == nullptr);
    migrator::Fingerprints declared{{"stale", "entry"}};
    st = migrator::declared_fingerprints(metas[0], declared);
    INFO(st.message());
    CHECK(st.is_ok());
    CHECK(declared.empty());

    auto r = run_up_cmd(dir, tmp / "app.db");
    INFO(r.err);
    CHECK(r.exit_code == 0);
}

TEST_CASE("loader: descriptor that disagrees with its note is refused") {
    std::string name, expected;
    SECTION("revision") {
        name = "disagree";
        expected = "descriptor field 'revision' is '0001_not_the_note' but the metadata note says "
                   "'0001_disagree'";
    }
    SECTION("flags (the plan was made from the note's)") {
        name = "disagree_flags";
        expected = "descriptor flags 0x2 differ from the metadata note's 0x0";
    }
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", name)});
    std::vector<PluginMeta> metas;
    migrator::LoadedPlugin lp;
    Status st = load_single(dir, metas, lp);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains(name + ".so") && Contains(expected));
}

// plugin_api.h: the note's abi_minor is "as in mig_plugin_v1" and the host "refuses it if the
// descriptor disagrees with the note"; load_plugin compares every other field but not this one.
TEST_CASE("loader: descriptor abi_minor that disagrees with its note is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "disagree_minor")});
    std::vector<PluginMeta> metas;
    migrator::LoadedPlugin lp;
    Status st = load_single(dir, metas, lp);
    CHECK(metas[0].abi_minor == 7);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("disagree_minor.so") && Contains("abi_minor"));
}

TEST_CASE("loader: descriptor from a newer ABI minor (larger struct_size) is accepted") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "newer_minor")});
    std::vector<PluginMeta> metas;
    migrator::LoadedPlugin lp;
    Status st = load_single(dir, metas, lp);
    INFO(st.message());
    CHECK(st.is_ok());
    CHECK(metas[0].abi_minor == MIG_ABI_MINOR + 1u);
    CHECK(lp.desc.struct_size == sizeof(mig_plugin_v1) + 32u);
    CHECK(lp.desc.up != nullptr);
}

TEST_CASE("loader: plugin with an undefined symbol fails to load cleanly") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "undefined")});
    std::vector<PluginMeta> metas;
    migrator::LoadedPlugin lp;
    Status st = load_single(dir, metas, lp);  // must return, not kill the test process
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("undefined.so") && Contains("cannot load") &&
                                 Contains("undefined symbol: mig_fixture_function_nobody_defines"));

    auto r = run_up_cmd(dir, tmp / "app.db");
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Contains("undefined.so") && Contains("mig_fixture_function_nobody_defines"));
}

// ---------------------------------------------------------------------------------------
// The chain
// ---------------------------------------------------------------------------------------

TEST_CASE("loader: duplicate revision id in two files is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("dup", "a"), fixture("dup", "b")});
    migrator::Chain chain;
    Status st = discover_chain(dir, chain);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("duplicate revision id '0001_dup'") &&
                                 Contains((dir / "a.so").string()) && Contains((dir / "b.so").string()));

    auto r = run_plugins_cmd(dir);
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Contains("duplicate revision id '0001_dup'") && Contains("b.so"));
}

TEST_CASE("loader: missing parent is refused") {
    TempDir tmp;
    const fs::path dir =
        plugin_dir(tmp, {fixture("missing_parent", "root"), fixture("missing_parent", "orphan")});
    migrator::Chain chain;
    Status st = discover_chain(dir, chain);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains((dir / "orphan.so").string()) &&
                                 Contains("parent '0001_gone' of revision '0002_orphan' is missing"));
}

TEST_CASE("loader: fork (two children of one parent) is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(
        tmp, {fixture("fork", "root"), fixture("fork", "left"), fixture("fork", "right")});
    migrator::Chain chain;
    Status st = discover_chain(dir, chain);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("fork") && Contains("'0002_left'") && Contains("'0002_right'") &&
                                 Contains("both have parent '0001_root'") &&
                                 Contains((dir / "left.so").string()) &&
                                 Contains((dir / "right.so").string()));
}

TEST_CASE("loader: cycle unreachable from the root is refused") {
    TempDir tmp;
    const fs::path dir =
        plugin_dir(tmp, {fixture("cycle", "root"), fixture("cycle", "a"), fixture("cycle", "b")});
    migrator::Chain chain;
    Status st = discover_chain(dir, chain);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("cycle") && Contains("not reachable from the root '0001_root'") &&
                                 Contains("'0002_a'") && Contains((dir / "a.so").string()));
}

TEST_CASE("loader: cycle without a root is refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("cycle", "a"), fixture("cycle", "b")});
    migrator::Chain chain;
    Status st = discover_chain(dir, chain);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("no root revision") && Contains("cycle"));
}

// plan.h promises that build_chain's refusals name "files and ids"; the no-root message names
// neither, so the operator cannot tell which plugins form the cycle.
TEST_CASE("loader: cycle without a root names the revisions and files") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("cycle", "a"), fixture("cycle", "b")});
    migrator::Chain chain;
    Status st = discover_chain(dir, chain);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("0002_a") && Contains("0003_b") &&
                                 Contains((dir / "a.so").string()));
}

TEST_CASE("loader: two roots are refused") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("two_roots", "r1"), fixture("two_roots", "r2")});
    migrator::Chain chain;
    Status st = discover_chain(dir, chain);
    CHECK(st.code() == Code::plugin_set_invalid);
    CHECK_THAT(st.message(), Contains("more than one root revision") && Contains("'0001_r1'") &&
                                 Contains("'0001_r2'") && Contains((dir / "r1.so").string()) &&
                                 Contains((dir / "r2.so").string()));
}

// ---------------------------------------------------------------------------------------
// Running: failures inside up, and plugins that must work
// ---------------------------------------------------------------------------------------

TEST_CASE("loader: up throwing a C++ exception fails the migration and leaves the DB unchanged") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {sdk_fixture("sdk_throws")});
    migrator::Db db;
    Status st = run_up(dir, tmp / "app.db", db);
    CHECK(st.code() == Code::migration_failed);
    CHECK_THAT(st.message(), Contains("'0001_sdk_throws'") &&
                                 Contains("kaboom: up threw a C++ exception after writing"));
    CHECK_FALSE(db.table_exists("thrown_table"));
    migrator::DbState state;
    REQUIRE(migrator::read_state(db, state).is_ok());
    CHECK(state.current.empty());
    CHECK(state.applied.empty());
    CHECK_FALSE(state.initialized);  // even the bookkeeping tables were rolled back

    auto r = run_up_cmd(dir, tmp / "cli.db");
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Contains("0001_sdk_throws") && Contains("kaboom: up threw"));
    migrator::Db cli;
    REQUIRE(migrator::Db::open((tmp / "cli.db").string(), migrator::Db::Mode::read_only, 1000, cli).is_ok());
    CHECK_FALSE(cli.table_exists("thrown_table"));
    CHECK_FALSE(cli.table_exists("migrator_version"));
}

TEST_CASE("loader: very long error message is truncated to the buffer on a UTF-8 boundary") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {sdk_fixture("sdk_long_error")});
    migrator::Db db;
    Status st = run_up(dir, tmp / "app.db", db);
    CHECK(st.code() == Code::migration_failed);
    const std::string& msg = st.message();
    CHECK_THAT(msg, Contains("'0001_sdk_long_error'"));
    const size_t start = msg.find("LONG-ERROR-START ");
    REQUIRE(start != std::string::npos);
    const std::string text = msg.substr(start);
    // 4094 bytes: byte 4095 would split the three-byte character at 4094..4096.
    CHECK(text.size() == 4094);
    CHECK(text.back() == 'a');
    CHECK(valid_utf8(msg));
    CHECK_FALSE(db.table_exists("long_error_table"));
}

TEST_CASE("loader: error buffer filled to capacity without a NUL is cut to cap-1 bytes") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "fill_error")});
    migrator::Db db;
    Status st = run_up(dir, tmp / "app.db", db);
    CHECK(st.code() == Code::migration_failed);
    const std::string& msg = st.message();
    CHECK_THAT(msg, Contains("'0001_fill_error'"));
    const size_t start = msg.find("\xC3\xA9");
    REQUIRE(start != std::string::npos);
    // The plugin wrote all 4096 bytes; the host keeps 4095 and its own NUL, and drops the
    // character that the cut split (the fixture's text is 2-byte characters from `start`).
    CHECK(msg.size() - start <= 4095);
    CHECK(msg.size() - start >= 4094);
}

// A C plugin that honours `cap` but not character boundaries: the host's forced
// data[cap-1] = 0 leaves a dangling lead byte, which the host passes on to stderr and --json.
TEST_CASE("loader: error buffer cut by the host stays valid UTF-8") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "fill_error")});
    migrator::Db db;
    Status st = run_up(dir, tmp / "app.db", db);
    CHECK(st.code() == Code::migration_failed);
    CHECK(valid_utf8(st.message()));
}

TEST_CASE("loader: plain C plugin is discovered, loaded and run") {
    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {fixture("single", "c_plain")});
    std::vector<PluginMeta> metas;
    migrator::LoadedPlugin lp;
    Status st = load_single(dir, metas, lp);
    INFO(st.message());
    REQUIRE(st.is_ok());
    CHECK(metas[0].revision == "0001_c_plain");
    CHECK(metas[0].parent.empty());
    CHECK(metas[0].checksum == "f1x7u4e0c0ffee");
    CHECK(metas[0].description == "loader fixture");
    CHECK(metas[0].flags == 0);
    CHECK(lp.desc.struct_size == sizeof(mig_plugin_v1));
    CHECK(std::string(lp.desc.revision) == "0001_c_plain");

    migrator::Db db;
    Status run = run_up(dir, tmp / "app.db", db);
    INFO(run.message());
    REQUIRE(run.is_ok());
    std::int64_t x = 0;
    REQUIRE(db.query_int("SELECT x FROM c_plain", x).is_ok());
    CHECK(x == 42);
    migrator::DbState state;
    REQUIRE(migrator::read_state(db, state).is_ok());
    CHECK(state.current == "0001_c_plain");

    auto r = run_up_cmd(dir, tmp / "cli.db");
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.err + r.out, Contains("0001_c_plain"));
}

TEST_CASE("loader: stripped plugin is still discovered and loads") {
    const fs::path original = fixture("single", "c_plain");
    const fs::path stripped = fixture("stripped", "c_plain");
    // Really stripped: the symbol table is gone, the note section is not.
    CHECK(file_contains(original, ".symtab"));
    CHECK_FALSE(file_contains(stripped, ".symtab"));
    CHECK(file_contains(stripped, ".note.migrator"));

    TempDir tmp;
    const fs::path dir = plugin_dir(tmp, {stripped});
    std::vector<PluginMeta> metas;
    migrator::LoadedPlugin lp;
    Status st = load_single(dir, metas, lp);
    INFO(st.message());
    CHECK(st.is_ok());
    CHECK(metas[0].revision == "0001_c_plain");
    CHECK(metas[0].checksum == "f1x7u4e0c0ffee");

    migrator::Db db;
    Status run = run_up(dir, tmp / "app.db", db);
    INFO(run.message());
    CHECK(run.is_ok());
    CHECK(db.table_exists("c_plain"));
}
