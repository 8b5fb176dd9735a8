// Revision 2: a blob step over note.data, {"text":...} -> {"body":...,"v":2}, with json_edit.
#include <migrator/json_edit.hpp>
#include <migrator/plugin.hpp>

namespace json = migrator::json;

namespace {
migrator::BlobResult result(json::Outcome o) {
    return o == json::Outcome::changed     ? migrator::BlobResult::changed
           : o == json::Outcome::unchanged ? migrator::BlobResult::unchanged
                                           : migrator::BlobResult::error;
}
migrator::BlobResult up(std::string_view in, std::string& out, std::string& err) {
    return result(json::rewrite_object(in, out, err, [](json::Object& o) {
        o.rename("text", "body");
        o.set("v", "2");
    }));
}
migrator::BlobResult down(std::string_view in, std::string& out, std::string& err) {
    return result(json::rewrite_object(in, out, err, [](json::Object& o) {
        o.rename("body", "text");
        o.remove("v");
    }));
}
constexpr migrator::Blob kBlobs[] = {migrator::blob<up, down>("note", "data", "")};
}  // namespace

MIGRATOR_PLUGIN_BLOBS("0002_note_body", "0001_note", "note.data: text -> body", 0,
                      migrator::no_sql, migrator::no_sql, kBlobs)
