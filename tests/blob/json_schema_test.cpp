// JsonSchema (host/json_schema.h) on its own, against the frozen SavedAgentMessage schema: the
// result and the words of a dry run's validation for each kind of value, and check() giving
// the same result as validate(). The expected words are those the validator gave before its
// parse moved to an in-situ, SIMD-scanned copy: that change must not alter any of them.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "json_schema.h"

namespace {

using Result = migrator::JsonSchema::Result;

const migrator::JsonSchema& schema() {
    static const std::unique_ptr<migrator::JsonSchema> s = [] {
        std::unique_ptr<migrator::JsonSchema> out;
        const auto st = migrator::JsonSchema::load(std::string(REPO_DIR) + "/schemas/frozen/SavedAgentMessage.json", out);
        REQUIRE(st.is_ok());
        return out;
    }();
    return *s;
}

// validate() must give `expected` and `why`; check() the same result.
void expect(std::string_view json, Result expected, const std::string& why = "") {
    INFO("value: " << std::string(json));
    std::string got;
    CHECK(schema().validate(json, got) == expected);
    CHECK(got == why);
    CHECK(schema().check(json) == expected);
}

std::string unparsable(const std::string& what, int offset) {
    return "the validator's JSON parser (RapidJSON) cannot read it: " + what + " at offset " + std::to_string(offset);
}

// A text longer than one 16-byte SIMD block, so that the byte after it is scanned in bulk.
const std::string kLong(40, 'x');

std::string message_with_text(const std::string& text) {
    return R"({"role":"user","content":[{"type":"text","text":")" + text + R"("}],"schema_version":2})";
}

}  // namespace

TEST_CASE("json schema: valid, invalid and unparsable values, with the words of each") {
    expect(R"({"role":"user","content":[{"type":"text","text":"hi"}],"schema_version":2})", Result::valid);
    expect(R"({"role":"assistant","content":null,"schema_version":2})", Result::invalid,
           "<root>[content]: Value type not permitted by 'type' constraint.");
    expect(R"({"role":"user","schema_version":2,"tool_calls":[{"function":"f","name":"n"}]})", Result::invalid,
           "<root>[tool_calls][0]: Target should not validate against schema specified in 'not' constraint.");
    expect(R"({"role":"user","schema_version":2,"legacy_flag":true})", Result::invalid,
           "<root>: Target should not validate against schema specified in 'not' constraint.");
    // Valid JSON that RapidJSON cannot represent is counted apart, never as a violation.
    expect(R"({"role":"user","schema_version":2,"metadata":{"big":1e400}})", Result::unparsable,
           unparsable("Number too big to be stored in double.", 52));
    expect(R"({"role":"user","schema_version":2,"metadata":{"id":12345678901234567890123}})", Result::valid);
    expect(message_with_text(kLong + "\\ud800" + kLong), Result::unparsable,
           unparsable("The surrogate pair in string is invalid.", 89));
    expect(message_with_text(kLong + R"(\u00e9\"\ud83d\ude00\n)" + kLong), Result::valid);
    expect("", Result::unparsable, unparsable("The document is empty.", 0));
    expect(R"({"role":"user","schema_version":2} x)", Result::unparsable,
           unparsable("The document root must not be followed by other values.", 35));
}

TEST_CASE("json schema: a raw control character inside a long string is refused, 0x1A-0x1F too") {
    // RapidJSON 1.1.0's SIMD string scan lets 0x1A-0x1F through; such texts take the
    // byte-at-a-time parse.
    for (const char c : {'\x01', '\x19', '\x1a', '\x1d', '\x1f'}) {
        expect(message_with_text(kLong + c + kLong), Result::unparsable,
               unparsable("Invalid escape character in string.", 89));
        expect(message_with_text(kLong + c), Result::unparsable,
               unparsable("Invalid escape character in string.", 89));
    }
}

TEST_CASE("json schema: a leading BOM and a NUL byte are read as the length-bounded parse read them") {
    expect("\xEF\xBB\xBF{\"role\":\"user\",\"schema_version\":2}", Result::valid);
    // Offsets count the BOM's bytes.
    expect("\xEF\xBB\xBF{\"role\":\"user\",", Result::unparsable, unparsable("Missing a name for object member.", 18));
    // The parser stops at a NUL byte, as at the end of the text.
    expect(std::string_view("{\"role\":\"user\",\"schema_version\":2}\0trailing", 43), Result::valid);
}

TEST_CASE("json schema: values are checked from many threads at once") {
    // Per-thread parse buffers: concurrent checks of different values must not mix.
    const std::string good = message_with_text(std::string(5000, 'y'));
    const std::string bad = R"({"role":"assistant","content":null,"schema_version":2})";
    const auto& s = schema();  // loaded here: Catch's REQUIRE is for the main thread
    std::vector<int> wrong(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 500; ++i) {
                const bool even = (i + t) % 2 == 0;
                if (s.check(even ? good : bad) != (even ? Result::valid : Result::invalid)) ++wrong[t];
            }
        });
    for (auto& th : threads) th.join();
    CHECK(wrong == std::vector<int>(4, 0));
}

// Regression (user trial): 1.0 and 1e2 failed "type": "integer". From draft 6 on, a number
// with a zero fractional part is an integer; RapidJSON parses it as a double, which valijson's
// strict type test rejected.
TEST_CASE("json schema: integral_doubles_are_integers") {
    const std::string head = R"({"role":"user","content":[{"type":"text","text":"hi"}],"schema_version":)";
    expect(head + "2}", Result::valid);
    expect(head + "2.0}", Result::valid);
    expect(head + "2e0}", Result::valid);
    expect(head + "0.2e1}", Result::valid);
    expect(head + "2.5}", Result::invalid, "<root>[schema_version]: Failed to match against any enum values.");
    expect(head + "3.0}", Result::invalid,  // an integer, but not in the enum
           "<root>[schema_version]: Failed to match against any enum values.");
}
