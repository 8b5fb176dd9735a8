// The reference blob transform SavedAgentMessage v1 <-> v2: one TEST_CASE per fidelity rule of
// shared/REFERENCE-WORKLOAD.md, the `arguments` edge cases, down's documented limits, and an
// up -> down -> up round trip over a generated corpus.
#include <migrator/json_edit.hpp>

#include "blob_support.h"
#include "message_v2_transform.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace json = migrator::json;
using migrator::message_v2::message_v1_to_v2;
using migrator::message_v2::message_v2_to_v1;
using migrator::message_v2::Outcome;

namespace {

constexpr const char* kSentinel = "<out not touched>";

struct Result {
    Outcome outcome;
    std::string out;
    std::string err;
};

Result up(std::string_view in) {
    Result r{Outcome::error, kSentinel, {}};
    r.outcome = message_v1_to_v2(in, r.out, r.err);
    return r;
}
Result down(std::string_view in) {
    Result r{Outcome::error, kSentinel, {}};
    r.outcome = message_v2_to_v1(in, r.out, r.err);
    return r;
}

// up(in) must change the row into exactly `expected`.
void expect_up(std::string_view in, std::string_view expected) {
    INFO("input: " << in);
    const Result r = up(in);
    INFO("error: " << r.err);
    REQUIRE(r.outcome == Outcome::changed);
    CHECK(r.out == expected);
    CHECK(json::is_valid(r.out));
}

// up(in) must be a row error whose message contains `what`, leaving `out` untouched.
void expect_up_error(std::string_view in, std::string_view what) {
    INFO("input: " << in);
    const Result r = up(in);
    INFO("error: " << r.err);
    REQUIRE(r.outcome == Outcome::error);
    CHECK(r.err.find(what) != std::string::npos);
    CHECK(r.out == kSentinel);
}

std::string as_json_string(std::string_view s) {
    std::string q;
    json::append_quoted(q, s);
    return q;
}

// The row {"tool_calls":[{"arguments":<args_json>}]} after up.
std::string args_after_up(std::string_view args_json) {
    const std::string row = R"({"tool_calls":[{"arguments":)" + std::string(args_json) + "}]}";
    INFO("row: " << row);
    const Result r = up(row);
    INFO("error: " << r.err);
    REQUIRE(r.outcome == Outcome::changed);
    const std::string_view pre = R"({"tool_calls":[{"arguments":)";
    const std::string_view post = R"(}],"schema_version":2})";
    REQUIRE(blob_test::starts_with(r.out, pre));
    REQUIRE(r.out.size() >= pre.size() + post.size());
    REQUIRE(r.out.substr(r.out.size() - post.size()) == post);
    return r.out.substr(pre.size(), r.out.size() - pre.size() - post.size());
}

// An `arguments` string holding `text` (escaped minimally) must be parsed into `expected`.
void expect_args_parsed(std::string_view text, std::string_view expected) {
    INFO("arguments text: " << text);
    CHECK(args_after_up(as_json_string(text)) == expected);
}
// An `arguments` string holding `text` must become {"_raw":<the original string>}.
void expect_args_raw(std::string_view text) {
    INFO("arguments text: " << text);
    const std::string q = as_json_string(text);
    CHECK(args_after_up(q) == R"({"_raw":)" + q + "}");
}

}  // namespace

TEST_CASE("up: the reference example from REFERENCE-WORKLOAD.md") {
    expect_up(R"({"role":"assistant","content":"Sure, here is ...","tool_calls":[{"id":"call_1","name":"search",
     "arguments":"{\"q\":\"rust async\",\"limit\":5}"}],"created_at":"2026-01-01T00:00:00Z",
     "metadata":{"model":"m-7","usage":{"input_tokens":123,"output_tokens":456},"latency_ms":812.25},
     "legacy_flag":true})",
              R"({"role":"assistant","content":[{"type":"text","text":"Sure, here is ..."}],)"
              R"("tool_calls":[{"id":"call_1","function":"search","arguments":{"q":"rust async","limit":5}}],)"
              R"("created_at":"2026-01-01T00:00:00Z",)"
              R"("metadata":{"model":"m-7","usage":{"input_tokens":123,"output_tokens":456},"latency_ms":812.25},)"
              R"("schema_version":2})");
}

TEST_CASE("fidelity: number spellings are copied verbatim (1.0E+2, -0, 12345678901234567890123, 1e400)") {
    const std::string nums = "[1.0E+2,-0,12345678901234567890123,1e400,-0.0,1E-400,0.1000000000000000055511151231257827,"
                             "-123456789012345678901234567890e-5,9007199254740993,1e+2]";
    expect_up(R"({"metadata":{"n":)" + nums + R"(},"x":1e400,"y":-0,"z":12345678901234567890123,"w":1.0E+2})",
              R"({"metadata":{"n":)" + nums + R"(},"x":1e400,"y":-0,"z":12345678901234567890123,"w":1.0E+2,"schema_version":2})");
    // Inside a parsed `arguments` text too.
    expect_args_parsed(R"({"a":1.0E+2,"b":-0,"c":12345678901234567890123,"d":1e400})",
                       R"({"a":1.0E+2,"b":-0,"c":12345678901234567890123,"d":1e400})");
    expect_args_parsed("1e400", "1e400");
    expect_args_parsed("-0", "-0");
    expect_args_parsed("12345678901234567890123", "12345678901234567890123");
}

