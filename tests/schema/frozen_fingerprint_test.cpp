// The head plugin's declared frozen schema fingerprints (mig_plugin_v1.frozen_schemas, ABI 1.1):
// `migrator check` compares them with the frozen schema directory, `migrator new` writes them,
// `migrator fingerprints` prints them. One test per way the two can disagree.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "json_models.h"
#include "test_support.h"

using namespace migrator;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

const fs::path kRepoSchemas = fs::path(REPO_DIR) / "schemas";

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

std::string fingerprint(const fs::path& file) {
    std::string f;
    Status st = schema_fingerprint(file.string(), f);
    INFO(st.message());
    REQUIRE(st.is_ok());
    return f;
}

// `s` with the first `from` replaced by `to` (which must be there).
std::string replaced(std::string s, const std::string& from, const std::string& to) {
    const size_t at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
}

// A copy of the reference app (its plugins, or the first `revisions` of them, and schemas/) in
// a temporary directory, which a test edits.
struct App {
    testing::TempDir tmp;
    fs::path plugins = tmp / "plugins", schemas = tmp / "schemas";
    fs::path models = schemas / "models", frozen = schemas / "frozen";

    explicit App(size_t revisions = 0) {
        auto files = testing::reference_plugins();
        if (revisions != 0) files.resize(revisions);
        testing::install_plugins(plugins, files);
        fs::copy(kRepoSchemas, schemas, fs::copy_options::recursive);
    }
    // The same edit to a model and its frozen copy, as a hand edit of both would make: the
    // models equal their frozen copies, so only the declaration can notice.
    void edit_model_and_frozen(const std::string& model, const std::string& from, const std::string& to) {
        for (const auto& dir : {models, frozen}) {
            const fs::path f = dir / (model + ".json");
            testing::write_file(f, replaced(testing::read_file(f), from, to));
        }
    }
    testing::RunResult check(const std::string& extra = "--no-populated") const {
        return testing::run_migrator("-q --plugins " + q(plugins) + " check --schema " + q(schemas / "schema.sql") +
                                     " --models " + q(models) + " --frozen " + q(frozen) + " " + extra);
    }
    testing::RunResult new_migration(const std::string& name, const std::string& extra) const {
        return testing::run_migrator("-q --plugins " + q(plugins) + " new " + name + " --schema " +
                                     q(schemas / "schema.sql") + " --models " + q(models) + " --frozen " + q(frozen) +
                                     " " + extra);
    }
};

const std::string kPinned = "\"properties\": {";
const std::string kPinnedTo = "\"properties\": {\n    \"pinned\": {\"type\": \"boolean\"},";

}  // namespace

TEST_CASE("frozen fingerprints: check passes on the reference app, whose head declares them") {
    App app;
    auto r = app.check("");  // populated DBs too, as CI runs it
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Contains("the head declares the fingerprints of the frozen schemas"));
}

TEST_CASE("frozen fingerprints: check fails naming the model when a frozen schema is edited by hand") {
    App app;
    const std::string before = fingerprint(app.frozen / "SavedAgentMessage.json");
    app.edit_model_and_frozen("SavedAgentMessage", kPinned, kPinnedTo);
    const std::string after = fingerprint(app.frozen / "SavedAgentMessage.json");
    REQUIRE(before != after);
    auto r = app.check();
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Contains("0006_frozen_schema_fingerprints") && Contains("model SavedAgentMessage") &&
                          Contains("declared " + before) && Contains("is " + after) &&
                          Contains("scripts/new-migration") &&
                          Contains("MIGRATOR_FROZEN_SCHEMAS(\"SavedAgentMessage " + after + "\")"));
}

TEST_CASE("frozen fingerprints: check fails when the head declares nothing but frozen schemas exist") {
    App app(4);  // head 0004_task_status_check: same SQL schema, built without a declaration
    auto r = app.check();
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Contains("head revision 0004_task_status_check declares no frozen schema fingerprints") &&
                          Contains("SavedAgentMessage") && Contains("scripts/new-migration"));
}

