// Reference app, revision 5: SavedAgentMessage v1 -> v2 (saved_agent_message.data).
//
// A blob-only revision: no SQL change, one blob migration whose transform is the pure
// function in message_v2_transform.hpp (spec: shared/REFERENCE-WORKLOAD.md). The host runs
// it over every row, in parallel, inside the chain's transaction; a row that is not strict
// JSON, not an object, or ambiguous (duplicate keys) fails the revision by default and is
// never written. Down is exact on rows written by up except for what v2 dropped
// (`legacy_flag`); the header lists every case.
#include <migrator/plugin.hpp>

#include "message_v2_transform.hpp"

namespace {

migrator::BlobResult to_result(migrator::json::Outcome o) {
    switch (o) {
        case migrator::json::Outcome::changed: return migrator::BlobResult::changed;
        case migrator::json::Outcome::unchanged: return migrator::BlobResult::unchanged;
        case migrator::json::Outcome::error: break;
    }
    return migrator::BlobResult::error;
}

migrator::BlobResult up_blob(std::string_view in, std::string& out, std::string& err) {
    return to_result(migrator::message_v2::message_v1_to_v2(in, out, err));
}
migrator::BlobResult down_blob(std::string_view in, std::string& out, std::string& err) {
    return to_result(migrator::message_v2::message_v2_to_v1(in, out, err));
}

constexpr migrator::Blob kBlobs[] = {
    migrator::blob<up_blob, down_blob>("saved_agent_message", "data", "SavedAgentMessage")};

}  // namespace

MIGRATOR_PLUGIN_BLOBS("0005_message_v2", "0004_task_status_check",
                      "saved_agent_message.data: SavedAgentMessage v1 -> v2", 0,
                      migrator::no_sql, migrator::no_sql, kBlobs)
