// The SDK header and its macro compile warning-free as C++17 and C++20.
#include <migrator/plugin.hpp>

static void up(migrator::Host& db) {
    auto st = db.prepare("SELECT ?1, ?2");
    st.bind_all(std::int64_t{1}, "two");
    while (st.step()) db.info(std::string(st.text(1)));
}
static void down(migrator::Host& db) { db.exec("SELECT 1"); }

static migrator::BlobResult to_v2(std::string_view in, std::string& out, std::string& err) {
    if (in.empty()) {
        err = "empty";
        return migrator::BlobResult::error;
    }
    out.assign(in);
    return migrator::BlobResult::changed;
}

constexpr migrator::Blob kBlobs[] = {
    migrator::blob<to_v2, to_v2>("saved_agent_message", "data", "SavedAgentMessage"),
    migrator::blob<to_v2, to_v2>("task", "title", ""),
};

// Two lines: sorted by model, '\n' between them (ABI 1.1, mig_plugin_v1.frozen_schemas).
MIGRATOR_FROZEN_SCHEMAS(
    "Other sha256:1111111111111111111111111111111111111111111111111111111111111111\n"
    "SavedAgentMessage sha256:e2ffeafd0ac6b6bc1e2d0fff4c0637d294feee4b7a0ed7b2caea94d976f44358")

MIGRATOR_PLUGIN_BLOBS("0001_sdk", "", "SDK compile test", 0, up, down, kBlobs)

static_assert(sizeof(mig_plugin_v1) >= MIG_PLUGIN_V1_1_SIZE, "the SDK builds 1.1 descriptors");
