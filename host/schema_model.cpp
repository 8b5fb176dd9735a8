#include "schema_model.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace migrator {
namespace {

// SQL tokens, enough to normalize stored schema text (which SQLite has already parsed, so it
// is well-formed): string literals, quoted identifiers, words, single punctuation.
struct Token {
    enum Kind { word, string, punct } kind;
    std::string text;
};

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || (c & 0x80); }

bool simple_identifier(const std::string& s) {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
}

std::vector<Token> tokenize(const std::string& sql) {
    std::vector<Token> out;
    size_t i = 0, n = sql.size();
    while (i < n) {
        char c = sql[i];
        if (std::isspace(static_cast<unsigned char>(c))) {
            ++i;
        } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
            while (i < n && sql[i] != '\n') ++i;
        } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
            size_t e = sql.find("*/", i + 2);
            i = e == std::string::npos ? n : e + 2;
        } else if (c == '\'') {
            size_t j = i + 1;
            while (j < n) {
                if (sql[j] == '\'' && j + 1 < n && sql[j + 1] == '\'') j += 2;
                else if (sql[j] == '\'') break;
                else ++j;
            }
            out.push_back({Token::string, sql.substr(i, std::min(j + 1, n) - i)});
            i = j + 1;
        } else if (c == '"' || c == '`' || c == '[') {
            char close = c == '[' ? ']' : c;
            std::string ident;
            size_t j = i + 1;
            while (j < n) {
                if (sql[j] == close && close != ']' && j + 1 < n && sql[j + 1] == close) {
                    ident += close;
                    j += 2;
                } else if (sql[j] == close) {
                    break;
                } else {
                    ident += sql[j++];
                }
            }
            i = j + 1;
            // Quotes that change nothing are dropped; others are written in one style.
            if (simple_identifier(ident)) out.push_back({Token::word, ident});
            else {
                std::string q = "\"";
                for (char ch : ident) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
                out.push_back({Token::word, q + "\""});
            }
        } else if (is_word_char(c)) {
            size_t j = i;
            while (j < n && (is_word_char(sql[j]) || sql[j] == '.')) ++j;
            out.push_back({Token::word, sql.substr(i, j - i)});
            i = j;
        } else {
            out.push_back({Token::punct, std::string(1, c)});
            ++i;
        }
    }
    return out;
}

std::string join(const std::vector<Token>& t, size_t from, size_t to) {
    std::string out;
    for (size_t i = from; i < to; ++i) {
        if (!out.empty() && t[i].kind != Token::punct && t[i - 1].kind != Token::punct) out += ' ';
        out += t[i].text;
    }
    return out;
}

bool is_kw(const Token& t, const char* kw) {
    if (t.kind != Token::word || t.text.size() != std::strlen(kw)) return false;
    for (size_t i = 0; i < t.text.size(); ++i)
        if (std::toupper(static_cast<unsigned char>(t.text[i])) != kw[i]) return false;
    return true;
}

// Index of the token closing the parenthesis opened at `open`.
size_t closing(const std::vector<Token>& t, size_t open) {
    int depth = 0;
    for (size_t i = open; i < t.size(); ++i) {
        if (t[i].kind != Token::punct) continue;
        if (t[i].text == "(") ++depth;
        else if (t[i].text == ")" && --depth == 0) return i;
    }
    return t.size();
}

