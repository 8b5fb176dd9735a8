// Misuses of MIGRATOR_FROZEN_SCHEMAS that must not compile (each CTest test defines one
// MISUSE_* macro and expects the SDK's static_assert message): a declaration `check` could
// not read, or one that MIGRATOR_PLUGIN would silently not see.
#include <migrator/plugin.hpp>

static void up(migrator::Host& db) { db.exec("SELECT 1"); }

#if defined(MISUSE_UNSORTED)
MIGRATOR_FROZEN_SCHEMAS(
    "B sha256:1111111111111111111111111111111111111111111111111111111111111111\n"
    "A sha256:1111111111111111111111111111111111111111111111111111111111111111")
MIGRATOR_PLUGIN("0001_misuse", "", "misuse", MIG_FLAG_IRREVERSIBLE, up, nullptr)
#elif defined(MISUSE_SHORT_DIGEST)
MIGRATOR_FROZEN_SCHEMAS("A sha256:1111")
MIGRATOR_PLUGIN("0001_misuse", "", "misuse", MIG_FLAG_IRREVERSIBLE, up, nullptr)
#elif defined(MISUSE_AFTER_PLUGIN)
MIGRATOR_PLUGIN("0001_misuse", "", "misuse", MIG_FLAG_IRREVERSIBLE, up, nullptr)
MIGRATOR_FROZEN_SCHEMAS("A sha256:1111111111111111111111111111111111111111111111111111111111111111")
#endif