TEST_CASE("fidelity: string escapes are copied verbatim (\\u00e9, \\/)") {
    const std::string s = R"("caf\u00e9 \/ a\/b \ud83d\ude00 \"q\" \\ \n\t\r\b\f \u0000 \u001F é 😀")";
    expect_up(R"({"content":)" + s + R"(,"metadata":{"k":)" + s + R"(},"created_at":"\u0032026"})",
              R"({"content":[{"type":"text","text":)" + s + R"(}],"metadata":{"k":)" + s +
                  R"(},"created_at":"\u0032026","schema_version":2})");
    // Escapes inside an embedded arguments text stay as written in that text.
    expect_args_parsed(R"({"q":"caf\u00e9 \/"})", R"({"q":"caf\u00e9 \/"})");
}

TEST_CASE("fidelity: whitespace inside untouched values is kept, rewritten containers are compact") {
    expect_up("{ \"metadata\" :\t{ \"a\" : [ 1 ,\n 2 ] } ,\r\n \"content\" : [ {\"type\": \"text\", \"text\": \"x\"} ] }\n",
              "{\"metadata\":{ \"a\" : [ 1 ,\n 2 ] },\"content\":[ {\"type\": \"text\", \"text\": \"x\"} ],\"schema_version\":2}");
    // The tool_calls array and its object elements are rewritten compactly; the values in them
    // that are not rewritten keep their inner whitespace.
    expect_up(R"({"tool_calls" : [ { "id" : "c1" , "name" : "f" , "extra" : { "a" : 1 } } , 7 , [ 1 , 2 ] ] })",
              R"({"tool_calls":[{"id":"c1","function":"f","extra":{ "a" : 1 }},7,[ 1 , 2 ]],"schema_version":2})");
    // A parsed arguments value is its original text, trimmed, inner whitespace kept.
    expect_args_parsed(" \n\t{ \"q\" : [ 1 , 2 ] }\r\n ", "{ \"q\" : [ 1 , 2 ] }");
}

TEST_CASE("fidelity: keys are matched after unescaping and keep their spelling") {
    expect_up(R"({"\u0063ontent":"x","tool_\u0063alls":[{"n\u0061me":"f","\u0061rguments":"[1]"}],)"
              R"("\u006cegacy_flag":true,"schema\u005fversion":1,"rol\u0065":"user"})",
              R"({"\u0063ontent":[{"type":"text","text":"x"}],"tool_\u0063alls":[{"function":"f","\u0061rguments":[1]}],)"
              R"("rol\u0065":"user","schema\u005fversion":2})");
    // Matching is case-sensitive.
    expect_up(R"({"Content":"x","LEGACY_FLAG":1,"tool_calls":[{"Name":"f"}]})",
              R"({"Content":"x","LEGACY_FLAG":1,"tool_calls":[{"Name":"f"}],"schema_version":2})");
}

TEST_CASE("fidelity: duplicate keys at the top level or in a tool call are row errors") {
    expect_up_error(R"({"content":"a","content":"b"})", "duplicate key");
    expect_up_error(R"({"a":1,"b":2,"a":3})", "duplicate key");  // any top-level duplicate
    expect_up_error(R"({"content":"a","\u0063ontent":"b"})", "duplicate key");  // same key, other spelling
    expect_up_error(R"({"schema_version":1,"schema_version":2})", "duplicate key");
    expect_up_error(R"({"legacy_flag":1,"legacy_flag":2})", "duplicate key");
    expect_up_error(R"({"tool_calls":[{"name":"a","name":"b"}]})", "duplicate key");
    expect_up_error(R"({"tool_calls":[{"id":1,"arguments":"1","arguments":"2"}]})", "duplicate key");
    expect_up_error(R"({"tool_calls":[{"x":1,"x":1}]})", "duplicate key");
    // A large object takes the sorting path of the duplicate check.
    std::string big = "{";
    for (int i = 0; i < 40; ++i) big += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
    expect_up_error(big + "\"k17\":0}", "duplicate key");
    big.back() = '}';
    CHECK(up(big).outcome == Outcome::changed);
    // Duplicates inside values the transform does not rewrite are kept as they are.
    expect_up(R"({"metadata":{"a":1,"a":2},"content":[{"type":"text","type":"x"}],"tool_calls":[{"arguments":{"b":1,"b":2}}]})",
              R"({"metadata":{"a":1,"a":2},"content":[{"type":"text","type":"x"}],"tool_calls":[{"arguments":{"b":1,"b":2}}],"schema_version":2})");
    expect_args_parsed(R"({"b":1,"b":2})", R"({"b":1,"b":2})");
}

TEST_CASE("fidelity: a tool call with both name and function is a row error") {
    expect_up_error(R"({"tool_calls":[{"name":"a","function":"b"}]})", "both \"name\" and \"function\"");
    expect_up_error(R"({"tool_calls":[{"id":1},{"function":{"x":1},"n\u0061me":"b"}]})", "both");
    // Either one alone is fine.
    expect_up(R"({"tool_calls":[{"function":"b"},{"name":null}]})",
              R"({"tool_calls":[{"function":"b"},{"function":null}],"schema_version":2})");
}

