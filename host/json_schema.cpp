#include "json_schema.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include <stdexcept>
#include <vector>

// RapidJSON scans strings 16 bytes at a time only with a SIMD flag (SSE2 is in every x86-64
// CPU), and only from a NUL-terminated stream: the rows' long texts made the byte-at-a-time
// string scan the largest single cost of a validating dry run. Nothing else in the host
// includes RapidJSON, so this file alone decides its flags.
#if defined(__SSE2__) && !defined(RAPIDJSON_SSE2)
#define RAPIDJSON_SSE2
#endif
// valijson 1.0's own RAPIDJSON_ASSERT builds a std::string from __FILE__ on every check, i.e.
// per character parsed: 14 us per small document, ten times the parse. Ours only costs on
// failure; valijson then warns that one is already defined, which is what we want.
#define RAPIDJSON_ASSERT(x) ((x) ? static_cast<void>(0) : throw std::runtime_error("RapidJSON assertion failed: " #x))
#include <valijson/adapters/rapidjson_adapter.hpp>
#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace migrator {

// Schemas are read strictly. Values were already checked by the transform's strict parser
// (RFC 8259, UTF-8): validating their encoding again, or converting numbers at full
// precision (a type check needs neither), cost a third of the dry run's validation time.
constexpr unsigned kSchemaParseFlags = rapidjson::kParseFullPrecisionFlag | rapidjson::kParseValidateEncodingFlag;
constexpr unsigned kParseFlagsBounded = rapidjson::kParseDefaultFlags;
// In situ: strings are unescaped in the parse buffer (a per-thread copy of the value) instead
// of copied into the pool; same grammar, same errors and offsets (see parse()).
constexpr unsigned kParseFlags = rapidjson::kParseInsituFlag;

struct JsonSchema::Impl {
    valijson::Schema schema;
};

JsonSchema::JsonSchema() : impl_(std::make_unique<Impl>()) {}
JsonSchema::~JsonSchema() = default;

Status JsonSchema::load(const std::string& path, std::unique_ptr<JsonSchema>& out) {
    std::ifstream in(path);
    if (!in) return {Code::usage, fmt::format("cannot read JSON Schema '{}'", path)};
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    rapidjson::Document doc;
    doc.Parse<kSchemaParseFlags>(text.data(), text.size());
    if (doc.HasParseError())
        return {Code::usage, fmt::format("JSON Schema '{}' is not JSON: {} at offset {}", path,
                                         rapidjson::GetParseError_En(doc.GetParseError()), doc.GetErrorOffset())};
    std::unique_ptr<JsonSchema> s(new JsonSchema());
    s->path_ = path;
    try {
        valijson::SchemaParser parser;
        valijson::adapters::RapidJsonAdapter adapter(doc);
        parser.populateSchema(adapter, s->impl_->schema);
    } catch (const std::exception& e) {
        return {Code::usage, fmt::format("JSON Schema '{}' cannot be used: {}", path, e.what())};
    }
    out = std::move(s);
    return Status::ok();
}

