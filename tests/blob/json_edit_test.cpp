// The JSON-editing SDK helpers (migrator/json_edit.hpp) on their own: validation, the text
// helpers and each edit.
#include <migrator/json_edit.hpp>

#include "blob_support.h"

#include <stdexcept>
#include <string>
#include <string_view>

namespace json = migrator::json;

namespace {

constexpr const char* kSentinel = "<out not touched>";

// rewrite_object(in, edit) must change the row into `expected`.
template <class F>
void expect_rewrite(std::string_view in, std::string_view expected, F&& edit) {
    INFO("input: " << in);
    std::string out = kSentinel, err;
    const json::Outcome o = json::rewrite_object(in, out, err, std::forward<F>(edit));
    INFO("error: " << err);
    REQUIRE(o == json::Outcome::changed);
    CHECK(out == expected);
    CHECK(json::is_valid(out));
}

template <class F>
std::string expect_rewrite_error(std::string_view in, F&& edit) {
    INFO("input: " << in);
    std::string out = kSentinel, err;
    CHECK(json::rewrite_object(in, out, err, std::forward<F>(edit)) == json::Outcome::error);
    CHECK(out == kSentinel);
    return err;
}

void no_edit(json::Object&) {}

}  // namespace

TEST_CASE("json_edit: number grammar") {
    for (const char* ok : {"0", "-0", "1", "-1", "10", "1.5", "0.0", "1e5", "1E+5", "1e-5", "-0.0e0", "1.0E+2",
                           "12345678901234567890123", "1e400", "123.456e-789"}) {
        INFO(ok);
        CHECK(json::is_number_token(ok));
    }
    for (const char* bad : {"", "-", "+1", "01", "-01", "00", "1.", ".1", "1e", "1e+", "1.e5", "0x1", "1 ", " 1",
                            "NaN", "Infinity", "-Infinity", "1_000", "1.5.5", "1e5e5", "--1", "1f", "١"}) {
        INFO(bad);
        CHECK_FALSE(json::is_number_token(bad));
    }
}

TEST_CASE("json_edit: string escapes are checked and decoded") {
    CHECK(json::has_valid_escapes(R"(plain)"));
    CHECK(json::has_valid_escapes(R"(\" \\ \/ \b \f \n \r \t \u0000 \uFFFF \ud800 \uDC00)"));
    for (const char* bad : {R"(\x)", R"(\u12)", R"(\u12G4)", R"(\)", R"(\U0041)", R"(\')", R"(\a)", R"(\0)"}) {
        INFO(bad);
        CHECK_FALSE(json::has_valid_escapes(bad));
    }
    std::string out;
    bool lone = true;
    REQUIRE(json::unescape(R"(caf\u00e9 \/ \"q\" \\ \n\t \ud83d\ude00 \u0041)", out, lone));
    CHECK(out == "café / \"q\" \\ \n\t 😀 A");
    CHECK_FALSE(lone);
    REQUIRE(json::unescape(R"(a\ud800b)", out, lone));
    CHECK(lone);
    CHECK(out == "a\xED\xA0\x80" "b");  // generalized UTF-8 of U+D800
    REQUIRE(json::unescape(R"(\ude00\ud83d)", out, lone));  // inverted pair: two lone surrogates
    CHECK(lone);
    CHECK_FALSE(json::unescape(R"(\x)", out, lone));
}

TEST_CASE("json_edit: append_quoted escapes only what JSON requires") {
    std::string q;
    std::string raw = "a\"b\\c\n\t\r\b\f\x01\x1f\x7f é 😀 /";
    raw.push_back('\0');
    json::append_quoted(q, raw);
    CHECK(q == "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\x7f é 😀 /\\u0000\"");
    CHECK(json::is_valid(q));
    // Every code point round-trips through append_quoted and unescape.
    std::string text;
    for (std::uint32_t cp = 0; cp < 0x11000; cp += (cp < 0x800 ? 1 : 7)) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        json::detail::append_utf8(text, cp);
    }
    json::detail::append_utf8(text, 0x10FFFF);
    q.clear();
    json::append_quoted(q, text);
    REQUIRE(json::is_valid(q));
    std::string back;
    bool lone = false;
    REQUIRE(json::unescape(std::string_view(q).substr(1, q.size() - 2), back, lone));
    CHECK(back == text);
}

