#include "status.h"

namespace migrator {

const char* code_name(Code c) {
    switch (c) {
        case Code::ok: return "ok";
        case Code::migration_failed: return "migration_failed";
        case Code::usage: return "usage";
        case Code::plugin_set_invalid: return "plugin_set_invalid";
        case Code::db_newer_than_app: return "db_newer_than_app";
        case Code::db_busy: return "db_busy";
        case Code::db_error: return "db_error";
        case Code::not_at_head: return "not_at_head";
        case Code::reset_performed: return "reset_performed";
        case Code::killed: return "killed";
        case Code::cancelled: return "cancelled";
    }
    return "unknown";
}

}  // namespace migrator
