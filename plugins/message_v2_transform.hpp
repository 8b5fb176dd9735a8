// The reference blob transform: SavedAgentMessage v1 <-> v2 (saved_agent_message.data), as
// pure functions over one row's JSON text. The spec is shared/REFERENCE-WORKLOAD.md.
//
//   Outcome message_v1_to_v2(std::string_view in, std::string& out, std::string& err);
//   Outcome message_v2_to_v1(std::string_view in, std::string& out, std::string& err);
//
// Outcome::changed: `out` holds the new row. Outcome::unchanged: the row's bytes stay as they
// are (`out` not touched). Outcome::error: `err` says why; `out` not touched and the row must
// be left byte for byte unchanged. Both functions are thread-safe (state is per thread, see
// migrator/json_edit.hpp) and allocation-free in the steady state when `out` is reused.
//
// Up (v1 -> v2), exactly as specified:
//   1. `content` that is a string S becomes [{"type":"text","text":S}] (S's bytes kept).
//   2. In `tool_calls` (an array), each object element has `name` renamed to `function`.
//   3. In those elements, a string `arguments` whose decoded text is one complete, strict JSON
//      text becomes that value (its original text, trimmed of surrounding whitespace);
//      otherwise it becomes {"_raw":<the original string>}. A decoded text holding a lone
//      surrogate is not UTF-8, hence _raw. A decoded text nested deeper than
//      json::max_depth - 3 levels (so that the row, where it sits 3 levels down, stays within
//      the depth limit) also becomes _raw. Non-string `arguments` are left as they are.
//   4. Top-level `legacy_flag` removed. 5. "schema_version":2 appended as the last key; an
//      existing schema_version is moved there (keeping its key's spelling) with value 2.
//   Row errors: invalid JSON, deeper than json::max_depth, top level not an object, duplicate
//   keys at the top level or in a tool-call object, a tool call with both `name` and
//   `function`. The top-level object, a `tool_calls` array and its object elements are
//   written compactly; everything else is copied byte for byte.
//   Not idempotent: run it exactly once per row (an `arguments` string holding a JSON string
//   becomes a string value the first time and is parsed again the second time).
//
// Down (v2 -> v1) undoes up as far as v2 allows. It is exact on rows produced by up, except:
//   * `legacy_flag` cannot be restored: up dropped it and its value. Rows come back without it.
//   * a `schema_version` key that a v1 row already had is gone (down removes schema_version).
//   * `content`: only the exact form up writes, [{"type":"text","text":S}] byte for byte,
//     goes back to the string S. A v1 row whose content already was that very array comes back
//     as a string; any other array (other spacing, key order, more parts) is left as it is.
//   * `arguments`: {"_raw":S} in exactly the form up writes goes back to S. Any other value
//     goes back to a JSON string holding the value's text (up spliced the original text in,
//     so inner whitespace, number spellings and the escapes *inside* the embedded text
//     survive), written with minimal escaping: the original string's own escapes (e.g.
//     "\u0041" or "\/" in the v1 string) and the whitespace around the embedded text are not
//     restored. Non-string `arguments` of a v1 row (which up left alone) come back as strings
//     too, and a v1 object exactly {"_raw":"..."} comes back as its string: v2 cannot tell
//     these apart from parsed ones.
//   * tool calls: `function` is renamed back to `name` (written plainly: a v1 key spelled with
//     escapes, e.g. "n\u0061me", comes back as "name"); a v1 tool call that had `function`
//     and no `name` comes back with `name`.
//   * the top-level object and tool-call containers stay compact (whitespace between their
//     members in the v1 row is not restored).
//   Up after down gives back the same v2 bytes for rows produced by up (tested).
#ifndef MIGRATOR_MESSAGE_V2_TRANSFORM_HPP
#define MIGRATOR_MESSAGE_V2_TRANSFORM_HPP

#include <migrator/json_edit.hpp>

