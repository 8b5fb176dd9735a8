// Stage 0 of every start-up: "this database is at the head of this plugin set", remembered,
// so that a start with nothing to do costs the same with 10 or 10,000 shipped plugins.
//
// Without it, a start-up at head lists the plugin directory, stats every plugin, reads the
// metadata cache and the release manifest, builds and validates the chain and reads every
// applied revision: work that grows with each release. After a full run that leaves the
// database at head, the host stores a verdict in "<db>.head-verdict" (a sidecar, see
// sidecar_file.h). The next `up` or `start` checks a fixed number of facts against it:
//
// - before the lock, the plugin set's key: the plugin directory's FileKey (adding, removing
//   or renaming a file in it, or a chmod of it, changes it), the release manifest's FileKey
//   (or its absence), this host executable's FileKey, the host version, and
//   --require-manifest; and that this process may still read the directory;
// - under the migration lock, the database: its current revision and a digest of every
//   (revision, checksum) row of migrator_applied, which is exactly what the full path reads
//   from it (read_state) and checks against the plugins (so a database copied over the file,
//   or edited by hand, is judged in full again).
//
// All equal: the database is at head and was judged against this exact plugin set; the run
// prints "nothing to do" without reading any plugin. Anything different, missing or
// unreadable: the full path runs, exactly as without a verdict, and stores a new one.
//
// What a verdict does not see, by design, because seeing it means one stat() per plugin: a
// plugin file changed in place (rewritten, chmod-ed to group-writable, chown-ed) under the same
// directory entry. Package managers and `install` replace files by rename, which changes
// the directory. At head no plugin runs; every command that loads one (`down`, `up --to`, a
// start after the database moved or a new release) takes the full path, which refuses such a
// file. `migrator verify`, `status`, `plugins` and `manifest --verify` always take it.
//
// A verdict is never stored from a key that was racily clean when it was captured (settled()
// in sidecar_file.h), from a plugin directory on a network filesystem (its timestamps come
// from another machine's clock), nor when the plugin set's key changed while the run was
// reading the directory.
#pragma once

#include <cstdint>
#include <string>

#include "chain.h"
#include "db.h"
#include "sidecar_file.h"
#include "status.h"

namespace migrator {

// What a verdict about a plugin set depends on, outside the database.
struct PluginSetKey {
    std::string plugins_dir;       // as given (--plugins)
    FileKey dir, manifest, exe;    // manifest: all zero when the directory has none
    bool require_manifest = false;
    bool usable = false;           // false when the directory or the executable could not be stat()ed
    std::int64_t captured_ns = 0;  // realtime_ns() before the first stat()

    // Stats the plugin directory, its MANIFEST.json and /proc/self/exe. Call it before the
    // directory is read, so that a change during the run shows as a different key.
    static PluginSetKey capture(const std::string& plugins_dir, bool require_manifest);
    // Its text form, as stored in the verdict.
    std::string text() const;
    // True when every file timestamp in it was old enough at `now_ns` to store a verdict
    // about (settled()). save() asks it at captured_ns: a run that read the directory while
    // it was racy must not store it, however long the run took.
    bool settled(std::int64_t now_ns) const;
};

// Where the database stands, as far as a verdict is concerned: what the full path reads from
// it (read_state), condensed.
struct DbMark {
    std::string revision;        // migrator_version
    std::uint64_t applied_rows = 0;
    std::string applied_digest;  // of every (revision, checksum) row of migrator_applied

    // Reads the mark of `db`. db_busy when SQLite is busy; any other failure (no bookkeeping
    // tables yet, a read error, a corrupt page) is an error to the caller, which then takes
    // the full path and reports it.
    static Status read(Db& db, DbMark& out);
    std::string text() const;
};

class HeadVerdict {
public:
    // "<db>.head-verdict"; empty when there is no file-backed database.
    static std::string path_for_db(const std::string& db);

    // Reads the verdict next to `db`. True when it exists, is trusted (sidecar rules), and was
    // made for exactly `key` by this host version.
    bool load(const std::string& db, const PluginSetKey& key);
    // True when the database stands where the verdict left it: at its head, with the same
    // applied rows.
    bool holds(const DbMark& mark) const;
    const std::string& head() const { return head_; }

    // After a full run left the database open as `db` at the head of `chain`: stores the
    // verdict for `key` (captured before the run read the plugin directory). Nothing is
    // stored when `key` is unusable or racily clean, when the plugin set's key is different
    // now, or when the database is not at the head of `chain`. Failures are not errors.
    static void save(const std::string& db_path, const PluginSetKey& key, const Chain& chain, Db& db);

private:
    std::string head_;
    std::string mark_;  // DbMark::text() at the time of the verdict
};

}  // namespace migrator