TEST_CASE("frozen fingerprints: check fails on a frozen schema the head does not declare") {
    App app;
    for (const auto& dir : {app.models, app.frozen})
        testing::write_file(dir / "Other.json", "{\"type\": \"object\"}");
    auto r = app.check();
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Contains("model Other: not declared") && Contains("Other.json"));
}

TEST_CASE("frozen fingerprints: check fails on a declared model without a frozen schema") {
    App app;
    const std::string declared = fingerprint(app.frozen / "SavedAgentMessage.json");
    for (const auto& dir : {app.models, app.frozen}) fs::remove(dir / "SavedAgentMessage.json");
    auto r = app.check();
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Contains("model SavedAgentMessage: declared " + declared + ", but there is no frozen schema"));
}

TEST_CASE("frozen fingerprints: a reformatted frozen schema keeps its fingerprint and passes check") {
    App app;
    const fs::path f = app.frozen / "SavedAgentMessage.json";
    const std::string original = testing::read_file(f);
    // Whitespace between tokens only (the file is pretty-printed: no newline inside a string).
    std::string reformatted;
    for (char c : original) reformatted += c == '\n' ? std::string("\r\n\t ") : std::string(1, c);
    testing::write_file(f, reformatted);
    CHECK(fingerprint(f) == fingerprint(kRepoSchemas / "frozen" / "SavedAgentMessage.json"));
    auto r = app.check();
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);

    // Member order, spacing and string escapes do not count; values do.
    testing::TempDir tmp;
    testing::write_file(tmp / "a.json", R"({"type":"object","required":["a"],"properties":{"a":{"type":"string"}}})");
    testing::write_file(tmp / "b.json",
                        "{ \"properties\" : { \"a\" : { \"type\" : \"\\u0073tring\" } },\n"
                        "  \"required\" : [ \"a\" ], \"type\" : \"object\" }\n");
    testing::write_file(tmp / "c.json", R"({"type":"object","required":["a"],"properties":{"a":{"type":"integer"}}})");
    testing::write_file(tmp / "d.json", R"({"type":"object","required":["a", "b"],"properties":{"a":{"type":"string"}}})");
    CHECK(fingerprint(tmp / "a.json") == fingerprint(tmp / "b.json"));
    CHECK(fingerprint(tmp / "a.json") != fingerprint(tmp / "c.json"));
    CHECK(fingerprint(tmp / "a.json") != fingerprint(tmp / "d.json"));
    CHECK(fingerprint(tmp / "a.json").rfind("sha256:", 0) == 0);
    CHECK(fingerprint(tmp / "a.json").size() == 7 + 64);
}

TEST_CASE("frozen fingerprints: migrator new declares the fingerprints of the frozen schemas it writes") {
    App app;
    app.edit_model_and_frozen("SavedAgentMessage", kPinned, kPinnedTo);  // the model only, below
    fs::copy_file(kRepoSchemas / "frozen" / "SavedAgentMessage.json", app.frozen / "SavedAgentMessage.json",
                  fs::copy_options::overwrite_existing);
    const std::string changed = fingerprint(app.models / "SavedAgentMessage.json");

    auto printed = app.new_migration("pin_messages", "--print");
    INFO(printed.out << printed.err);
    REQUIRE(printed.exit_code == 0);
    CHECK_THAT(printed.out, Contains("MIGRATOR_FROZEN_SCHEMAS(\"SavedAgentMessage " + changed + "\")"));

    fs::create_directories(app.tmp / "out");
    auto r = app.new_migration("pin_messages", "--out " + q(app.tmp / "out"));
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Contains("declares 1 frozen schema fingerprint(s)"));
    const std::string src = testing::read_file(app.tmp / "out" / "0007_pin_messages.cpp");
    auto printed_now = testing::run_migrator("fingerprints --cpp " + q(app.frozen));
    REQUIRE(printed_now.exit_code == 0);
    CHECK_THAT(src, Contains(printed_now.out.substr(0, printed_now.out.size() - 1)));  // without its newline
    CHECK_THAT(src, Contains(changed));
    // It precedes the plugin macro, as the SDK requires.
    CHECK(src.find("MIGRATOR_FROZEN_SCHEMAS(") < src.find("MIGRATOR_PLUGIN_BLOBS("));
}