#include <string>
#include <string_view>

namespace migrator::message_v2 {

using Outcome = ::migrator::json::Outcome;  // enum class Outcome { changed, unchanged, error }

namespace detail {
// What up wraps a string content in, and the _raw object it builds: down recognises exactly
// these forms.
inline constexpr std::string_view content_prefix = R"([{"type":"text","text":)";
inline constexpr std::string_view content_suffix = "}]";
inline constexpr std::string_view raw_prefix = R"({"_raw":)";
inline constexpr std::string_view raw_suffix = "}";
// The tool call's `arguments` value sits 3 containers deep (root object, tool_calls array,
// tool-call object): an embedded text may use the rest of the depth budget.
inline constexpr std::size_t arguments_depth_limit = ::migrator::json::max_depth - 3;

// When `j` is prefix + one JSON string + suffix, that string's text; else empty.
inline std::string_view unwrap_string(std::string_view j, std::string_view prefix, std::string_view suffix) {
    if (j.size() < prefix.size() + suffix.size() + 2 || j.substr(0, prefix.size()) != prefix ||
        j.substr(j.size() - suffix.size()) != suffix)
        return {};
    const std::string_view mid = j.substr(prefix.size(), j.size() - prefix.size() - suffix.size());
    // The whole value is valid JSON, but the middle could still be several members
    // ("a","x":"b"): it must be one JSON text of its own.
    if (mid.front() != '"' || !::migrator::json::is_valid(mid)) return {};
    return mid;
}
}  // namespace detail

inline Outcome message_v1_to_v2(std::string_view in, std::string& out, std::string& err) {
    namespace json = ::migrator::json;
    return json::rewrite_object(in, out, err, [](json::Object& root) {
        root.require_unique_keys();
        if (json::Member* content = root.find("content"); content != nullptr && content->kind() == json::Kind::string)
            content->wrap(detail::content_prefix, detail::content_suffix);
        root.map_elements("tool_calls", [](json::Value& element) {
            element.edit_object([](json::Object& call) {
                call.require_unique_keys();
                if (call.contains("name") && call.contains("function"))
                    throw json::RowError("a tool call has both \"name\" and \"function\"");
                call.rename("name", "function");
                json::Member* args = call.find("arguments");
                if (args != nullptr && args->kind() == json::Kind::string &&
                    !args->parse_embedded(detail::arguments_depth_limit))
                    args->wrap(detail::raw_prefix, detail::raw_suffix);
            });
        });
        root.remove("legacy_flag");
        root.set("schema_version", "2", json::Place::end);
    });
}

inline Outcome message_v2_to_v1(std::string_view in, std::string& out, std::string& err) {
    namespace json = ::migrator::json;
    return json::rewrite_object(in, out, err, [](json::Object& root) {
        root.require_unique_keys();
        if (json::Member* content = root.find("content"); content != nullptr && content->kind() == json::Kind::array) {
            const std::string_view s =
                detail::unwrap_string(content->json(), detail::content_prefix, detail::content_suffix);
            if (!s.empty()) content->set_json(s);
        }
        root.map_elements("tool_calls", [](json::Value& element) {
            element.edit_object([](json::Object& call) {
                call.require_unique_keys();
                if (call.contains("name") && call.contains("function"))
                    throw json::RowError("a tool call has both \"name\" and \"function\"");
                call.rename("function", "name");
                if (json::Member* args = call.find("arguments"); args != nullptr) {
                    const std::string_view s =
                        detail::unwrap_string(args->json(), detail::raw_prefix, detail::raw_suffix);
                    if (!s.empty()) {
                        args->set_json(s);
                    } else {
                        args->set_string(args->json());  // valid UTF-8: it is validated input
                    }
                }
            });
        });
        root.remove("schema_version");
    });
}

}  // namespace migrator::message_v2

#endif  // MIGRATOR_MESSAGE_V2_TRANSFORM_HPP
