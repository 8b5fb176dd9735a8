#include "report.h"

#include <fmt/format.h>

#include "json_out.h"
#include "migrator/plugin_api.h"

namespace migrator {
namespace {

std::string show(const std::string& rev) { return rev.empty() ? std::string(kBase) : rev; }

void json_flags(JsonOut& j, std::uint64_t f) {
    j.key("flags").begin_array();
    for (const auto& n : flag_names(f)) j.value(n);
    j.end_array();
}

void json_revision(JsonOut& j, const std::string& rev) {
    if (rev.empty()) j.null();
    else j.value(rev);
}

void json_blobs(JsonOut& j, const std::vector<BlobStats>& blobs) {
    j.key("blobs").begin_array();
    for (const auto& b : blobs) {
        j.begin_object();
        json_blob_counts(j, b);
        j.key("errors").begin_array();
        for (const auto& e : b.errors) j.begin_object().field("rowid", e.rowid).field("message", e.message).end_object();
        j.end_array().end_object();
    }
    j.end_array();
}

void print_blobs(const std::vector<BlobStats>& blobs) {
    for (const auto& b : blobs) {
        fmt::print("      blob {}.{}: {} scanned, {} changed, {} unchanged, {} failed{}, {:.1f} ms ({:.0f} rows/s)\n",
                   b.table, b.column, b.scanned, b.changed, b.unchanged, b.failed,
                   b.quarantined ? fmt::format(" ({} quarantined, left as they were)", b.quarantined) : "",
                   b.duration_ms,
                   b.duration_ms > 0 ? static_cast<double>(b.scanned) * 1000.0 / b.duration_ms : 0.0);
        for (const auto& e : b.errors) fmt::print("        rowid {}: {}\n", e.rowid, e.message);
    }
}

}  // namespace

std::vector<std::string> flag_names(std::uint64_t f) {
    std::vector<std::string> out;
    if (f & MIG_FLAG_IRREVERSIBLE) out.emplace_back("irreversible");
    if (f & MIG_FLAG_NO_TRANSACTION) out.emplace_back("no_transaction");
    if (f & MIG_FLAG_FOREIGN_KEYS_OFF) out.emplace_back("foreign_keys_off");
    return out;
}

void json_blob_counts(JsonOut& j, const BlobStats& b) {
    j.field("table", b.table)
        .field("column", b.column)
        .field("scanned", static_cast<std::int64_t>(b.scanned))
        .field("changed", static_cast<std::int64_t>(b.changed))
        .field("unchanged", static_cast<std::int64_t>(b.unchanged))
        .field("failed", static_cast<std::int64_t>(b.failed))
        .field("quarantined", static_cast<std::int64_t>(b.quarantined))
        .field("duration_ms", b.duration_ms)
        .field("rows_per_s", b.duration_ms > 0 ? static_cast<double>(b.scanned) * 1000.0 / b.duration_ms : 0.0);
}

void print_run(const GlobalOptions& g, const Plan& plan, const RunReport& r, const Status& st) {
    if (g.json) {
        JsonOut j;
        j.begin_object().field("ok", st.is_ok()).field("direction", direction_name(plan.direction));
        j.key("from");
        json_revision(j, r.from);
        j.key("to");
        json_revision(j, plan.to);
        j.key("reached");
        json_revision(j, r.reached);
        j.key("steps").begin_array();
        for (const auto& s : r.steps) {
            j.begin_object()
                .field("revision", s.revision)
                .field("direction", direction_name(s.direction))
                .field("duration_ms", s.duration_ms)
                .field("rows_affected", s.rows_affected)
                .field("committed", s.committed);
            json_blobs(j, s.blobs);
            j.end_object();
        }
        j.end_array();
        if (!st) {
            j.key("error").begin_object().field("code", code_name(st.code()))
                .field("exit_code", exit_code(st.code())).field("message", st.message());
            j.key("revision");
            json_revision(j, r.failed_revision);
            json_blobs(j, r.failed_blobs);
            j.end_object();
        }
        j.end_object();
        fmt::print("{}\n", j.str());
        return;
    }
    if (plan.steps.empty()) {
        fmt::print("nothing to do: database is at {}\n", show(r.reached));
        return;
    }
    for (const auto& s : r.steps) {
        fmt::print("{:<5} {:<40} {:>9.1f} ms {:>9} rows{}\n", direction_name(s.direction), s.revision,
                   s.duration_ms, s.rows_affected, s.committed ? "" : "  (rolled back)");
        print_blobs(s.blobs);
    }
    if (!st && !r.failed_blobs.empty()) {
        fmt::print("{:<5} {:<40} FAILED\n", direction_name(plan.direction), r.failed_revision);
        print_blobs(r.failed_blobs);
    }
    if (st) {
        fmt::print("database is at {} ({} revision(s) {})\n", show(r.reached), r.steps.size(),
                   plan.direction == Direction::up ? "applied" : "reverted");
    } else if (r.failed_revision.empty()) {
        // Nothing ran (busy, cancelled before the first revision, ...): no revision to blame.
        fmt::print("FAILED before any revision ran ({}); database is at {}\n", code_name(st.code()), show(r.reached));
    } else {
        fmt::print("FAILED at {}; database is at {}\n", show(r.failed_revision), show(r.reached));
    }
}

void print_status(const GlobalOptions& g, const Chain& chain, const DbState& state, bool db_exists,
                  const Status& st) {
    const bool newer = st.code() == Code::db_newer_than_app;
    const int pos = chain.position(state.current);
    std::vector<const PluginMeta*> pending;
    if (pos >= 0)
        for (size_t i = static_cast<size_t>(pos); i < chain.revisions().size(); ++i)
            pending.push_back(&chain.revisions()[i]);
    if (g.json) {
        JsonOut j;
        j.begin_object().field("db", g.db).field("exists", db_exists);
        j.key("current");
        json_revision(j, state.current);
        j.key("head");
        json_revision(j, chain.head());
        j.field("at_head", !newer && state.current == chain.head())
            .field("db_newer_than_app", newer)
            .field("applied", static_cast<std::int64_t>(state.applied.size()));
        j.key("pending").begin_array();
        for (const auto* m : pending)
            j.begin_object().field("revision", m->revision).field("description", m->description).end_object();
        j.end_array();
        j.field("quarantined_rows", state.quarantined);
        j.key("last_incident");
        if (const auto& i = state.last_incident) {
            j.begin_object()
                .field("time", i->time)
                .field("failure_class", i->failure_class)
                .field("failing_revision", i->failing_revision)
                .field("error", i->error)
                .field("backup_path", i->backup_path)
                .field("from_revision", i->from_revision)
                .field("to_revision", i->to_revision)
                .end_object();
        } else {
            j.null();
        }
        j.end_object();
        fmt::print("{}\n", j.str());
        return;
    }
    fmt::print("database: {}{}\n", g.db, db_exists ? "" : " (does not exist yet; `migrator up` creates it)");
    fmt::print("current:  {}\n", show(state.current));
    fmt::print("head:     {}\n", show(chain.head()));
    if (state.quarantined > 0)
        fmt::print("quarantine: {} row(s) a blob migration could not migrate, left as they were "
                   "(table migrator_quarantine)\n",
                   state.quarantined);
    if (const auto& i = state.last_incident)
        fmt::print("incident: {} reset after a {} failure at {} ({}); old data: {}\n", i->time,
                   i->failure_class, show(i->failing_revision), i->error, i->backup_path);
    if (newer) {
        fmt::print("status:   DATABASE IS NEWER THAN THIS APP ({})\n", st.message());
        return;
    }
    if (pending.empty()) {
        fmt::print("status:   at head\n");
        return;
    }
    fmt::print("pending:  {}\n", pending.size());
    for (const auto* m : pending) fmt::print("  {:<40} {}\n", m->revision, m->description);
}

void print_history(const GlobalOptions& g, const std::vector<HistoryRow>& rows) {
    if (g.json) {
        JsonOut j;
        j.begin_array();
        for (const auto& r : rows)
            j.begin_object()
                .field("id", r.id)
                .field("revision", r.revision)
                .field("direction", r.direction)
                .field("checksum", r.checksum)
                .field("started_at", r.started_at)
                .field("duration_ms", r.duration_ms)
                .field("rows_affected", r.rows_affected)
                .field("host_version", r.host_version)
                .end_object();
        j.end_array();
        fmt::print("{}\n", j.str());
        return;
    }
    if (rows.empty()) {
        fmt::print("no history: no migration has been run on this database\n");
        return;
    }
    for (const auto& r : rows)
        fmt::print("{:>4}  {:<24}  {:<5}  {:<40} {:>9.1f} ms {:>9} rows\n", r.id, r.started_at,
                   r.direction, show(r.revision), r.duration_ms, r.rows_affected);
}

void print_plugins(const GlobalOptions& g, const Chain& chain) {
    if (g.json) {
        JsonOut j;
        j.begin_array();
        for (const auto& m : chain.revisions()) {
            j.begin_object().field("revision", m.revision);
            j.key("parent");
            json_revision(j, m.parent);
            j.field("description", m.description).field("file", m.file).field("checksum", m.checksum);
            json_flags(j, m.flags);
            j.field("abi_minor", static_cast<std::int64_t>(m.abi_minor)).end_object();
        }
        j.end_array();
        fmt::print("{}\n", j.str());
        return;
    }
    for (const auto& m : chain.revisions()) {
        auto flags = flag_names(m.flags);
        fmt::print("{:<40} parent={:<40} {}{}\n    {}\n", m.revision, show(m.parent), m.description,
                   flags.empty() ? std::string() : fmt::format(" [{}]", fmt::join(flags, ",")), m.file);
    }
}

}  // namespace migrator
