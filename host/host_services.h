// The mig_host_v1 table a plugin's up/down receives, implemented over one SQLite connection.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "db.h"
#include "migrator/plugin_api.h"

struct mig_stmt {
    migrator::StmtPtr stmt;
    sqlite3* db = nullptr;
    std::string* errmsg = nullptr;
};

namespace migrator {

// Lives for exactly one up/down call; statements left open are finalized when it dies.
class HostServices {
public:
    // in_transaction: the step runs inside the host's transaction, so the plugin must not
    // end it: BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE are refused by an SQLite authorizer.
    HostServices(Db& db, std::string revision, const std::atomic<bool>& cancel, bool in_transaction);
    ~HostServices();
    HostServices(const HostServices&) = delete;
    HostServices& operator=(const HostServices&) = delete;

    const mig_host_v1* table() const { return &table_; }
    // Rows changed through exec/step during this call (INSERT/UPDATE/DELETE).
    std::int64_t rows_affected() const;

    // Implementation details reached through the C table.
    Db& db() { return db_; }
    std::string& errmsg() { return errmsg_; }
    // The authorizer refused a statement (its message is in errmsg()); take_denied() reads and
    // clears that.
    void mark_denied() { denied_ = true; }
    bool take_denied() {
        const bool d = denied_;
        denied_ = false;
        return d;
    }
    const std::string& revision() const { return revision_; }
    bool cancelled() const { return cancel_.load(std::memory_order_relaxed); }
    mig_stmt* adopt(StmtPtr s);

private:
    Db& db_;
    std::string revision_;
    const std::atomic<bool>& cancel_;
    std::string errmsg_;
    bool denied_ = false;
    std::vector<std::unique_ptr<mig_stmt>> stmts_;
    std::int64_t total_changes_at_start_;
    bool guarded_;
    mig_host_v1 table_{};
};

}  // namespace migrator