TEST_CASE("fidelity: invalid UTF-8 is a row error") {
    for (const std::string& row : {std::string("{\"content\":\"\xff\"}"),
                                   std::string("{\"content\":\"\xc3\"}"),             // truncated sequence
                                   std::string("{\"content\":\"\xc0\xaf\"}"),         // overlong
                                   std::string("{\"content\":\"\xed\xa0\x80\"}"),     // UTF-8-encoded surrogate
                                   std::string("{\"content\":\"\xf4\x90\x80\x80\"}"), // beyond U+10FFFF
                                   std::string("{\"\x80\":1}"),                        // in a key
                                   std::string("{\"a\":1}\xff"),                       // after the value
                                   std::string("{\"tool_calls\":[{\"arguments\":\"\xe9\"}]}")}) {
        expect_up_error(row, "invalid JSON: not valid UTF-8");
    }
}

TEST_CASE("fidelity: a byte order mark is a row error") {
    expect_up_error("\xEF\xBB\xBF{\"content\":\"x\"}", "invalid JSON: byte order mark");
    expect_up_error("\xEF\xBB\xBF", "invalid JSON");
    // U+FEFF inside a string is just a character.
    expect_up("{\"content\":\"\xEF\xBB\xBFx\"}", "{\"content\":[{\"type\":\"text\",\"text\":\"\xEF\xBB\xBFx\"}],\"schema_version\":2}");
}

TEST_CASE("fidelity: rows that are not strict RFC 8259 JSON are errors left untouched") {
    const char* rows[] = {
        "", " ", "{", "}", "{\"a\":1", "{\"a\":1}}", "{\"a\":1} x", "{\"a\":1}{}", "{\"a\":1},",
        "{\"a\":01}", "{\"a\":+1}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}", "{\"a\":-}", "{\"a\":0x1}",
        "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":tru}", "{\"a\":True}", "{\"a\":nul}", "{\"a\":truex}",
        "{\"a\":\"\t\"}", "{\"a\":\"\n\"}", "{\"a\":\"\x01\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\u12G4\"}", "{\"a\":\"\\\"}", "{\"a\":'x'}", "{'a':1}", "{a:1}", "{\"a\" 1}", "{\"a\":1,}",
        "{,}", "{\"a\":1 \"b\":2}", "{\"a\":[1,]}", "{\"a\":[1 2]}", "{\"a\":[,1]}", "{\"a\":[[]}",
        "{\"a\":{}", "{\"a\":1}/**/", "{\"a\":1/**/}", "{\"a\":1}\f", "\f{\"a\":1}", "{\"a\":\f1}",
        "{\"\\q\":1}", "{\"a\":\"x\"y}", "{\"a\":[\"\\ud800\\u\"]}",
    };
    for (const char* row : rows) expect_up_error(row, "invalid JSON");
    // NUL bytes after the value and inside a string.
    expect_up_error(std::string_view("{\"a\":1}\0", 8), "invalid JSON");
    expect_up_error(std::string_view("{\"a\":\"\0\"}", 9), "invalid JSON");
}

TEST_CASE("fidelity: escaped lone surrogates are valid JSON and kept as written") {
    expect_up(R"({"content":"\ud800","\udc00x":"\udbff\udbff","m":["\uDFAA","\ud83d"]})",
              R"({"content":[{"type":"text","text":"\ud800"}],"\udc00x":"\udbff\udbff","m":["\uDFAA","\ud83d"],"schema_version":2})");
    // Distinct lone surrogates are distinct keys; an escaped pair equals the raw character.
    CHECK(up(R"({"\ud800":1,"\ud801":2})").outcome == Outcome::changed);
    expect_up_error(R"({"\ud83d\ude00":1,"😀":2})", "duplicate key");
}

TEST_CASE("fidelity: 100000 levels of nesting are a row error, never a crash") {
    const std::size_t n = 100000;
    for (const auto& [open, close] : {std::pair<std::string, std::string>{"[", "]"}, {"{\"a\":", "}"}}) {
        std::string deep;
        for (std::size_t i = 0; i < n; ++i) deep += open;
        deep += "1";
        for (std::size_t i = 0; i < n; ++i) deep += close;
        expect_up_error("{\"metadata\":" + deep + "}", "too deep");
        expect_up_error(deep, "too deep");
        // Unbalanced: still no crash.
        expect_up_error("{\"m\":" + std::string(n, '['), "invalid JSON");
        // As an arguments text: not parsed, kept as _raw.
        expect_args_raw(deep);
    }
    // The limit: json::max_depth containers, the top-level object included.
    auto nested = [](std::size_t depth) {  // an object holding arrays, `depth` containers in all
        return "{\"m\":" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
    };
    CHECK(up(nested(json::max_depth)).outcome == Outcome::changed);
    expect_up_error(nested(json::max_depth + 1), "too deep: nesting exceeds 1024 levels");
    CHECK(json::validate(nested(json::max_depth + 1)) == json::Validity::too_deep);
    // An arguments text may use what is left of the budget below the tool-call object.
    const std::size_t budget = json::max_depth - 3;
    expect_args_parsed(std::string(budget, '[') + std::string(budget, ']'),
                       std::string(budget, '[') + std::string(budget, ']'));
    expect_args_raw(std::string(budget + 1, '[') + std::string(budget + 1, ']'));
}

