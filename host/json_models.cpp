#include "json_models.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <simdjson.h>

#include "discover.h"
#include "json_out.h"
#include "sha256.h"

namespace migrator {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxChanges = 20;

std::string pointer_escape(std::string_view k) {
    std::string out;
    for (char c : k) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
    }
    return out;
}

std::string brief(simdjson::dom::element e) {
    std::string s = simdjson::minify(e);
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
}

// a: the current model, b: the frozen one; changes are told from frozen to current.
void diff(simdjson::dom::element a, simdjson::dom::element b, const std::string& path,
          std::vector<std::string>& out) {
    if (out.size() >= kMaxChanges) return;
    const auto ta = a.type(), tb = b.type();
    if (ta == simdjson::dom::element_type::OBJECT && tb == simdjson::dom::element_type::OBJECT) {
        std::map<std::string, simdjson::dom::element> ma, mb;
        simdjson::dom::object oa = a, ob = b;
        for (auto f : oa) ma[std::string(f.key)] = f.value;
        for (auto f : ob) mb[std::string(f.key)] = f.value;
        for (const auto& [k, v] : ma) {
            auto it = mb.find(k);
            const std::string p = path + "/" + pointer_escape(k);
            if (it == mb.end()) out.push_back(fmt::format("added {}: {}", p, brief(v)));
            else diff(v, it->second, p, out);
        }
        for (const auto& [k, v] : mb)
            if (!ma.count(k)) out.push_back(fmt::format("removed {}", path + "/" + pointer_escape(k)));
        return;
    }
    if (ta == simdjson::dom::element_type::ARRAY && tb == simdjson::dom::element_type::ARRAY) {
        simdjson::dom::array xa = a, xb = b;
        if (xa.size() == xb.size()) {
            size_t i = 0;
            auto ib = xb.begin();
            for (auto v : xa) diff(v, *ib, fmt::format("{}/{}", path, i++), out), ++ib;
            return;
        }
    }
    const std::string sa = simdjson::minify(a), sb = simdjson::minify(b);
    if (sa != sb) out.push_back(fmt::format("changed {}: {} -> {}", path.empty() ? "/" : path, brief(b), brief(a)));
}

void canonical(simdjson::dom::element e, std::string& out) {
    switch (e.type()) {
        case simdjson::dom::element_type::OBJECT: {
            // Last value wins, as in diff() above: one notion of "the same schema".
            std::map<std::string_view, simdjson::dom::element> members;
            for (auto f : simdjson::dom::object(e)) members.insert_or_assign(f.key, f.value);
            out += '{';
            bool first = true;
            for (const auto& [k, v] : members) {
                if (!first) out += ',';
                first = false;
                append_json_string(out, k);
                out += ':';
                canonical(v, out);
            }
            out += '}';
            return;
        }
        case simdjson::dom::element_type::ARRAY: {
            out += '[';
            bool first = true;
            for (auto v : simdjson::dom::array(e)) {
                if (!first) out += ',';
                first = false;
                canonical(v, out);
            }
            out += ']';
            return;
        }
        case simdjson::dom::element_type::STRING:
            append_json_string(out, std::string_view(e));
            return;
        default:  // numbers, true, false, null
            out += simdjson::minify(e);
    }
}

// A model name follows the revision id's rule (1..128 bytes of [A-Za-z0-9_.-]): it is a word
// in a line of the plugin's declaration.
bool model_name_ok(std::string_view m) { return valid_revision_id(std::string(m)); }

}  // namespace

Status canonical_json(std::string_view json, const std::string& what, std::string& out) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    const simdjson::padded_string padded(json);
    if (auto err = parser.parse(padded).get(root))
        return {Code::usage, fmt::format("{} is not JSON: {}", what, simdjson::error_message(err))};
    out.clear();
    canonical(root, out);
    return Status::ok();
}

Status schema_fingerprint(const std::string& path, std::string& out) {
    simdjson::padded_string bytes;
    if (auto err = simdjson::padded_string::load(path).get(bytes))
        return {Code::usage, fmt::format("cannot read '{}': {}", path, simdjson::error_message(err))};
    std::string text;
    MIG_TRY(canonical_json(bytes, fmt::format("'{}'", path), text));
    std::string hex;
    MIG_TRY(sha256_hex(text, hex));
    out = "sha256:" + hex;
    return Status::ok();
}

