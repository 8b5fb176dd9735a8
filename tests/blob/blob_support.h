// Helpers shared by the blob-transform tests.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace blob_test {

namespace fs = std::filesystem;

inline std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The JSONTestSuite folder: $MIGRATOR_JSON_TEST_SUITE when set, else the compiled-in
// JSON_TEST_SUITE_DIR. FAILs the test when neither holds test_parsing/: missing data must not
// look like a pass.
inline fs::path json_test_suite_dir() {
    if (const char* env = std::getenv("MIGRATOR_JSON_TEST_SUITE"); env != nullptr && *env != '\0') {
        if (fs::is_directory(fs::path(env) / "test_parsing")) return env;
        FAIL("MIGRATOR_JSON_TEST_SUITE=" << env << " has no test_parsing/ folder");
    }
    const fs::path compiled = JSON_TEST_SUITE_DIR;
    if (fs::is_directory(compiled / "test_parsing")) return compiled;
    FAIL("JSONTestSuite data not found: neither $MIGRATOR_JSON_TEST_SUITE nor "
         << compiled.string()
         << " holds test_parsing/. Check out shared/ beside the repository or set "
            "MIGRATOR_JSON_TEST_SUITE to the JSONTestSuite folder.");
    return {};
}

struct DataFile {
    std::string name;
    std::string bytes;
};

// Every regular file of `sub` (e.g. "test_parsing") whose name starts with `prefix`, sorted.
inline std::vector<DataFile> suite_files(const std::string& sub, const std::string& prefix = "") {
    const fs::path dir = json_test_suite_dir() / sub;
    std::vector<DataFile> out;
    for (const auto& e : fs::directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        std::string name = e.path().filename().string();
        if (name.compare(0, prefix.size(), prefix) != 0) continue;
        out.push_back({name, slurp(e.path())});
    }
    std::sort(out.begin(), out.end(), [](const DataFile& a, const DataFile& b) { return a.name < b.name; });
    if (out.empty()) FAIL("no " << prefix << "* files in " << dir.string());
    return out;
}

inline bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace blob_test
