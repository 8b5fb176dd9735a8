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

MIGRATOR_PLUGIN_BLOBS("0001_sdk", "", "SDK compile test", 0, up, down, kBlobs)