TEST_CASE("json_edit: validate reports invalid JSON, depth and accepts what simdjson cannot convert") {
    std::string why;
    CHECK(json::validate(R"({"a":[1e400,12345678901234567890123,"\ud800",-0]})") == json::Validity::valid);
    CHECK(json::validate(R"("\udc00x")") == json::Validity::valid);
    CHECK(json::validate("123456789012345678901234567890") == json::Validity::valid);
    CHECK(json::validate(" 1e400 ") == json::Validity::valid);
    CHECK(json::validate("[01]", &why) == json::Validity::invalid);
    CHECK(blob_test::starts_with(why, "invalid JSON"));
    CHECK(json::validate("1 2", &why) == json::Validity::invalid);
    CHECK(json::validate("[1] x") == json::Validity::invalid);
    CHECK(json::validate("") == json::Validity::invalid);
    CHECK(json::validate("\xEF\xBB\xBF[]", &why) == json::Validity::invalid);
    CHECK(why == "invalid JSON: byte order mark before the value");
    CHECK(json::validate("[\"\xff\"]", &why) == json::Validity::invalid);
    CHECK(why == "invalid JSON: not valid UTF-8");
    // Depth: the limit counts containers; a custom limit is honoured.
    CHECK(json::validate("[[[]]]", nullptr, 3) == json::Validity::valid);
    CHECK(json::validate("[[[[]]]]", &why, 3) == json::Validity::too_deep);
    CHECK(why == "too deep: nesting exceeds 3 levels");
    CHECK(json::validate(std::string(json::max_depth, '[') + std::string(json::max_depth, ']')) == json::Validity::valid);
    CHECK(json::validate(std::string(json::max_depth + 1, '[') + std::string(json::max_depth + 1, ']')) ==
          json::Validity::too_deep);
    CHECK(json::validate(std::string(200000, '[') + std::string(200000, ']')) == json::Validity::too_deep);
}

TEST_CASE("json_edit: rewrite_object checks the whole row first") {
    auto err = expect_rewrite_error(R"({"a":1,"b":[01]})", no_edit);  // the bad value is never edited
    CHECK(blob_test::starts_with(err, "invalid JSON"));
    err = expect_rewrite_error("[1]", no_edit);
    CHECK(err == "top level is not an object (it is an array)");
    err = expect_rewrite_error("\"x\"", no_edit);
    CHECK(err == "top level is not an object (it is a string)");
    // No edit at all: the object is still written compactly, unchanged when already compact.
    expect_rewrite("{ \"a\" : 1 }", R"({"a":1})", no_edit);
    std::string out = kSentinel, e;
    CHECK(json::rewrite_object(R"({"a":1,"b":{ "c" : 2 }})", out, e, no_edit) == json::Outcome::unchanged);
    CHECK(out == kSentinel);
}

TEST_CASE("json_edit: rename keeps the value's bytes and the member's position") {
    expect_rewrite(R"({"a":1,"old":{ "x" : 1e400 },"z":2})", R"({"a":1,"new":{ "x" : 1e400 },"z":2})",
                   [](json::Object& o) { CHECK(o.rename("old", "new")); });
    expect_rewrite(R"({"\u006fld":1})", R"({"n\"e\\w\n":1})", [](json::Object& o) { CHECK(o.rename("old", "n\"e\\w\n")); });
    expect_rewrite(R"({"a":1})", R"({"a":1,"b":2})", [](json::Object& o) {  // absent: nothing to do
        CHECK_FALSE(o.rename("old", "new"));
        o.set("b", "2");
    });
    // Would have to choose: errors.
    auto err = expect_rewrite_error(R"({"old":1,"new":2})", [](json::Object& o) { o.rename("old", "new"); });
    CHECK(err.find("both keys are present") != std::string::npos);
    err = expect_rewrite_error(R"({"old":1,"old":2})", [](json::Object& o) { o.rename("old", "new"); });
    CHECK(err == "duplicate key \"old\"");
    // After a rename the new key is found, the old one is not.
    expect_rewrite(R"({"old":1})", R"({"new":1})", [](json::Object& o) {
        o.rename("old", "new");
        CHECK(o.find("old") == nullptr);
        REQUIRE(o.find("new") != nullptr);
        CHECK(o.find("new")->json() == "1");
    });
}