std::vector<std::string> check_constraints(const std::string& create_sql) {
    auto t = tokenize(create_sql);
    std::vector<std::string> out;
    for (size_t i = 0; i + 1 < t.size(); ++i) {
        if (is_kw(t[i], "CHECK") && t[i + 1].text == "(") {
            size_t e = closing(t, i + 1);
            out.push_back(join(t, i + 2, e));
            i = e;
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string partial_where(const std::string& index_sql) {
    auto t = tokenize(index_sql);
    int depth = 0;
    for (size_t i = 0; i < t.size(); ++i) {
        if (t[i].text == "(") ++depth;
        else if (t[i].text == ")") --depth;
        else if (depth == 0 && is_kw(t[i], "WHERE")) return join(t, i + 1, t.size());
    }
    return "";
}

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

bool excluded(const std::string& name) {
    return name.rfind("sqlite_", 0) == 0 || name.rfind("migrator_", 0) == 0;
}

Status read_table(Db& db, const std::string& name, const std::string& type, const std::string& sql,
                  TableModel& t, SchemaModel& out) {
    t.name = name;
    if (type == "virtual") {
        t.is_virtual = true;
        t.virtual_sql = normalize_sql(sql);
        return Status::ok();
    }
    Stmt s;
    MIG_TRY(db.prepare("SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1) ORDER BY cid", s));
    s.bind(1, std::string_view(name));
    Status st;
    while (s.step(st)) {
        ColumnModel c;
        c.name = s.text(0);
        c.type = upper(s.text(1));
        c.not_null = s.int64(2) != 0;
        c.has_default = !s.is_null(3);
        c.default_value = c.has_default ? normalize_sql(s.text(3)) : "";
        c.pk = static_cast<int>(s.int64(4));
        c.hidden = static_cast<int>(s.int64(5));
        const char *dtype = nullptr, *coll = nullptr;
        int nn = 0, pk = 0, autoinc = 0;
        if (c.hidden == 0 &&
            sqlite3_table_column_metadata(db.get(), "main", name.c_str(), c.name.c_str(), &dtype, &coll,
                                          &nn, &pk, &autoinc) == SQLITE_OK) {
            c.collation = coll ? upper(coll) : "BINARY";
            c.autoincrement = autoinc != 0;
        }
        t.columns.push_back(std::move(c));
    }
    MIG_TRY(st);

    Stmt fk;
    MIG_TRY(db.prepare("SELECT id, \"table\", \"from\", \"to\", on_update, on_delete, \"match\" FROM "
                       "pragma_foreign_key_list(?1) ORDER BY id, seq",
                       fk));
    fk.bind(1, std::string_view(name));
    std::int64_t last = -1;
    while (fk.step(st)) {
        if (fk.int64(0) != last) {
            t.foreign_keys.push_back({fk.text(1), upper(fk.text(4)), upper(fk.text(5)), upper(fk.text(6)), {}, {}});
            last = fk.int64(0);
        }
        t.foreign_keys.back().from.push_back(fk.text(2));
        t.foreign_keys.back().to.push_back(fk.is_null(3) ? std::string() : fk.text(3));
    }
    MIG_TRY(st);
    std::sort(t.foreign_keys.begin(), t.foreign_keys.end(), [](const auto& a, const auto& b) {
        return std::tie(a.table, a.from, a.to) < std::tie(b.table, b.from, b.to);
    });
    t.checks = check_constraints(sql);

    Stmt il;
    MIG_TRY(db.prepare("SELECT il.name, il.\"unique\", il.origin, sm.sql FROM pragma_index_list(?1) il "
                       "LEFT JOIN sqlite_schema sm ON sm.type = 'index' AND sm.name = il.name",
                       il));
    il.bind(1, std::string_view(name));
    while (il.step(st)) {
        IndexModel ix;
        ix.name = il.text(0);
        ix.table = name;
        ix.unique = il.int64(1) != 0;
        ix.origin = il.text(2);
        std::string isql = il.is_null(3) ? std::string() : il.text(3);
        ix.where = partial_where(isql);
        Stmt ki;
        MIG_TRY(db.prepare("SELECT cid, name, \"desc\", coll FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno", ki));
        ki.bind(1, std::string_view(ix.name));
        Status kst;
        while (ki.step(kst)) {
            std::string col = ki.int64(0) == -2 ? std::string("<expr>") : ki.int64(0) == -1 ? std::string("rowid") : ki.text(1);
            ix.keys.push_back(fmt::format("{} COLLATE {}{}", col, upper(ki.text(3)), ki.int64(2) ? " DESC" : ""));
        }
        MIG_TRY(kst);
        // Expression keys are only in the SQL text: keep it (normalized) in that case.
        if (std::find(ix.keys.begin(), ix.keys.end(), std::string()) != ix.keys.end() ||
            std::any_of(ix.keys.begin(), ix.keys.end(), [](const std::string& k) { return k.rfind("<expr>", 0) == 0; }))
            ix.where = normalize_sql(isql);
        std::string key = ix.origin == "c" ? ix.name
                                           : fmt::format("{}:{}({})", name, ix.origin, fmt::join(ix.keys, ","));
        if (ix.origin != "c") ix.name = key;  // auto-index numbering is not meaningful
        out.indexes[key] = std::move(ix);
    }
    MIG_TRY(st);

    Stmt tl;
    MIG_TRY(db.prepare("SELECT wr, strict FROM pragma_table_list(?1) WHERE schema = 'main'", tl));
    tl.bind(1, std::string_view(name));
    if (tl.step(st)) {
        t.without_rowid = tl.int64(0) != 0;
        t.strict = tl.int64(1) != 0;
    }
    return st;
}

// normalize_sql keeps the case of keywords and identifiers, so "check (x in (1))" and
// "CHECK (x IN (1))", or "varchar( 10 )" and "VARCHAR(10)", compared different: `check` failed
// on a reformatted schema file, and `migrator new` rebuilt its tables. Every text of the model
// is folded here, once, so both compare the same way.
void fold_case(SchemaModel& m) {
    for (auto& [n, t] : m.tables) {
        for (auto& c : t.columns) {
            c.default_value = fold_sql_case(c.default_value, true);
            c.type = fold_sql_case(normalize_sql(c.type), true);  // "varchar( 10 )" is VARCHAR(10)
        }
        for (auto& ck : t.checks) ck = fold_sql_case(ck, true);
        std::sort(t.checks.begin(), t.checks.end());
        t.virtual_sql = fold_sql_case(t.virtual_sql, false);
    }
    for (auto& [k, ix] : m.indexes) ix.where = fold_sql_case(ix.where, true);
    for (auto& [n, v] : m.views) v = fold_sql_case(v, false);
    for (auto& [n, tr] : m.triggers) tr = fold_sql_case(tr, true);
}

}  // namespace

std::string normalize_sql(const std::string& sql) {
    auto t = tokenize(sql);
    while (!t.empty() && t.back().text == ";") t.pop_back();
    return join(t, 0, t.size());
}

std::string fold_sql_case(const std::string& s, bool identifiers) {
    std::string out = s;
    char quote = 0;
    auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || (c & 0x80); };
    for (size_t i = 0; i < out.size();) {
        const char c = out[i];
        if (quote) {
            if (c == quote) quote = 0;  // a doubled quote closes and reopens: same result
            ++i;
        } else if (c == '\'' || c == '"') {
            quote = c;
            ++i;
        } else if (word(c)) {
            size_t j = i;
            while (j < out.size() && word(out[j])) ++j;
            if (identifiers || sqlite3_keyword_check(out.data() + i, static_cast<int>(j - i)))
                for (size_t k = i; k < j; ++k) out[k] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[k])));
            i = j;
        } else {
            ++i;
        }
    }
    return out;
}

