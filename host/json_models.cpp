#include "json_models.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <simdjson.h>

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

}  // namespace

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