TEST_CASE("json_edit: remove drops every member with the key") {
    expect_rewrite(R"({"a":1,"x":2,"b":3,"\u0078":4})", R"({"a":1,"b":3})",
                   [](json::Object& o) { CHECK(o.remove("x") == 2); });
    expect_rewrite(R"({"a":1})", R"({"a":1,"z":0})", [](json::Object& o) {
        CHECK(o.remove("x") == 0);
        o.set("z", "0");
    });
}

TEST_CASE("json_edit: set appends, moves to the end, or replaces in place") {
    expect_rewrite(R"({"a":1})", R"({"a":1,"v":2})", [](json::Object& o) { o.set("v", "2"); });
    expect_rewrite(R"({"v":1,"a":1})", R"({"a":1,"v":2})", [](json::Object& o) { o.set("v", "2"); });
    expect_rewrite(R"({"\u0076":1,"a":1})", R"({"a":1,"\u0076":2})", [](json::Object& o) { o.set("v", "2"); });
    expect_rewrite(R"({"v":1,"a":1})", R"({"v":[true],"a":1})",
                   [](json::Object& o) { o.set("v", "[true]", json::Place::keep); });
    expect_rewrite(R"({"a":1})", R"({"a":1,"k\u0000":null})", [](json::Object& o) {
        json::Member& m = o.set(std::string_view("k\0", 2), "null", json::Place::keep);
        CHECK(m.kind() == json::Kind::null);
    });
    auto err = expect_rewrite_error(R"({"v":1,"v":2})", [](json::Object& o) { o.set("v", "3"); });
    CHECK(blob_test::starts_with(err, "duplicate key"));
    // Member pointers survive set().
    expect_rewrite(R"({"a":"x"})", R"({"a":"y","b":1,"c":2})", [](json::Object& o) {
        json::Member* a = o.find("a");
        for (int i = 0; i < 100; ++i) o.set("b", "1");
        o.set("c", "2");
        a->set_string("y");
        CHECK(o.size() == 3);
    });
}

TEST_CASE("json_edit: set_string, wrap and set_json") {
    expect_rewrite(R"({"a":1,"b":"x","c":[1]})", R"({"a":"tab\there \"q\" é","b":["x"],"c":{"w":[1]}})",
                   [](json::Object& o) {
                       o.find("a")->set_string("tab\there \"q\" é");
                       o.find("b")->wrap("[", "]");
                       CHECK(o.find("b")->kind() == json::Kind::array);
                       o.find("c")->wrap(R"({"w":)", "}");
                       CHECK(o.find("c")->kind() == json::Kind::object);
                   });
    expect_rewrite(R"({ "a":"abc"})", R"({"a":"abc"})", [](json::Object& o) {
        json::Member* a = o.find("a");
        a->wrap("[", "]");
        a->set_json(a->json().substr(1, a->json().size() - 2));  // from its own text
        CHECK(a->kind() == json::Kind::string);
        o.set("z", "1");
        o.remove("z");
    });
    auto err = expect_rewrite_error(R"({"a":1})", [](json::Object& o) { o.find("a")->set_string("\xff"); });
    CHECK(err.find("UTF-8") != std::string::npos);
}