Status frozen_fingerprints(const std::string& dir, Fingerprints& out) {
    out.clear();
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return Status::ok();
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.path().extension() != ".json") continue;
        const std::string model = e.path().stem().string();
        if (!model_name_ok(model))
            return {Code::usage, fmt::format("frozen schema '{}': a model name is 1..128 bytes of "
                                             "[A-Za-z0-9_.-] (plugins declare it in a line of text)",
                                             e.path().string())};
        MIG_TRY(schema_fingerprint(e.path().string(), out[model]));
    }
    if (ec) return {Code::usage, fmt::format("cannot list '{}': {}", dir, ec.message())};
    return Status::ok();
}

std::string format_fingerprints(const Fingerprints& f) {
    std::string out;
    for (const auto& [model, digest] : f) {
        if (!out.empty()) out += '\n';
        out += model + " " + digest;
    }
    return out;
}

std::string sdk_declaration(const Fingerprints& f) {
    if (f.empty()) return "";
    std::string out = "MIGRATOR_FROZEN_SCHEMAS(";
    size_t i = 0;
    for (const auto& [model, digest] : f)
        out += fmt::format("{}\"{} {}{}\"", f.size() > 1 ? "\n    " : "", model, digest, ++i < f.size() ? "\\n" : "");
    return out + ")";
}

Status parse_fingerprints(const char* declaration, Fingerprints& out) {
    out.clear();
    if (declaration == nullptr) return Status::ok();
    std::string_view rest(declaration);
    if (!rest.empty() && rest.back() == '\n') rest.remove_suffix(1);  // one trailing newline
    if (rest.empty()) return Status::ok();
    std::string previous;
    for (int line = 1;; ++line) {
        const size_t nl = rest.find('\n');
        const std::string_view l = rest.substr(0, nl);
        auto bad = [&](std::string_view why) {
            return Status{Code::migration_failed,
                          fmt::format("line {} of the frozen_schemas declaration ('{}') {}; expected "
                                      "\"<Model> sha256:<64 lowercase hex>\" lines sorted by model",
                                      line, utf8_sanitize(l), why)};
        };
        const size_t sp = l.find(' ');
        const std::string_view model = l.substr(0, sp), digest = sp == l.npos ? std::string_view() : l.substr(sp + 1);
        if (!model_name_ok(model)) return bad("does not start with a model name");
        if (digest.size() != 71 || digest.substr(0, 7) != "sha256:" || !is_sha256_hex(digest.substr(7)))
            return bad("has no 'sha256:' and 64 lowercase hex digits after the model");
        if (!previous.empty() && std::string_view(previous) >= model)
            return bad(std::string_view(previous) == model ? "repeats a model" : "is out of order");
        previous = model;
        out.emplace(std::string(model), std::string(digest));
        if (nl == rest.npos) return Status::ok();
        rest.remove_prefix(nl + 1);
    }
}

Status compare_models(const std::string& models_dir, const std::string& frozen_dir,
                      std::vector<ModelDifference>& out) {
    out.clear();
    std::error_code ec;
    if (!fs::is_directory(models_dir, ec))
        return {Code::usage, fmt::format("models directory '{}' does not exist", models_dir)};
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(models_dir, ec))
        if (e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        const std::string model = f.stem().string();
        const fs::path frozen = fs::path(frozen_dir) / f.filename();
        simdjson::dom::parser pa, pb;
        simdjson::dom::element cur, old;
        if (auto err = pa.load(f.string()).get(cur))
            return {Code::usage, fmt::format("model '{}' is not JSON: {}", f.string(), simdjson::error_message(err))};
        if (!fs::exists(frozen, ec)) {
            out.push_back({model, {fmt::format("new model: no frozen schema '{}' yet", frozen.string())}});
            continue;
        }
        if (auto err = pb.load(frozen.string()).get(old))
            return {Code::usage, fmt::format("frozen schema '{}' is not JSON: {}", frozen.string(), simdjson::error_message(err))};
        std::vector<std::string> changes;
        diff(cur, old, "", changes);
        if (!changes.empty()) out.push_back({model, std::move(changes)});
    }
    return Status::ok();
}

}  // namespace migrator