Status read_schema(Db& db, SchemaModel& out) {
    out = SchemaModel{};
    Stmt s;
    MIG_TRY(db.prepare("SELECT sm.type, sm.name, sm.sql, coalesce(tl.type, '') FROM sqlite_schema sm "
                       "LEFT JOIN pragma_table_list tl ON tl.schema = 'main' AND tl.name = sm.name "
                       "WHERE sm.type IN ('table', 'view', 'trigger') ORDER BY sm.name",
                       s));
    Status st;
    struct Obj { std::string type, name, sql, ttype; };
    std::vector<Obj> objs;
    while (s.step(st)) objs.push_back({s.text(0), s.text(1), s.is_null(2) ? std::string() : s.text(2), s.text(3)});
    MIG_TRY(st);
    for (const auto& o : objs) {
        if (excluded(o.name)) continue;
        if (o.type == "view") out.views[o.name] = normalize_sql(o.sql);
        else if (o.type == "trigger") out.triggers[o.name] = normalize_sql(o.sql);
        else if (o.ttype != "shadow") {
            TableModel t;
            MIG_TRY(read_table(db, o.name, o.ttype, o.sql, t, out));
            out.tables[o.name] = std::move(t);
        }
    }
    fold_case(out);
    return Status::ok();
}

namespace {

template <class T, class F>
void diff_maps(const std::map<std::string, T>& e, const std::map<std::string, T>& a, const char* kind,
               std::vector<SchemaDifference>& out, F&& inner) {
    for (const auto& [name, ev] : e) {
        auto it = a.find(name);
        if (it == a.end()) out.push_back({fmt::format("{} {}", kind, name), "existence", "present", "missing"});
        else inner(fmt::format("{} {}", kind, name), ev, it->second);
    }
    for (const auto& [name, av] : a)
        if (!e.count(name)) out.push_back({fmt::format("{} {}", kind, name), "existence", "absent", "present"});
}

std::string yn(bool b) { return b ? "yes" : "no"; }

std::string describe(const ForeignKeyModel& f) {
    return fmt::format("({}) -> {}({}) on update {} on delete {}", fmt::join(f.from, ","), f.table,
                       fmt::join(f.to, ","), f.on_update, f.on_delete);
}

}  // namespace

