// Shared helpers for the test suite: temporary directories, plugin directories, running the
// migrator binary, reading files.
#pragma once

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace testing {

namespace fs = std::filesystem;

// A fresh directory (mode 0755) removed with everything in it at scope exit.
class TempDir {
public:
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "migrator-test-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
        ::chmod(path_.c_str(), 0755);
    }
    ~TempDir() {
        std::error_code ec;
        fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }
    std::string str() const { return path_.string(); }
    fs::path operator/(const std::string& s) const { return path_ / s; }

private:
    fs::path path_;
};

// The reference plugins' files, in chain order (sorted by name).
inline std::vector<fs::path> reference_plugins() {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(REFERENCE_PLUGIN_DIR))
        if (e.path().extension() == ".so") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

// Copies `files` into dir (created 0755 if needed) with mode 0755.
inline void install_plugins(const fs::path& dir, const std::vector<fs::path>& files) {
    fs::create_directories(dir);
    ::chmod(dir.c_str(), 0755);
    for (const auto& f : files) {
        fs::path dst = dir / f.filename();
        fs::copy_file(f, dst, fs::copy_options::overwrite_existing);
        ::chmod(dst.c_str(), 0755);
    }
}

inline std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void write_file(const fs::path& p, const std::string& content) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
}

struct RunResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Runs the migrator binary with `args` (shell-quoted by the caller where needed), capturing
// stdout and stderr.
inline RunResult run_migrator(const std::string& args, const std::string& env = "") {
    TempDir tmp;
    fs::path out = tmp / "out", err = tmp / "err";
    std::string cmd = env + (env.empty() ? "" : " ") + "'" MIGRATOR_BIN "' " + args + " >'" +
                      out.string() + "' 2>'" + err.string() + "' </dev/null";
    int rc = std::system(cmd.c_str());
    RunResult r;
    r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
    r.out = read_file(out);
    r.err = read_file(err);
    return r;
}

}  // namespace testing
