// Stage 2: order the discovered plugins into one revision chain and plan a move along it.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "plugin_meta.h"
#include "status.h"

namespace migrator {

// The plugin set as a single linear chain, root first.
class Chain {
public:
    const std::vector<PluginMeta>& revisions() const { return revs_; }
    bool empty() const { return revs_.empty(); }
    const std::string& head() const;  // "" when empty
    // Index of `rev` in the chain; -1 when unknown. "" (base) is -1 too: use position().
    int index_of(const std::string& rev) const;
    // Number of revisions applied when the DB is at `rev` ("" = base -> 0); -1 when unknown.
    int position(const std::string& rev) const;

private:
    friend Status build_chain(std::vector<PluginMeta> metas, Chain& out);
    std::vector<PluginMeta> revs_;
    // revision -> index: start-up looks up every applied revision, so a linear index_of made
    // a no-op `up` quadratic in the number of plugins.
    std::unordered_map<std::string, int> index_;
};

// Orders `metas` by parent links. Refuses (plugin_set_invalid, naming files and ids): an empty
// set, duplicate revision ids, a missing parent, two children of one parent (a fork), no root
// or more than one root, and cycles.
Status build_chain(std::vector<PluginMeta> metas, Chain& out);

enum class Direction { up, down };
const char* direction_name(Direction d);

struct Plan {
    Direction direction = Direction::up;
    std::string from;  // "" = base
    std::string to;    // "" = base
    std::vector<const PluginMeta*> steps;  // in execution order; pointers into the Chain
};

// The revisions in the "base" spelling accepted on the command line.
constexpr const char* kBase = "base";

// Plans `up` from `current` to `target` ("" = base; pass chain.head() for head). `current`
// must be in the chain (or base) and `target` at or after it.
Status plan_up(const Chain& chain, const std::string& current, const std::string& target, Plan& out);
// Plans `down` from `current` back to `target` ("" = base, undo everything). Refuses when a
// revision on the way is irreversible, naming it.
Status plan_down(const Chain& chain, const std::string& current, const std::string& target, Plan& out);

// A DB revision this plugin set does not know: the DB was migrated by a newer app.
Status db_newer_than_app(const Chain& chain, const std::string& current);

}  // namespace migrator