TEST_CASE("fidelity: 1 MB strings") {
    std::string body;
    const std::string piece = R"(abc \u00e9 \/ \" \\ \n é 😀 )";
    while (body.size() < (1u << 20)) body += piece;
    const std::string s = "\"" + body + "\"";
    expect_up(R"({"content":)" + s + R"(,"metadata":{"big":)" + s + "}}",
              R"({"content":[{"type":"text","text":)" + s + R"(}],"metadata":{"big":)" + s + R"(},"schema_version":2})");
    // A 1 MB arguments text: parsed when it is JSON, _raw when it is not.
    const std::string big_json = R"({"q":)" + s + "}";
    expect_args_parsed(big_json, big_json);
    expect_args_raw(big_json + ",");
    // Down gives the string back.
    const Result v2 = up(R"({"content":)" + s + "}");
    REQUIRE(v2.outcome == Outcome::changed);
    const Result v1 = down(v2.out);
    REQUIRE(v1.outcome == Outcome::changed);
    CHECK(v1.out == R"({"content":)" + s + "}");
}

TEST_CASE("fidelity: a top level that is not an object is a row error") {
    for (const char* row : {"[]", "[{\"content\":\"x\"}]", "\"s\"", "1", "-0", "1e400", "null", "true", "false", " [ ] "}) {
        expect_up_error(row, "top level is not an object");
        const Result d = down(row);
        CHECK(d.outcome == Outcome::error);
        CHECK(d.err.find("not an object") != std::string::npos);
    }
}

