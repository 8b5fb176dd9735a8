#include "json_schema.h"

#include <fstream>
#include <sstream>

#include <stdexcept>

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
constexpr unsigned kParseFlags = rapidjson::kParseDefaultFlags;

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
};
}  // namespace

JsonSchema::Result JsonSchema::validate(std::string_view json, std::string& why) const {
    thread_local ParseArena arena;
    struct ClearOnExit {
        ParseArena& a;
        ~ClearOnExit() {
            a.values.Clear();
            a.stack.Clear();
        }
    } clear{arena};
    using Doc = rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                                           rapidjson::MemoryPoolAllocator<>>;
    Doc doc(&arena.values, 1024, &arena.stack);
    doc.Parse<kParseFlags>(json.data(), json.size());
    if (doc.HasParseError()) {
        why = fmt::format("the validator's JSON parser (RapidJSON) cannot read it: {} at offset {}",
                          rapidjson::GetParseError_En(doc.GetParseError()), doc.GetErrorOffset());
        return Result::unparsable;
    }
    // Validator keeps per-instance regex caches: one per call keeps this thread-safe.
    valijson::Validator validator;
    valijson::ValidationResults results;
    valijson::adapters::RapidJsonAdapter target(doc);
    try {
        // Without a results object valijson stops at the first failure and keeps no error
        // context: the common, valid case costs less; a failure is validated again for words.
        if (validator.validate(impl_->schema, target, nullptr)) return Result::valid;
        validator.validate(impl_->schema, target, &results);
    } catch (const std::exception& e) {
        why = fmt::format("validation error: {}", e.what());
        return Result::invalid;
    }
    // The deepest failure says what is wrong; the ones around it only say where.
    valijson::ValidationResults::Error err, last;
    bool any = false;
    while (results.popError(err)) {
        if (!any || err.context.size() > last.context.size()) last = err;
        any = true;
    }
    if (!any) {
        why = "does not match the schema";
        return Result::invalid;
    }
    std::string where;
    for (const auto& c : last.context) where += c;
    why = fmt::format("{}: {}", where.empty() ? "<root>" : where, last.description);
    return Result::invalid;
}

}  // namespace migrator