TEST_CASE("frozen fingerprints: migrator new declares them in a migration without a model change too") {
    App app;
    testing::write_file(app.schemas / "schema.sql",
                        testing::read_file(app.schemas / "schema.sql") + "\nCREATE TABLE label(id INTEGER PRIMARY KEY);\n");
    auto r = app.new_migration("labels", "--print");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Contains("MIGRATOR_PLUGIN(\"0007_labels\""));
    CHECK_THAT(r.out, Contains("MIGRATOR_FROZEN_SCHEMAS(\"SavedAgentMessage " +
                               fingerprint(kRepoSchemas / "frozen" / "SavedAgentMessage.json") + "\")"));
}

TEST_CASE("frozen fingerprints: migrator new stubs a frozen schema that was edited by hand") {
    App app;
    app.edit_model_and_frozen("SavedAgentMessage", kPinned, kPinnedTo);
    auto r = app.new_migration("pin_messages", "--print");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Contains("not implemented") && Contains("the frozen schema changed after 0006_frozen_schema_fingerprints") &&
                          Contains("\"saved_agent_message\", \"data\", \"SavedAgentMessage\""));
    CHECK_THAT(r.out, Contains(fingerprint(app.frozen / "SavedAgentMessage.json")));
}

TEST_CASE("frozen fingerprints: migrator fingerprints prints the declaration lines") {
    const fs::path dir = kRepoSchemas / "frozen";
    const std::string line = "SavedAgentMessage " + fingerprint(dir / "SavedAgentMessage.json");
    auto r = testing::run_migrator("fingerprints " + q(dir));
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == line + "\n");
    r = testing::run_migrator("fingerprints --cpp " + q(dir));
    CHECK(r.out == "MIGRATOR_FROZEN_SCHEMAS(\"" + line + "\")\n");
    r = testing::run_migrator("fingerprints " + q(dir / "missing"));
    CHECK(r.exit_code == 2);
}

TEST_CASE("frozen fingerprints: a malformed declaration is refused naming its line") {
    const std::string hex(64, 'a');
    Fingerprints f;
    CHECK(parse_fingerprints(nullptr, f).is_ok());
    CHECK(f.empty());
    CHECK(parse_fingerprints("", f).is_ok());
    REQUIRE(parse_fingerprints(("A sha256:" + hex + "\nB sha256:" + hex + "\n").c_str(), f).is_ok());
    CHECK(f == Fingerprints{{"A", "sha256:" + hex}, {"B", "sha256:" + hex}});
    CHECK(format_fingerprints(f) == "A sha256:" + hex + "\nB sha256:" + hex);
    for (const auto& [decl, why] : std::vector<std::pair<std::string, std::string>>{
             {"B sha256:" + hex + "\nA sha256:" + hex, "line 2 of the frozen_schemas declaration ('A sha256:"},
             {"A sha256:" + hex + "\nA sha256:" + hex, "repeats a model"},
             {"A sha256:" + hex.substr(1), "64 lowercase hex"},
             {"A sha256:" + std::string(64, 'A'), "64 lowercase hex"},
             {"A md5:" + hex, "64 lowercase hex"},
             {"A sha256:" + hex + "\n\n", "line 2"},
             {"bad model sha256:" + hex, "64 lowercase hex"},
             {" sha256:" + hex, "does not start with a model name"}}) {
        INFO(decl);
        Status st = parse_fingerprints(decl.c_str(), f);
        CHECK(st.code() == Code::migration_failed);
        CHECK_THAT(st.message(), Contains(why));
    }
}
