#include "check.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "chain.h"
#include "db.h"
#include "json_models.h"
#include "loader.h"
#include "log.h"
#include "manifest.h"
#include "plan.h"
#include "schema_model.h"

namespace migrator {
namespace fs = std::filesystem;
namespace {

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

// A value for column `c` of generated row `i`, by SQLite's type affinity rules.
std::string typed_value(const ColumnModel& c, int i) {
    const std::string t = upper(c.type);
    if (t.find("INT") != std::string::npos) return std::to_string(i);
    if (t.find("CHAR") != std::string::npos || t.find("CLOB") != std::string::npos || t.find("TEXT") != std::string::npos)
        return fmt::format("'{} {}'", c.name, i);
    if (t.find("REAL") != std::string::npos || t.find("FLOA") != std::string::npos || t.find("DOUB") != std::string::npos)
        return fmt::format("{}.5", i);
    if (t.empty() || t.find("BLOB") != std::string::npos) return fmt::format("x'{:02x}'", i);
    return std::to_string(i);  // NUMERIC affinity
}

// Fills every table of a DB with `rows` generated rows each (columns with a DEFAULT take it
// first: the value an app most likely stored), parents before children so that
// foreign keys point at real rows. Columns that a blob migration reads get "{}" (the smallest
// JSON object); a table whose constraints the generator cannot satisfy is left empty and
// named in `notes` (give it a fixture file).
Status populate(Db& db, const SchemaModel& m, const std::set<std::string>& json_columns, int rows,
                std::vector<std::string>& notes) {
    std::vector<std::string> order;
    std::set<std::string> placed;
    std::vector<const TableModel*> pending;
    for (const auto& [n, t] : m.tables)
        if (!t.is_virtual) pending.push_back(&t);
    while (!pending.empty()) {
        bool progress = false;
        for (auto it = pending.begin(); it != pending.end();) {
            bool ready = std::all_of((*it)->foreign_keys.begin(), (*it)->foreign_keys.end(), [&](const ForeignKeyModel& f) {
                return f.table == (*it)->name || placed.count(f.table) || !m.tables.count(f.table);
            });
            if (ready) {
                order.push_back((*it)->name);
                placed.insert((*it)->name);
                it = pending.erase(it);
                progress = true;
            } else {
                ++it;
            }
        }
        if (!progress) {  // a cycle: take the rest in name order
            for (const auto* t : pending) order.push_back(t->name);
            break;
        }
    }
    MIG_TRY(db.exec("PRAGMA foreign_keys = ON"));
    for (const auto& name : order) {
        const TableModel& t = m.tables.at(name);
        std::map<std::string, const ForeignKeyModel*> fk_of;
        for (const auto& f : t.foreign_keys)
            if (!f.from.empty()) fk_of[f.from[0]] = &f;
        int inserted = 0;
        std::string last_error;
        for (int i = 1; i <= rows; ++i) {
            bool ok = false;
            for (int variant = 0; variant < 2 && !ok; ++variant) {
                std::vector<std::string> cols, vals;
                for (const auto& c : t.columns) {
                    if (c.hidden != 0) continue;  // generated columns compute themselves
                    std::string v;
                    if (json_columns.count(name + "." + c.name)) {
                        v = "'{}'";
                    } else if (auto f = fk_of.find(c.name); f != fk_of.end() && m.tables.count(f->second->table)) {
                        const std::string to = f->second->to.empty() || f->second->to[0].empty() ? "rowid" : f->second->to[0];
                        v = fmt::format("(SELECT {0} FROM {1} ORDER BY rowid LIMIT 1 OFFSET ({2} - 1) % "
                                        "max(1, (SELECT count(*) FROM {1})))",
                                        quote_ident(to), quote_ident(f->second->table), i);
                    } else if (variant == 0 && c.has_default && !c.pk) {
                        continue;  // its DEFAULT, which the constraints are more likely to accept
                    } else {
                        v = typed_value(c, i);
                    }
                    cols.push_back(quote_ident(c.name));
                    vals.push_back(v);
                }
                const std::string sql = cols.empty() ? fmt::format("INSERT INTO {} DEFAULT VALUES", quote_ident(name))
                                                     : fmt::format("INSERT INTO {}({}) VALUES ({})", quote_ident(name),
                                                                   fmt::join(cols, ", "), fmt::join(vals, ", "));
                Status st = db.exec(sql);
                ok = st.is_ok();
                if (!ok) last_error = st.message();
            }
            inserted += ok;
        }
        if (inserted == 0)
            notes.push_back(fmt::format("no rows could be generated for table '{}' ({}); add a fixture", name, last_error));
    }
    return Status::ok();
}

// Coded warnings for what a revision does to existing data.
void lint(const std::string& rev, const SchemaModel& before, const SchemaModel& after,
          std::vector<std::string>& out) {
    auto has_col = [](const TableModel& t, const std::string& c) {
        return std::any_of(t.columns.begin(), t.columns.end(), [&](const ColumnModel& x) { return x.name == c; });
    };
    for (const auto& [n, tb] : before.tables) {
        auto it = after.tables.find(n);
        if (it == after.tables.end()) {
            out.push_back(fmt::format("W001 {}: drops table '{}' (its rows are deleted)", rev, n));
            continue;
        }
        const TableModel& ta = it->second;
        for (const auto& c : tb.columns)
            if (!has_col(ta, c.name))
                out.push_back(fmt::format("W002 {}: drops column '{}.{}' (its values are deleted)", rev, n, c.name));
        for (const auto& c : ta.columns) {
            if (has_col(tb, c.name)) {
                for (const auto& o : tb.columns)
                    if (o.name == c.name && o.type != c.type)
                        out.push_back(fmt::format("W006 {}: changes the type of '{}.{}' from '{}' to '{}' "
                                                  "(existing values keep their storage class)",
                                                  rev, n, c.name, o.type, c.type));
                continue;
            }
            if (c.not_null && !c.has_default && c.hidden == 0)
                out.push_back(fmt::format("W003 {}: adds '{}.{}' NOT NULL without a DEFAULT: fails on a "
                                          "table with rows",
                                          rev, n, c.name));
            if (c.hidden == 3)
                out.push_back(fmt::format("W003 {}: adds the STORED generated column '{}.{}': needs a "
                                          "table rebuild and computes over every row",
                                          rev, n, c.name));
        }
        for (const auto& ck : ta.checks)
            if (std::find(tb.checks.begin(), tb.checks.end(), ck) == tb.checks.end())
                out.push_back(fmt::format("W004 {}: adds CHECK ({}) to '{}': existing rows may violate it", rev, ck, n));
        for (const auto& f : ta.foreign_keys)
            if (std::find(tb.foreign_keys.begin(), tb.foreign_keys.end(), f) == tb.foreign_keys.end())
                out.push_back(fmt::format("W005 {}: adds a FOREIGN KEY from '{}' to '{}': existing rows may "
                                          "reference missing parents",
                                          rev, n, f.table));
    }
    for (const auto& [k, ix] : after.indexes)
        if (ix.unique && !before.indexes.count(k) && before.tables.count(ix.table))
            out.push_back(fmt::format("W007 {}: adds a UNIQUE index on existing table '{}': fails on "
                                      "duplicate rows",
                                      rev, ix.table));
}

// The head's declaration against the frozen schemas themselves. compare_models only sees
// models against frozen copies: a frozen schema edited by hand along with its model passes
// it, although no migration was written for the change. The declaration is what the history
// was written up to, so that edit shows here.
Status check_declared_fingerprints(const Chain& chain, const CheckOptions& o) {
    Fingerprints actual, declared;
    MIG_TRY(frozen_fingerprints(o.frozen_dir, actual));
    const PluginMeta& head = chain.revisions().at(static_cast<size_t>(chain.index_of(chain.head())));
    MIG_TRY(declared_fingerprints(head, declared));
    if (declared == actual) return Status::ok();
    const std::string fix = fmt::format(
        "Fix: {}run scripts/new-migration NAME (`migrator new NAME --models {} --frozen {}`), which writes "
        "a migration that declares them{}. Only if the head revision {} is unreleased and already "
        "migrates stored values to these schemas, update its declaration instead:\n{}",
        declared.empty() ? "" : "a frozen schema changed without a migration: restore it, or ",
        o.models_dir.empty() ? "DIR" : o.models_dir, o.frozen_dir,
        declared.empty() ? "" : " (with a blob migration stub per changed model)", head.revision,
        actual.empty() ? std::string("(remove MIGRATOR_FROZEN_SCHEMAS)") : sdk_declaration(actual));
    if (declared.empty()) {
        std::vector<std::string> models;
        for (const auto& [model, digest] : actual) models.push_back(model);
        return {Code::migration_failed,
                fmt::format("the head revision {} declares no frozen schema fingerprints (mig_plugin_v1."
                            "frozen_schemas: built against ABI 1.0, or without MIGRATOR_FROZEN_SCHEMAS), but "
                            "'{}' has {} frozen schema(s): {}\n{}",
                            head.revision, o.frozen_dir, actual.size(),
                            fmt::join(models, ", "), fix)};
    }
    std::string text;
    for (const auto& [model, digest] : actual) {
        auto it = declared.find(model);
        if (it == declared.end())
            text += fmt::format("  model {}: not declared; frozen schema {} is {}\n", model,
                                (fs::path(o.frozen_dir) / (model + ".json")).string(), digest);
        else if (it->second != digest)
            text += fmt::format("  model {}: declared {}, but frozen schema {} is {}\n", model, it->second,
                                (fs::path(o.frozen_dir) / (model + ".json")).string(), digest);
    }
    for (const auto& [model, digest] : declared)
        if (!actual.count(model))
            text += fmt::format("  model {}: declared {}, but there is no frozen schema {}\n", model, digest,
                                (fs::path(o.frozen_dir) / (model + ".json")).string());
    return {Code::migration_failed,
            fmt::format("the frozen schema fingerprints declared by the head revision {} differ from '{}':\n{}{}",
                        head.revision, o.frozen_dir, text, fix)};
}

}  // namespace

Status declared_fingerprints(const PluginMeta& meta, Fingerprints& out) {
    LoadedPlugin p;
    MIG_TRY(verify_plugin_files({&meta}));  // like every load: the release manifest first
    MIG_TRY(load_plugin(meta, p));
    return parse_fingerprints(p.desc.frozen_schemas, out)
        .with_context(fmt::format("revision {} ({}): ", meta.revision, meta.file));
}

Status cmd_fingerprints(const std::string& frozen_dir, bool cpp) {
    std::error_code ec;
    if (!fs::is_directory(frozen_dir, ec))
        return {Code::usage, fmt::format("frozen schema directory '{}' does not exist", frozen_dir)};
    Fingerprints f;
    MIG_TRY(frozen_fingerprints(frozen_dir, f));
    const std::string text = cpp ? sdk_declaration(f) : format_fingerprints(f);
    if (!text.empty()) fmt::print("{}\n", text);
    return Status::ok();
}

Status cmd_check(const GlobalOptions& g, const CheckOptions& o) {
    Chain chain;
    MIG_TRY(load_chain(g, chain));
    if (!std::ifstream(o.schema_file)) return {Code::usage, fmt::format("cannot read schema file '{}'", o.schema_file)};
    const std::string ddl = read_text_file(o.schema_file);

    SchemaModel expected;
    {
        Db fresh;
        MIG_TRY(Db::open(":memory:", Db::Mode::create, g.busy_timeout_ms, fresh));
        MIG_TRY(fresh.exec(ddl).with_context(fmt::format("'{}' does not execute: ", o.schema_file)));
        MIG_TRY(read_schema(fresh, expected));
    }
    auto compare = [&](Db& db, const std::string& how) -> Status {
        SchemaModel actual;
        MIG_TRY(read_schema(db, actual));
        auto diff = diff_schema(expected, actual);
        if (diff.empty()) return Status::ok();
        return {Code::migration_failed,
                fmt::format("the schema after {} (head {}) differs from '{}' in {} place(s); expected = "
                            "{}, actual = migrations:\n{}"
                            "Fix: add a migration that makes the difference (`migrator new NAME --schema "
                            "{}`), or update the schema file",
                            how, chain.head(), o.schema_file, diff.size(), o.schema_file, format_diff(diff),
                            o.schema_file)};
    };

    // 1. From scratch, recording each revision's schema change for the lint.
    std::vector<std::string> warnings;
    {
        Db migrated;
        MIG_TRY(Db::open(":memory:", Db::Mode::create, g.busy_timeout_ms, migrated));
        Plan plan;
        MIG_TRY(plan_up(chain, "", chain.head(), plan));
        RunOptions opts;
        SchemaModel before;
        opts.before_step = [&](const PluginMeta&, Db& db) { return read_schema(db, before); };
        opts.after_step = [&](const PluginMeta& m, Db& db) {
            SchemaModel after;
            MIG_TRY(read_schema(db, after));
            lint(m.revision, before, after, warnings);
            return Status::ok();
        };
        MIG_TRY(run_plan_quietly(migrated, plan, opts).with_context("running every plugin from scratch failed: "));
        MIG_TRY(compare(migrated, "every migration from scratch"));
    }

    // 2. Populated databases at every older revision.
    std::set<std::string> json_columns;
    for (const auto& m : chain.revisions())
        for (const auto& b : m.blobs) json_columns.insert(b.table + "." + b.column);
    std::vector<std::string> notes;
    size_t populated = 0;
    if (o.populated) {
        for (size_t k = 0; k + 1 < chain.revisions().size(); ++k) {
            const std::string& rev = chain.revisions()[k].revision;
            Db db;
            MIG_TRY(Db::open(":memory:", Db::Mode::create, g.busy_timeout_ms, db));
            Plan to_k, to_head;
            MIG_TRY(plan_up(chain, "", rev, to_k));
            MIG_TRY(run_plan_quietly(db, to_k, RunOptions{}).with_context(fmt::format("building a DB at {} failed: ", rev)));
            const std::string fixture = o.fixtures_dir.empty() ? std::string()
                                                               : (fs::path(o.fixtures_dir) / (rev + ".sql")).string();
            std::error_code ec;
            if (!fixture.empty() && fs::exists(fixture, ec)) {
                MIG_TRY(db.exec(read_text_file(fixture)).with_context(fmt::format("fixture '{}' failed: ", fixture)));
            } else {
                SchemaModel m;
                MIG_TRY(read_schema(db, m));
                std::vector<std::string> n;
                MIG_TRY(populate(db, m, json_columns, o.rows_per_table, n));
                for (auto& x : n) notes.push_back(rev + ": " + x);
            }
            MIG_TRY(plan_up(chain, rev, chain.head(), to_head));
            MIG_TRY(run_plan_quietly(db, to_head, RunOptions{})
                        .with_context(fmt::format("migrating a populated DB from {} to head failed (a change "
                                                  "that only fails with rows in the tables): ",
                                                  rev)));
            MIG_TRY(compare(db, fmt::format("migrating a populated DB from {}", rev)));
            ++populated;
        }
    }

    // 3. JSON models against their frozen copies.
    size_t models = 0;
    if (!o.models_dir.empty()) {
        std::vector<ModelDifference> diffs;
        MIG_TRY(compare_models(o.models_dir, o.frozen_dir, diffs));
        if (!diffs.empty()) {
            std::string text;
            for (const auto& d : diffs) {
                text += fmt::format("  model {}:\n", d.model);
                for (const auto& c : d.changes) text += "    " + c + "\n";
            }
            return {Code::migration_failed,
                    fmt::format("{} JSON model(s) differ from their frozen schema in '{}':\n{}Fix: write the blob "
                                "migration (`migrator new NAME --schema {} --models {} --frozen {}` adds a stub "
                                "and updates the frozen copy)",
                                diffs.size(), o.frozen_dir, text, o.schema_file, o.models_dir, o.frozen_dir)};
        }
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(o.models_dir, ec)) models += e.path().extension() == ".json";
    }

    // 4. The head's declaration of the frozen schemas it was written up to.
    if (!o.frozen_dir.empty()) MIG_TRY(check_declared_fingerprints(chain, o));

    for (const auto& w : warnings) log_warn("{}", w);
    for (const auto& n : notes) log_warn("{}", n);
    fmt::print("ok: {} revision(s) from scratch give exactly the schema of {}", chain.revisions().size(),
               o.schema_file);
    if (o.populated) fmt::print("; so do populated DBs at {} older revision(s)", populated);
    if (!o.models_dir.empty()) fmt::print("; {} JSON model(s) match their frozen schema", models);
    if (!o.frozen_dir.empty()) fmt::print("; the head declares the fingerprints of the frozen schemas");
    fmt::print("{}\n", warnings.empty() ? "" : fmt::format(" ({} lint warning(s) above)", warnings.size()));
    return Status::ok();
}

}  // namespace migrator
