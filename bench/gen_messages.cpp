// bench/gen_messages.cpp: fills a reference-app database (at revision 0004_task_status_check,
// made by `migrator up --to 0004_task_status_check`) with N saved_agent_message rows in the v1
// format, the mix of bench/message_gen.hpp (deterministic: same options, same bytes).
//
//   gen_messages DB N [--seed S] [--bad-fraction F] [--median BYTES] [--max-content BYTES]
//
// Also adds the agent and task rows the messages belong to (task.agent_id references agent).
// Message ids are 1..N. --bad-fraction (default 0) makes that share of rows errors for the
// transform (mostly invalid JSON): by default one such row fails the whole revision, so the
// benchmark runs with 0. Prints a summary (rows, bad rows, bytes, row size percentiles).
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "message_gen.hpp"

namespace {

[[noreturn]] void die(sqlite3* db, const char* what) {
    std::fprintf(stderr, "gen_messages: %s: %s\n", what, db ? sqlite3_errmsg(db) : "");
    std::exit(1);
}

void exec(sqlite3* db, const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) die(db, sql);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr,
                     "usage: gen_messages DB N [--seed S] [--bad-fraction F] [--median BYTES] "
                     "[--max-content BYTES]\n");
        return 2;
    }
    const char* path = argv[1];
    const std::uint64_t n = std::strtoull(argv[2], nullptr, 10);
    msggen::Options o;
    for (int a = 3; a + 1 < argc; a += 2) {
        if (!std::strcmp(argv[a], "--seed")) o.seed = std::strtoull(argv[a + 1], nullptr, 10);
        else if (!std::strcmp(argv[a], "--bad-fraction")) o.bad_fraction = std::atof(argv[a + 1]);
        else if (!std::strcmp(argv[a], "--median")) o.content_median = std::atof(argv[a + 1]);
        else if (!std::strcmp(argv[a], "--max-content")) o.max_content = std::strtoull(argv[a + 1], nullptr, 10);
        else {
            std::fprintf(stderr, "gen_messages: unknown option %s\n", argv[a]);
            return 2;
        }
    }
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) die(db, "open");
    exec(db, "PRAGMA foreign_keys = ON");
    exec(db, "BEGIN");
    const std::uint64_t per_task = 50, tasks = n / per_task + 1, agents = 8;
    {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db, "INSERT INTO agent(id, name, created_at) VALUES (?1, ?2, '2026-01-01T00:00:00Z')",
                               -1, &s, nullptr) != SQLITE_OK)
            die(db, "prepare agent");
        for (std::uint64_t a = 1; a <= agents; ++a) {
            std::string name = "agent-" + std::to_string(a);
            sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(a));
            sqlite3_bind_text(s, 2, name.c_str(), -1, SQLITE_TRANSIENT);
            if (sqlite3_step(s) != SQLITE_DONE) die(db, "insert agent");
            sqlite3_reset(s);
        }
        sqlite3_finalize(s);
        if (sqlite3_prepare_v2(db, "INSERT INTO task(id, agent_id, title, status, created_at) VALUES "
                                   "(?1, ?2, 'task ' || ?1, 'done', '2026-01-01T00:00:00Z')",
                               -1, &s, nullptr) != SQLITE_OK)
            die(db, "prepare task");
        for (std::uint64_t t = 1; t <= tasks; ++t) {
            sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(t));
            sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(1 + t % agents));
            if (sqlite3_step(s) != SQLITE_DONE) die(db, "insert task");
            sqlite3_reset(s);
        }
        sqlite3_finalize(s);
    }
    sqlite3_stmt* ins = nullptr;
    if (sqlite3_prepare_v2(db, "INSERT INTO saved_agent_message(id, task_id, created_at, data) VALUES (?1, ?2, ?3, ?4)",
                           -1, &ins, nullptr) != SQLITE_OK)
        die(db, "prepare message");
    std::vector<std::uint32_t> sizes;
    sizes.reserve(n);
    std::uint64_t bad = 0, bytes = 0;
    char ts[32];
    for (std::uint64_t i = 0; i < n; ++i) {
        msggen::Row r = msggen::make_row(o, i);
        bad += r.bad;
        bytes += r.json.size();
        sizes.push_back(static_cast<std::uint32_t>(r.json.size()));
        std::snprintf(ts, sizeof ts, "2026-01-01T00:00:%02llu.%06lluZ", static_cast<unsigned long long>(i / 1000000 % 60),
                      static_cast<unsigned long long>(i % 1000000));
        sqlite3_bind_int64(ins, 1, static_cast<sqlite3_int64>(i + 1));
        sqlite3_bind_int64(ins, 2, static_cast<sqlite3_int64>(1 + i / per_task));
        sqlite3_bind_text(ins, 3, ts, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 4, r.json.data(), static_cast<int>(r.json.size()), SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) die(db, "insert message");
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    exec(db, "COMMIT");
    sqlite3_close(db);
    std::sort(sizes.begin(), sizes.end());
    auto pct = [&](double p) { return sizes.empty() ? 0u : sizes[static_cast<std::size_t>(p * static_cast<double>(sizes.size() - 1))]; };
    std::printf("gen_messages: %llu rows (%llu bad), %.1f MB of JSON; row bytes p50 %u, p90 %u, p99 %u, max %u "
                "(seed %llu)\n",
                static_cast<unsigned long long>(n), static_cast<unsigned long long>(bad), static_cast<double>(bytes) / 1e6,
                pct(0.5), pct(0.9), pct(0.99), sizes.empty() ? 0u : sizes.back(), static_cast<unsigned long long>(o.seed));
    return 0;
}