namespace {
// Per-thread parse memory: RapidJSON's default allocator takes a fresh 64 KiB chunk per
// document, which cost more than the validation itself. The pool starts in a reused buffer
// and is cleared after every value (Clear keeps the user buffer, frees overflow chunks).
struct ParseArena {
    static constexpr std::size_t kBuffer = 256 * 1024;
    std::unique_ptr<char[]> value_buf = std::make_unique<char[]>(kBuffer);
    std::unique_ptr<char[]> stack_buf = std::make_unique<char[]>(kBuffer);
    rapidjson::MemoryPoolAllocator<> values{value_buf.get(), kBuffer};
    rapidjson::MemoryPoolAllocator<> stack{stack_buf.get(), kBuffer};
    std::string text;  // the value being parsed in situ, NUL-terminated
};

using Doc = rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                                       rapidjson::MemoryPoolAllocator<>>;

// RapidJSON 1.1.0's SIMD string scan takes raw bytes 0x1A-0x1F for ordinary characters (its
// "below 0x20" test is "at most 0x19"). No valid JSON text holds such a byte, so a text that
// does is parsed the byte-at-a-time way, which refuses it with the usual message. Only the
// bytes before a NUL count: the parser stops there. (libc's strcspn is vectorised; a plain
// loop is not, at -O2.)
bool simd_scan_safe(const std::string& nul_terminated) {
    return nul_terminated[std::strcspn(nul_terminated.c_str(), "\x1a\x1b\x1c\x1d\x1e\x1f")] == '\0';
}

// Parses `json` into `doc` with the same result and error (code, offset) as a parse of the
// length-bounded view, which is what this parser always did. That stream skipped each byte
// of a leading UTF-8 BOM (EF, BB, BF) that is there, each on its own, and counted them in
// offsets; and its Peek read '\0' at a NUL byte as at the end, as the NUL-terminated copy
// does. Returns what to add to doc.GetErrorOffset().
std::size_t parse(std::string_view json, ParseArena& arena, Doc& doc) {
    // The SIMD scan reads whole aligned 16-byte blocks, up to 15 bytes past the terminator:
    // keep those inside the buffer.
    arena.text.reserve(json.size() + 16);
    arena.text.assign(json);
    if (!simd_scan_safe(arena.text)) {
        doc.Parse<kParseFlagsBounded>(json.data(), json.size());
        return 0;
    }
    std::size_t bom = 0;
    static constexpr unsigned char kBom[] = {0xEF, 0xBB, 0xBF};
    for (const unsigned char b : kBom)
        if (bom < json.size() && static_cast<unsigned char>(json[bom]) == b) ++bom;
    doc.ParseInsitu<kParseFlags>(arena.text.data() + bom);
    return bom;
}

// JSON Schema (draft 6 on) counts a number with a zero fractional part as an integer: 1.0 and
// 1e2 are integers. RapidJSON parses them as doubles, and valijson's strict "integer" test
// asks RapidJSON's type (its weak mode would take the string "1" for an integer instead), so
// such doubles become int64 before validation. Doubles beyond int64 stay doubles. An explicit
// stack: nesting depth is the document's.
void integral_doubles_to_integers(rapidjson::Value& root) {
    auto convert = [](rapidjson::Value& v) {
        if (!v.IsDouble()) return;
        const double d = v.GetDouble();
        if (std::trunc(d) == d && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
            v.SetInt64(static_cast<std::int64_t>(d));
    };
    if (!root.IsObject() && !root.IsArray()) return convert(root);
    thread_local std::vector<rapidjson::Value*> todo;  // no allocation per value once warm
    todo.clear();
    todo.push_back(&root);
    while (!todo.empty()) {
        rapidjson::Value* v = todo.back();
        todo.pop_back();
        if (v->IsObject()) {
            for (auto& m : v->GetObject()) todo.push_back(&m.value);
        } else if (v->IsArray()) {
            for (auto& e : v->GetArray()) todo.push_back(&e);
        } else {
            convert(*v);
        }
    }
}
}  // namespace

JsonSchema::Result JsonSchema::check(std::string_view json) const { return run(json, nullptr); }

JsonSchema::Result JsonSchema::validate(std::string_view json, std::string& why) const { return run(json, &why); }

JsonSchema::Result JsonSchema::run(std::string_view json, std::string* why) const {
    thread_local ParseArena arena;
    struct ClearOnExit {
        ParseArena& a;
        ~ClearOnExit() {
            a.values.Clear();
            a.stack.Clear();
        }
    } clear{arena};
    Doc doc(&arena.values, 1024, &arena.stack);
    const std::size_t shift = parse(json, arena, doc);
    if (doc.HasParseError()) {
        if (why)
            *why = fmt::format("the validator's JSON parser (RapidJSON) cannot read it: {} at offset {}",
                               rapidjson::GetParseError_En(doc.GetParseError()), doc.GetErrorOffset() + shift);
        return Result::unparsable;
    }
    integral_doubles_to_integers(doc);
    // Validator keeps per-instance regex caches: one per call keeps this thread-safe.
    valijson::Validator validator;
    // Made only for words: its std::deque allocates on construction.
    std::optional<valijson::ValidationResults> results;
    valijson::adapters::RapidJsonAdapter target(doc);
    try {
        // Without a results object valijson stops at the first failure and keeps no error
        // context: the common, valid case costs less; a failure is validated again for words.
        if (validator.validate(impl_->schema, target, nullptr)) return Result::valid;
        if (!why) return Result::invalid;
        validator.validate(impl_->schema, target, &results.emplace());
    } catch (const std::exception& e) {
        if (why) *why = fmt::format("validation error: {}", e.what());
        return Result::invalid;
    }
    // The deepest failure says what is wrong; the ones around it only say where.
    valijson::ValidationResults::Error err, last;
    bool any = false;
    while (results->popError(err)) {
        if (!any || err.context.size() > last.context.size()) last = err;
        any = true;
    }
    if (!any) {
        *why = "does not match the schema";
        return Result::invalid;
    }
    std::string where;
    for (const auto& c : last.context) where += c;
    *why = fmt::format("{}: {}", where.empty() ? "<root>" : where, last.description);
    return Result::invalid;
}

}  // namespace migrator