TEST_CASE("arguments: a string holding valid JSON of any type is replaced by that value") {
    expect_args_parsed(R"({"q":"rust async","limit":5})", R"({"q":"rust async","limit":5})");
    expect_args_parsed("{}", "{}");
    expect_args_parsed("[1,\"two\",{\"3\":[null]}]", "[1,\"two\",{\"3\":[null]}]");
    expect_args_parsed("[]", "[]");
    expect_args_parsed("\"hello\"", "\"hello\"");
    expect_args_parsed("\"\"", "\"\"");
    expect_args_parsed("\"\\ud800\"", "\"\\ud800\"");  // an *escaped* lone surrogate is valid JSON text
    expect_args_parsed("42", "42");
    expect_args_parsed("-1.5e-7", "-1.5e-7");
    expect_args_parsed("true", "true");
    expect_args_parsed("false", "false");
    expect_args_parsed("null", "null");
    expect_args_parsed("{\"\\u0063\":\"\\/\"}", "{\"\\u0063\":\"\\/\"}");
    // The outer string's own escapes are decoded before parsing.
    CHECK(args_after_up(R"("\u007b\"a\":\u0031}")") == R"({"a":1})");
    CHECK(args_after_up(R"("[\"caf\u00e9\"]")") == "[\"café\"]");
}

TEST_CASE("arguments: trailing garbage makes _raw") {
    expect_args_raw("{\"a\":1} x");
    expect_args_raw("{\"a\":1}}");
    expect_args_raw("{\"a\":1}{}");
    expect_args_raw("1 2");
    expect_args_raw("[1]]");
    expect_args_raw("\"a\" \"b\"");
    expect_args_raw("null,");
    expect_args_raw(std::string("1\0", 2));
}

TEST_CASE("arguments: NaN, Infinity, comments, trailing commas and other non-JSON make _raw") {
    expect_args_raw("NaN");
    expect_args_raw("{\"a\":NaN}");
    expect_args_raw("Infinity");
    expect_args_raw("-Infinity");
    expect_args_raw("/* c */ {}");
    expect_args_raw("{} // c");
    expect_args_raw("{\"a\":1 /* c */}");
    expect_args_raw("# c\n{}");
    expect_args_raw("{\"a\":1,}");
    expect_args_raw("[1,2,]");
    expect_args_raw("{'a':1}");
    expect_args_raw("{a:1}");
    expect_args_raw("01");
    expect_args_raw("+1");
    expect_args_raw(".5");
    expect_args_raw("True");
    expect_args_raw("undefined");
    expect_args_raw("rust async");
    expect_args_raw("{\"a\":\"\t\"}");  // raw control character inside a string
    expect_args_raw("\"\\x\"");
    expect_args_raw("{\"a\":1");
    expect_args_raw("\xEF\xBB\xBF{}");  // a byte order mark
}

TEST_CASE("arguments: surrounding JSON whitespace is trimmed; other whitespace is not JSON") {
    expect_args_parsed("  {\"a\":1}  ", "{\"a\":1}");
    expect_args_parsed("\n\t\r {\"a\" : 1}\r\n\t ", "{\"a\" : 1}");
    expect_args_parsed(" 5 ", "5");
    expect_args_parsed("\t\"x\"\n", "\"x\"");
    expect_args_raw("");
    expect_args_raw("   ");
    expect_args_raw("\n\t");
    expect_args_raw("\f{}");                // form feed is not JSON whitespace
    expect_args_raw("{}\v");                // nor vertical tab
    expect_args_raw("\xC2\xA0{}");          // nor U+00A0
    expect_args_raw("{}\xE2\x80\xA8");      // nor U+2028
}

TEST_CASE("arguments: a lone surrogate in the decoded text makes _raw") {
    // The string escapes decode to a lone surrogate: that text is not UTF-8, so it is not JSON.
    CHECK(args_after_up(R"("\ud800")") == R"({"_raw":"\ud800"})");
    CHECK(args_after_up(R"("[\"\udc00\"]")") == R"({"_raw":"[\"\udc00\"]"})");
    CHECK(args_after_up(R"("\"\ud83d\"")") == R"({"_raw":"\"\ud83d\""})");
    CHECK(args_after_up(R"("[\"\ude00\ud83d\"]")") == R"({"_raw":"[\"\ude00\ud83d\"]"})");  // inverted pair
    // A proper pair decodes to one character and parses.
    CHECK(args_after_up(R"("[\"\ud83d\ude00\"]")") == "[\"😀\"]");
}

TEST_CASE("arguments: _raw keeps the original string's bytes") {
    CHECK(args_after_up(R"("caf\u00e9 \/ not json")") == R"({"_raw":"caf\u00e9 \/ not json"})");
    CHECK(args_after_up(R"("\u004eaN")") == R"({"_raw":"\u004eaN"})");
    CHECK(args_after_up("\"\"") == R"({"_raw":""})");
}

TEST_CASE("arguments: non-string arguments are left as they are") {
    for (const char* v : {"{\"q\" : 1}", "[ \"a\" ]", "5", "1e400", "-0", "true", "false", "null",
                          "{\"_raw\":\"x\"}", "{ }"}) {
        CHECK(args_after_up(v) == v);
    }
}

TEST_CASE("schema_version: appended as the last key; an existing one is moved there with value 2") {
    expect_up(R"({"a":1})", R"({"a":1,"schema_version":2})");
    expect_up(R"({})", R"({"schema_version":2})");
    expect_up(R"({"schema_version":1,"a":1})", R"({"a":1,"schema_version":2})");
    expect_up(R"({"a":1,"schema_version":"7","b":2})", R"({"a":1,"b":2,"schema_version":2})");
    expect_up(R"({"schema_version":{"x":[1]},"a":1})", R"({"a":1,"schema_version":2})");
    expect_up(R"({"a":1,"schema_version":2.0})", R"({"a":1,"schema_version":2})");
    expect_up(R"({"schema\u005Fversion":1,"a":1})", R"({"a":1,"schema\u005Fversion":2})");
    // Already last with value 2, compact, nothing else to do: unchanged.
    const Result r = up(R"({"a":1,"schema_version":2})");
    CHECK(r.outcome == Outcome::unchanged);
    CHECK(r.out == kSentinel);
}

TEST_CASE("legacy_flag: removed from the top level only") {
    expect_up(R"({"legacy_flag":true,"a":1})", R"({"a":1,"schema_version":2})");
    expect_up(R"({"a":1,"legacy_flag":{"deep":[1,2]}})", R"({"a":1,"schema_version":2})");
    expect_up(R"({"a":1,"legacy_flag":null,"b":2})", R"({"a":1,"b":2,"schema_version":2})");
    expect_up(R"({"metadata":{"legacy_flag":true},"tool_calls":[{"legacy_flag":1}]})",
              R"({"metadata":{"legacy_flag":true},"tool_calls":[{"legacy_flag":1}],"schema_version":2})");
}

TEST_CASE("content: a string is wrapped in one text part; any other type is left as is") {
    expect_up(R"({"content":"hi"})", R"({"content":[{"type":"text","text":"hi"}],"schema_version":2})");
    expect_up(R"({"content":""})", R"({"content":[{"type":"text","text":""}],"schema_version":2})");
    for (const char* v : {"[{\"type\":\"text\",\"text\":\"hi\"}]", "[ ]", "{\"text\":\"hi\"}", "null", "1.0E+2",
                          "true", "[\"hi\"]"}) {
        expect_up(std::string(R"({"content":)") + v + "}", std::string(R"({"content":)") + v + R"(,"schema_version":2})");
    }
    // Only the top-level content.
    expect_up(R"({"metadata":{"content":"x"}})", R"({"metadata":{"content":"x"},"schema_version":2})");
}

TEST_CASE("tool_calls: object elements are edited; other elements and non-arrays are left as is") {
    expect_up(R"({"tool_calls":{"name":"f"}})", R"({"tool_calls":{"name":"f"},"schema_version":2})");
    expect_up(R"({"tool_calls":"x"})", R"({"tool_calls":"x","schema_version":2})");
    expect_up(R"({"tool_calls":null})", R"({"tool_calls":null,"schema_version":2})");
    expect_up(R"({"tool_calls":[]})", R"({"tool_calls":[],"schema_version":2})");
    expect_up(R"({"tool_calls":[1,"name",null,[{"name":"f"}],{}]})",
              R"({"tool_calls":[1,"name",null,[{"name":"f"}],{}],"schema_version":2})");
    // `name` is renamed whatever its value; its position and bytes are kept.
    expect_up(R"({"tool_calls":[{"id":1,"name":{"a" : 1},"type":"function"},{"name":"\u0041"}]})",
              R"({"tool_calls":[{"id":1,"function":{"a" : 1},"type":"function"},{"function":"\u0041"}],"schema_version":2})");
}

TEST_CASE("outcome: error rows and unchanged rows leave `out` untouched; changed rows replace it") {
    std::string out = "previous row's output, to be replaced", err;
    CHECK(message_v1_to_v2(R"({"a" : 1})", out, err) == Outcome::changed);
    CHECK(out == R"({"a":1,"schema_version":2})");
    out = kSentinel;
    CHECK(message_v1_to_v2("{", out, err) == Outcome::error);
    CHECK(out == kSentinel);
    CHECK(!err.empty());
    CHECK(message_v1_to_v2(R"({"schema_version":2})", out, err) == Outcome::unchanged);
    CHECK(out == kSentinel);
}

TEST_CASE("down: reverses up on the reference example") {
    const std::string v1 =
        R"({"role":"assistant","content":"Sure, here is ...","tool_calls":[{"id":"call_1","name":"search",)"
        R"("arguments":"{\"q\":\"rust async\",\"limit\":5}"}],"created_at":"2026-01-01T00:00:00Z",)"
        R"("metadata":{"model":"m-7","usage":{"input_tokens":123,"output_tokens":456},"latency_ms":812.25}})";
    const Result v2 = up(v1);
    REQUIRE(v2.outcome == Outcome::changed);
    const Result back = down(v2.out);
    REQUIRE(back.outcome == Outcome::changed);
    CHECK(back.out == v1);
}

TEST_CASE("down: what it restores and what it cannot") {
    auto expect_down = [](std::string_view v2, std::string_view v1) {
        INFO("v2: " << v2);
        const Result r = down(v2);
        INFO("error: " << r.err);
        REQUIRE(r.outcome == Outcome::changed);
        CHECK(r.out == v1);
    };
    // schema_version removed; content of exactly one text part, in the form up writes, back to
    // the string; _raw back to the original string; parsed arguments back to a string of
    // their text (inner whitespace and spellings kept).
    expect_down(R"({"content":[{"type":"text","text":"caf\u00e9"}],"tool_calls":[{"function":"f","arguments":{"_raw":"NaN"}},)"
                R"({"arguments":{ "a" : 1e400 }},{"arguments":"x"},{"arguments":null}],"schema_version":2})",
                R"({"content":"caf\u00e9","tool_calls":[{"name":"f","arguments":"NaN"},)"
                R"({"arguments":"{ \"a\" : 1e400 }"},{"arguments":"\"x\""},{"arguments":"null"}]})");
    // legacy_flag cannot be restored: up dropped it.
    const Result v2 = up(R"({"a":1,"legacy_flag":true})");
    REQUIRE(v2.outcome == Outcome::changed);
    expect_down(v2.out, R"({"a":1})");
    // Other content arrays (other spacing or key order, more parts, extra keys) stay arrays.
    for (const char* c : {R"([ {"type":"text","text":"x"} ])", R"([{"text":"x","type":"text"}])",
                          R"([{"type":"text","text":"x"},{"type":"text","text":"y"}])",
                          R"([{"type":"text","text":"x","extra":1}])", R"([{"type":"image","text":"x"}])",
                          R"([{"type":"text","text":1}])", "[]"}) {
        expect_down(std::string(R"({"content":)") + c + R"(,"schema_version":2})", std::string(R"({"content":)") + c + "}");
    }
    // A non-canonical _raw object is an ordinary value: it becomes a string of its text.
    expect_down(R"({"tool_calls":[{"arguments":{ "_raw":"x"}},{"arguments":{"_raw":"x","b":1}},{"arguments":{"_raw":1}}]})",
                R"({"tool_calls":[{"arguments":"{ \"_raw\":\"x\"}"},{"arguments":"{\"_raw\":\"x\",\"b\":1}"},{"arguments":"{\"_raw\":1}"}]})");
    // Renamed keys are written plainly; the original spelling of a renamed key is lost.
    expect_down(R"({"tool_calls":[{"\u0066unction":"f"}]})", R"({"tool_calls":[{"name":"f"}]})");
    // Same row errors as up.
    CHECK(down(R"({"a":1,"a":2})").outcome == Outcome::error);
    CHECK(down(R"({"tool_calls":[{"name":"a","function":"b"}]})").outcome == Outcome::error);
    CHECK(down("{").outcome == Outcome::error);
    // Nothing to undo: unchanged.
    CHECK(down(R"({"a":1})").outcome == Outcome::unchanged);
}

namespace {

// A seeded generator of realistic v1 rows (REFERENCE-WORKLOAD.md's mix). `exact` tells whether
// down(up(row)) must give the row back byte for byte (see the limits of down).
class Corpus {
public:
    explicit Corpus(std::uint64_t seed) : rng_(seed) {}

    std::string row(bool& exact, bool& invalid) {
        exact = true;
        invalid = false;
        const bool spaced = chance(0.3);
        if (spaced) exact = false;
        const char* sep = spaced ? ", " : ",";
        const char* colon = spaced ? ": " : ":";
        std::vector<std::string> members;
        auto add = [&](const char* key, const std::string& value) {
            members.push_back(std::string("\"") + key + "\"" + colon + value);
        };
        static const char* roles[] = {"user", "assistant", "tool", "system"};
        add("role", std::string("\"") + roles[pick(4)] + "\"");
        const double c = uniform();
        if (c < 0.80) {
            add("content", "\"" + text(content_length()) + "\"");
        } else if (c < 0.90) {
            add("content", content_array(exact));
        } else if (c < 0.95) {
            add("content", "null");
        }  // else: no content
        if (chance(0.7)) add("tool_calls", tool_calls(exact));
        add("created_at", "\"2026-01-0" + std::to_string(1 + pick(9)) + "T00:00:00Z\"");
        if (chance(0.9)) add("metadata", metadata());
        if (chance(0.5)) {
            static const char* flags[] = {"true", "false", "null", "{\"x\":[1]}"};
            add("legacy_flag", flags[pick(4)]);
            exact = false;
        }
        if (chance(0.01)) {
            add("schema_version", "1");
            exact = false;
        }
        if (chance(0.1)) std::swap(members[0], members[members.size() - 1]);
        std::string out = spaced ? "{ " : "{";
        for (std::size_t i = 0; i < members.size(); ++i) out += (i ? sep : "") + members[i];
        out += spaced ? " }" : "}";
        return out;
    }

    // Makes a row invalid in one of several ways.
    std::string corrupt(std::string row) {
        switch (pick(5)) {
            case 0: return row.substr(0, row.size() / 2);
            case 1: return row + "x";
            case 2: return row.insert(row.size() / 2, "\xff");
            case 3: return "\xEF\xBB\xBF" + row;
            default: return "{\"content\":\"a\tb\"," + row.substr(1);
        }
    }

private:
    bool chance(double p) { return uniform() < p; }
    double uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }
    std::size_t pick(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }

    // Log-normal content length: median ~400 B, p99 ~20 KB.
    std::size_t content_length() {
        const double v = std::lognormal_distribution<double>(std::log(400.0), 1.68)(rng_);
        return static_cast<std::size_t>(std::min(v, 200000.0));
    }

    // The body of a JSON string (escapes included), about n bytes.
    std::string text(std::size_t n) {
        static const char* pieces[] = {"\\u00e9",  "\\ud83d\\ude00", "\\/", "\\n", "\\\"", "é", "中文", "😀",
                                       "\\\\", "\\t", "\\u0000", "\\ud800"};
        static const char* words[] = {"the ", "migration ", "rust ", "async ", "data ", "row ", "JSON ",
                                      "here is ", "Sure, ", "1.0E+2 ", "{not json} ", "path/to/file "};
        std::string s;
        while (s.size() < n) {
            if (chance(0.15)) {
                s += pieces[pick(std::size(pieces))];
            } else {
                s += words[pick(std::size(words))];
            }
        }
        return s;
    }

    std::string content_array(bool& exact) {
        switch (pick(4)) {
            case 0:  // exactly the form up writes: down turns it into a string
                exact = false;
                return "[{\"type\":\"text\",\"text\":\"" + text(40) + "\"}]";
            case 1: return "[ {\"type\": \"text\", \"text\": \"" + text(40) + "\"} ]";
            case 2:
                return "[{\"type\":\"text\",\"text\":\"" + text(20) + "\"},{\"type\":\"image\",\"url\":\"http:\\/\\/x\"}]";
            default: return "[]";
        }
    }

    std::string number() {
        static const char* nums[] = {"0", "-0", "1.0E+2", "812.25", "9007199254740993", "12345678901234567890123",
                                     "0.1000000000000000055511151231257827", "1e400", "-1.5e-7",
                                     "3.141592653589793238462643383279", "18446744073709551616"};
        return nums[pick(std::size(nums))];
    }

    std::string metadata() {
        const bool spaced = chance(0.3);
        const char* sep = spaced ? ", " : ",";
        const char* colon = spaced ? " : " : ":";
        std::string m = "{\"model\"" + std::string(colon) + "\"m-7\"" + sep + "\"usage\"" + colon +
                        "{\"input_tokens\":" + std::to_string(pick(100000)) +
                        ",\"output_tokens\":" + std::to_string(pick(100000)) + "}";
        const std::size_t extra = pick(4);
        for (std::size_t i = 0; i < extra; ++i) m += std::string(sep) + "\"n" + std::to_string(i) + "\"" + colon + number();
        return m + "}";
    }

    // An arguments JSON text.
    std::string arguments_text() {
        const bool spaced = chance(0.3);
        const char* sep = spaced ? ", " : ",";
        const char* colon = spaced ? ": " : ":";
        std::string a = "{\"q\"" + std::string(colon) + "\"" + text(pick(60)) + "\"";
        if (chance(0.5)) a += std::string(sep) + "\"limit\"" + colon + number();
        if (chance(0.3)) a += std::string(sep) + "\"nested\"" + colon + "{\"a\":[1,2,{\"b\":null}],\"ok\":true}";
        return a + "}";
    }

    std::string arguments(bool& exact) {
        const double c = uniform();
        if (c < 0.70) return as_json_string(arguments_text());
        if (c < 0.75) {  // other JSON types
            static const char* texts[] = {"[1,2]", "\"hello\"", "42", "true", "null", "12345678901234567890123"};
            return as_json_string(texts[pick(std::size(texts))]);
        }
        if (c < 0.80) {  // whitespace around: trimmed by up, not restored by down
            exact = false;
            return as_json_string(" \n" + arguments_text() + "\t ");
        }
        if (c < 0.83) {  // escapes in the outer string: decoded by up, not restored by down
            exact = false;
            return "\"\\u007b\\\"a\\\":1}\"";
        }
        if (c < 0.93) {  // not JSON: _raw, restored exactly
            static const char* bad[] = {"NaN", "{'q': 1}", "{\"a\":1,}", "/* c */ {}", "{\"a\":1} x", "",
                                        "rust async", "[1,2", "\\ud800"};
            const std::string b = bad[pick(std::size(bad))];
            if (b == "\\ud800") return "\"[\\\"\\ud800\\\"]\"";
            std::string q = as_json_string(b);
            if (chance(0.3)) q.insert(1, "\\/");  // odd escapes survive in _raw
            return q;
        }
        exact = false;  // non-string arguments: down turns them into strings
        static const char* raw[] = {"{\"q\": 1}", "[1, 2]", "null", "5", "{}"};
        return raw[pick(std::size(raw))];
    }

    std::string tool_calls(bool& exact) {
        std::string t = "[";
        const std::size_t n = pick(5);
        for (std::size_t i = 0; i < n; ++i) {
            if (i) t += ",";
            const bool spaced = chance(0.2);
            if (spaced) exact = false;
            const char* sep = spaced ? ", " : ",";
            const char* colon = spaced ? ": " : ":";
            t += "{\"id\"" + std::string(colon) + "\"call_" + std::to_string(i) + "\"" + sep + "\"type\"" + colon + "\"function\"";
            const double k = uniform();
            if (k < 0.9) {
                t += std::string(sep) + "\"name\"" + colon + "\"search\"";
            } else if (k < 0.95) {
                t += std::string(sep) + "\"function\"" + colon + "\"search\"";  // comes back as name
                exact = false;
            }
            if (chance(0.95)) t += std::string(sep) + "\"arguments\"" + colon + arguments(exact);
            t += "}";
        }
        return t + "]";
    }

    static std::string as_json_string(std::string_view s) {
        std::string q;
        json::append_quoted(q, s);
        return q;
    }

    std::mt19937_64 rng_;
};

std::vector<std::string> make_corpus(std::size_t n, std::vector<char>* exact, std::vector<char>* invalid) {
    Corpus gen(20260101);
    std::vector<std::string> rows;
    rows.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        bool ex = false, bad = false;
        std::string r = gen.row(ex, bad);
        if (i % 1000 == 999) {  // ~0.1% rows that are not valid JSON
            r = gen.corrupt(std::move(r));
            bad = true;
            ex = false;
        }
        rows.push_back(std::move(r));
        if (exact) exact->push_back(ex ? 1 : 0);
        if (invalid) invalid->push_back(bad ? 1 : 0);
    }
    return rows;
}

}  // namespace

TEST_CASE("round trip: up, down, up over a generated corpus gives the same v2 bytes") {
    std::vector<char> exact, invalid;
    const std::vector<std::string> rows = make_corpus(10000, &exact, &invalid);
    std::size_t n_exact = 0, n_invalid = 0, n_raw = 0, n_parsed = 0, n_content_arrays = 0;
    std::string v2a, v1b, v2b, err;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const std::string& row = rows[i];
        INFO("row " << i << ": " << row.substr(0, 2000));
        v2a = kSentinel;
        const Outcome o = message_v1_to_v2(row, v2a, err);
        INFO("error: " << err);
        if (invalid[i]) {
            ++n_invalid;
            REQUIRE(o == Outcome::error);
            REQUIRE(v2a == kSentinel);
            continue;
        }
        REQUIRE(o == Outcome::changed);
        REQUIRE(json::is_valid(v2a));
        REQUIRE(message_v2_to_v1(v2a, v1b, err) == Outcome::changed);
        REQUIRE(json::is_valid(v1b));
        REQUIRE(message_v1_to_v2(v1b, v2b, err) == Outcome::changed);
        REQUIRE(v2b == v2a);
        if (exact[i]) {
            ++n_exact;
            REQUIRE(v1b == row);
        }
        if (v2a.find("{\"_raw\":") != std::string::npos) ++n_raw;
        if (v2a.find("\"arguments\":{\"q\"") != std::string::npos) ++n_parsed;
        if (row.find("\"content\":[") != std::string::npos) ++n_content_arrays;
    }
    // The generator really covers the mix.
    CHECK(n_invalid == 10);
    CHECK(n_exact > 1000);
    CHECK(n_raw > 100);
    CHECK(n_parsed > 1000);
    CHECK(n_content_arrays > 500);
}

TEST_CASE("thread safety: concurrent transforms give the single-thread results") {
    const std::vector<std::string> rows = make_corpus(2000, nullptr, nullptr);
    std::vector<std::string> expected(rows.size());
    std::vector<Outcome> expected_outcome(rows.size());
    std::string err;
    for (std::size_t i = 0; i < rows.size(); ++i) expected_outcome[i] = message_v1_to_v2(rows[i], expected[i], err);

    constexpr int kThreads = 4;
    std::vector<std::size_t> mismatches(kThreads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            std::string out, e, back;
            for (std::size_t i = 0; i < rows.size(); ++i) {
                const std::size_t k = (i * 7 + static_cast<std::size_t>(t) * 131) % rows.size();
                out.clear();
                const Outcome o = message_v1_to_v2(rows[k], out, e);
                if (o != expected_outcome[k] || (o == Outcome::changed && out != expected[k])) ++mismatches[t];
                if (o == Outcome::changed) (void)message_v2_to_v1(out, back, e);
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) CHECK(mismatches[t] == 0);
}