std::vector<SchemaDifference> diff_schema(const SchemaModel& e, const SchemaModel& a) {
    std::vector<SchemaDifference> out;
    diff_maps(e.tables, a.tables, "table", out, [&](const std::string& obj, const TableModel& et, const TableModel& at) {
        auto cmp = [&](const char* attr, const std::string& x, const std::string& y) {
            if (x != y) out.push_back({obj, attr, x, y});
        };
        cmp("WITHOUT ROWID", yn(et.without_rowid), yn(at.without_rowid));
        cmp("STRICT", yn(et.strict), yn(at.strict));
        cmp("virtual table", et.virtual_sql, at.virtual_sql);
        std::vector<std::string> ec, ac;
        for (const auto& c : et.columns) ec.push_back(c.name);
        for (const auto& c : at.columns) ac.push_back(c.name);
        cmp("columns", fmt::format("{}", fmt::join(ec, ", ")), fmt::format("{}", fmt::join(ac, ", ")));
        for (const auto& c : et.columns) {
            auto it = std::find_if(at.columns.begin(), at.columns.end(), [&](const auto& x) { return x.name == c.name; });
            if (it == at.columns.end()) continue;
            std::string co = fmt::format("{} column {}", obj, c.name);
            auto ccmp = [&](const char* attr, const std::string& x, const std::string& y) {
                if (x != y) out.push_back({co, attr, x, y});
            };
            ccmp("type", c.type, it->type);
            ccmp("NOT NULL", yn(c.not_null), yn(it->not_null));
            ccmp("default", c.has_default ? c.default_value : "(none)", it->has_default ? it->default_value : "(none)");
            ccmp("primary key position", std::to_string(c.pk), std::to_string(it->pk));
            ccmp("hidden/generated", std::to_string(c.hidden), std::to_string(it->hidden));
            ccmp("collation", c.collation, it->collation);
            ccmp("AUTOINCREMENT", yn(c.autoincrement), yn(it->autoincrement));
        }
        std::vector<std::string> ef, af;
        for (const auto& f : et.foreign_keys) ef.push_back(describe(f));
        for (const auto& f : at.foreign_keys) af.push_back(describe(f));
        cmp("foreign keys", fmt::format("{}", fmt::join(ef, "; ")), fmt::format("{}", fmt::join(af, "; ")));
        cmp("CHECK constraints", fmt::format("{}", fmt::join(et.checks, "; ")), fmt::format("{}", fmt::join(at.checks, "; ")));
    });
    diff_maps(e.indexes, a.indexes, "index", out, [&](const std::string& obj, const IndexModel& ei, const IndexModel& ai) {
        auto cmp = [&](const char* attr, const std::string& x, const std::string& y) {
            if (x != y) out.push_back({obj, attr, x, y});
        };
        cmp("table", ei.table, ai.table);
        cmp("unique", yn(ei.unique), yn(ai.unique));
        cmp("keys", fmt::format("{}", fmt::join(ei.keys, ", ")), fmt::format("{}", fmt::join(ai.keys, ", ")));
        cmp("where/expression", ei.where, ai.where);
    });
    diff_maps(e.views, a.views, "view", out, [&](const std::string& obj, const std::string& x, const std::string& y) {
        if (x != y) out.push_back({obj, "definition", x, y});
    });
    diff_maps(e.triggers, a.triggers, "trigger", out, [&](const std::string& obj, const std::string& x, const std::string& y) {
        if (x != y) out.push_back({obj, "definition", x, y});
    });
    return out;
}

std::string format_diff(const std::vector<SchemaDifference>& d) {
    std::string out;
    for (const auto& x : d)
        out += fmt::format("  {}: {}\n    expected: {}\n    actual:   {}\n", x.object, x.attribute, x.expected, x.actual);
    return out;
}

}  // namespace migrator