TEST_CASE("json_edit: get_string and parse_embedded") {
    expect_rewrite(R"({"s":"caf\u00e9","l":"\ud800","n":5,"j":" [1, 2] ","bad":"[1,]"})",
                   R"({"s":"caf\u00e9","l":"\ud800","n":5,"j":[1, 2],"bad":"[1,]"})", [](json::Object& o) {
                       std::string text;
                       CHECK(o.find("s")->get_string(text));
                       CHECK(text == "café");
                       CHECK_FALSE(o.find("l")->get_string(text));
                       CHECK_FALSE(o.find("n")->get_string(text));
                       CHECK(o.find("j")->parse_embedded());
                       CHECK(o.find("j")->kind() == json::Kind::array);
                       CHECK_FALSE(o.find("bad")->parse_embedded());
                       CHECK_FALSE(o.find("n")->parse_embedded());
                       CHECK_FALSE(o.find("l")->parse_embedded());
                   });
    // The depth limit of an embedded text.
    expect_rewrite(R"({"a":"[[1]]","b":"[[1]]"})", R"({"a":[[1]],"b":"[[1]]"})", [](json::Object& o) {
        CHECK(o.find("a")->parse_embedded(2));
        CHECK_FALSE(o.find("b")->parse_embedded(1));
    });
}

TEST_CASE("json_edit: edit_object, edit_array and map_elements edit nested containers") {
    expect_rewrite(R"({"m":{ "a" : 1 , "b" : { "c" : 2 } },"l":[ 1 , {"x" : 1} , [ 2 ] ],"s":"x"})",
                   R"({"m":{"A":1,"b":{"c":2,"d":true}},"l":[1,{"X":1},[ 2 ],"new"],"s":"x"})", [](json::Object& o) {
                       CHECK(o.edit_object("m", [](json::Object& m) {
                           m.rename("a", "A");
                           m.edit_object("b", [](json::Object& b) { b.set("d", "true"); });
                       }));
                       CHECK(o.edit_array("l", [](json::Array& a) {
                           CHECK(a.size() == 3);
                           a[1].edit_object([](json::Object& e) { e.rename("x", "X"); });
                           a.append("\"new\"");
                       }));
                       CHECK_FALSE(o.edit_object("s", [](json::Object&) { FAIL("not an object"); }));
                       CHECK_FALSE(o.edit_array("m", [](json::Array&) { FAIL("not an array"); }));
                       CHECK_FALSE(o.map_elements("missing", [](json::Value&) { FAIL("absent"); }));
                   });
    expect_rewrite(R"({"l":[1,"a",null,{"k":[]}]})", R"({"l":[[1],["a"],{"k":[]}]})", [](json::Object& o) {
        CHECK(o.edit_array("l", [](json::Array& a) { a.remove(2); }));
        CHECK(o.map_elements("l", [](json::Value& v) {
            if (v.kind() != json::Kind::object) v.wrap("[", "]");
        }));
    });
    // Editing a value that an edit already replaced.
    expect_rewrite(R"({"a":"{\"b\":{\"c\":1}}"})", R"({"a":{"b":{"c":1,"d":2}}})", [](json::Object& o) {
        json::Member* a = o.find("a");
        REQUIRE(a->parse_embedded());
        a->edit_object([](json::Object& x) { x.edit_object("b", [](json::Object& b) { b.set("d", "2"); }); });
    });
    // A nested edit error makes the row an error.
    auto err = expect_rewrite_error(R"({"m":{"a":1,"a":2}})", [](json::Object& o) {
        o.edit_object("m", [](json::Object& m) { m.require_unique_keys(); });
    });
    CHECK(err == "duplicate key \"a\"");
}

TEST_CASE("json_edit: exceptions other than RowError propagate and the editor recovers") {
    std::string out, err;
    CHECK_THROWS_AS(json::rewrite_object(R"({"a":1})", out, err,
                                         [](json::Object& o) {
                                             o.edit_object("a", [](json::Object&) {});
                                             throw std::runtime_error("plugin bug");
                                         }),
                    std::runtime_error);
    // Nested use of rewrite_object from an edit is refused.
    CHECK_THROWS_AS(json::rewrite_object(R"({"a":1})", out, err,
                                         [](json::Object&) {
                                             std::string o2, e2;
                                             json::rewrite_object("{}", o2, e2, no_edit);
                                         }),
                    std::logic_error);
    CHECK(json::rewrite_object(R"({"a" : 1})", out, err, no_edit) == json::Outcome::changed);
    CHECK(out == R"({"a":1})");
}
