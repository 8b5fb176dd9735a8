#include "plan.h"

#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "migrator/plugin_api.h"

namespace migrator {
namespace {
Status invalid(std::string msg) { return {Code::plugin_set_invalid, std::move(msg)}; }
std::string show(const std::string& rev) { return rev.empty() ? std::string(kBase) : rev; }
}  // namespace

const char* direction_name(Direction d) { return d == Direction::up ? "up" : "down"; }

const std::string& Chain::head() const {
    static const std::string none;
    return revs_.empty() ? none : revs_.back().revision;
}

int Chain::index_of(const std::string& rev) const {
    auto it = index_.find(rev);
    return it == index_.end() ? -1 : it->second;
}

int Chain::position(const std::string& rev) const {
    if (rev.empty()) return 0;
    int i = index_of(rev);
    return i < 0 ? -1 : i + 1;
}

Status build_chain(std::vector<PluginMeta> metas, Chain& out) {
    out.revs_.clear();
    if (metas.empty())
        return invalid("no plugins found: the plugin directory holds no *.so migration plugins");

    // Keys view the metas' own strings (no copies: start-up builds this for every plugin).
    std::unordered_map<std::string_view, size_t> by_id;
    by_id.reserve(metas.size());
    for (size_t i = 0; i < metas.size(); ++i) {
        auto [it, inserted] = by_id.emplace(metas[i].revision, i);
        if (!inserted)
            return invalid(fmt::format(
                "duplicate revision id '{}' in '{}' and '{}'; remove the older build of that "
                "plugin",
                metas[i].revision, metas[it->second].file, metas[i].file));
    }
    std::unordered_map<std::string_view, size_t> child_of;  // parent id -> index of its child
    child_of.reserve(metas.size());
    std::vector<size_t> roots;
    for (size_t i = 0; i < metas.size(); ++i) {
        const auto& m = metas[i];
        if (m.parent.empty()) {
            roots.push_back(i);
            continue;
        }
        if (m.parent == m.revision)
            return invalid(fmt::format("plugin '{}': revision '{}' names itself as parent (cycle)",
                                       m.file, m.revision));
        if (!by_id.count(m.parent))
            return invalid(fmt::format(
                "plugin '{}': parent '{}' of revision '{}' is missing from the plugin set "
                "(expected a plugin with revision '{}')",
                m.file, m.parent, m.revision, m.parent));
        auto [it, inserted] = child_of.emplace(m.parent, i);
        if (!inserted)
            return invalid(fmt::format(
                "fork: revisions '{}' ('{}') and '{}' ('{}') both have parent '{}'; the chain "
                "must be linear: re-parent one of them onto the other",
                metas[it->second].revision, metas[it->second].file, m.revision, m.file, m.parent));
    }
    if (roots.empty()) {
        std::vector<std::string> some;
        for (size_t i = 0; i < metas.size() && i < 5; ++i)
            some.push_back(fmt::format("'{}' ('{}', parent '{}')", metas[i].revision, metas[i].file, metas[i].parent));
        return invalid(fmt::format("no root revision (one with an empty parent): the revisions form a "
                                   "cycle: {}{}",
                                   fmt::join(some, ", "), metas.size() > 5 ? ", ..." : ""));
    }
    if (roots.size() > 1)
        return invalid(fmt::format("more than one root revision: '{}' ('{}') and '{}' ('{}')",
                                   metas[roots[0]].revision, metas[roots[0]].file,
                                   metas[roots[1]].revision, metas[roots[1]].file));
    std::vector<size_t> order;
    order.reserve(metas.size());
    size_t cur = roots[0];
    while (true) {
        order.push_back(cur);
        auto it = child_of.find(metas[cur].revision);
        if (it == child_of.end()) break;
        cur = it->second;
    }
    if (order.size() != metas.size()) {
        std::vector<bool> reached(metas.size());
        for (size_t i : order) reached[i] = true;
        for (size_t i = 0; i < metas.size(); ++i)
            if (!reached[i])
                return invalid(fmt::format(
                    "cycle: revision '{}' ('{}', parent '{}') is not reachable from the root '{}'",
                    metas[i].revision, metas[i].file, metas[i].parent, metas[order.front()].revision));
    }
    std::vector<PluginMeta> ordered;
    ordered.reserve(metas.size());
    for (size_t i : order) ordered.push_back(std::move(metas[i]));
    out.revs_ = std::move(ordered);
    out.index_.clear();
    out.index_.reserve(out.revs_.size());
    for (size_t i = 0; i < out.revs_.size(); ++i) out.index_.emplace(out.revs_[i].revision, static_cast<int>(i));
    return Status::ok();
}

Status db_newer_than_app(const Chain& chain, const std::string& current) {
    return {Code::db_newer_than_app,
            fmt::format("the database is at revision '{}', which this app's plugin set does not "
                        "know (its head is '{}'): the database was migrated by a newer version of "
                        "the app. Upgrade the app, or revert it: `migrator down --to {}` uses the newer "
                        "app's plugins kept in the plugin archive next to the database",
                        current, chain.head(), chain.head())};
}

Status plan_up(const Chain& chain, const std::string& current, const std::string& target, Plan& out) {
    int from = chain.position(current);
    if (from < 0) return db_newer_than_app(chain, current);
    int to = chain.position(target);
    if (to < 0)
        return {Code::usage, fmt::format("unknown target revision '{}' (see `migrator plugins`)", target)};
    if (to < from)
        return {Code::usage, fmt::format("target '{}' is behind the current revision '{}'; use "
                                         "`migrator down --to {}`",
                                         show(target), show(current), show(target))};
    out = Plan{};
    out.direction = Direction::up;
    out.from = current;
    out.to = to == 0 ? std::string() : chain.revisions()[static_cast<size_t>(to - 1)].revision;
    for (int i = from; i < to; ++i) out.steps.push_back(&chain.revisions()[static_cast<size_t>(i)]);
    return Status::ok();
}

Status plan_down(const Chain& chain, const std::string& current, const std::string& target, Plan& out) {
    int from = chain.position(current);
    if (from < 0) return db_newer_than_app(chain, current);
    int to = chain.position(target);
    if (to < 0)
        return {Code::usage, fmt::format("unknown target revision '{}' (see `migrator plugins`)", target)};
    if (to > from)
        return {Code::usage, fmt::format("target '{}' is ahead of the current revision '{}'; use "
                                         "`migrator up --to {}`",
                                         show(target), show(current), show(target))};
    out = Plan{};
    out.direction = Direction::down;
    out.from = current;
    out.to = target;
    for (int i = from - 1; i >= to; --i) {
        const PluginMeta* m = &chain.revisions()[static_cast<size_t>(i)];
        if (m->flags & MIG_FLAG_IRREVERSIBLE)
            return {Code::usage,
                    fmt::format("revision '{}' is irreversible (plugin '{}'): cannot go down past "
                                "it; restore a backup instead",
                                m->revision, m->file)};
        out.steps.push_back(m);
    }
    return Status::ok();
}

}  // namespace migrator
