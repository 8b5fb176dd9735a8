// Every file of JSONTestSuite as a blob input of the reference transform (and of the
// validator on its own): y_ files are accepted as JSON, n_ files are row errors that leave the
// row untouched, i_ and test_transform files never crash.
#include <migrator/json_edit.hpp>

#include "blob_support.h"
#include "message_v2_transform.hpp"

#include <string>
#include <string_view>

namespace json = migrator::json;
using migrator::message_v2::message_v1_to_v2;
using migrator::message_v2::message_v2_to_v1;
using migrator::message_v2::Outcome;
using blob_test::starts_with;

namespace {

constexpr const char* kSentinel = "<out not touched>";

bool is_invalid_json_error(const std::string& err) {
    return starts_with(err, "invalid JSON") || starts_with(err, "too deep");
}

std::string as_json_string(std::string_view s) {
    std::string q;
    json::append_quoted(q, s);
    return q;
}

}  // namespace

TEST_CASE("JSONTestSuite y_ files are accepted as JSON by the transform") {
    const auto files = blob_test::suite_files("test_parsing", "y_");
    CHECK(files.size() >= 90);
    for (const auto& f : files) {
        INFO(f.name);
        std::string why;
        CHECK(json::validate(f.bytes, &why) == json::Validity::valid);
        INFO(why);
        for (auto transform : {&message_v1_to_v2, &message_v2_to_v1}) {
            std::string out = kSentinel, err;
            const Outcome o = transform(f.bytes, out, err);
            INFO(err);
            if (o == Outcome::error) {
                // Valid JSON is never reported as invalid: only a non-object top level or the
                // duplicate keys that the spec makes a row error.
                CHECK_FALSE(is_invalid_json_error(err));
                const bool is_object = json::kind_of(json::trim(f.bytes)) == json::Kind::object;
                if (is_object) {
                    CHECK(starts_with(err, "duplicate key"));
                } else {
                    CHECK(starts_with(err, "top level is not an object"));
                }
                CHECK(out == kSentinel);
            } else {
                if (o == Outcome::changed) CHECK(json::is_valid(out));
                if (o == Outcome::unchanged) CHECK(out == kSentinel);
            }
        }
    }
}

TEST_CASE("JSONTestSuite y_ files survive byte for byte as untouched values") {
    // Each file's text as a member value is copied verbatim (trimmed of the whitespace around
    // it, which belongs to the rewritten top-level object).
    for (const auto& f : blob_test::suite_files("test_parsing", "y_")) {
        INFO(f.name);
        const std::string_view text = json::trim(f.bytes);
        const std::string row = "{\"metadata\" : " + std::string(f.bytes) + " }";
        std::string out, err;
        REQUIRE(message_v1_to_v2(row, out, err) == Outcome::changed);
        CHECK(out == "{\"metadata\":" + std::string(text) + ",\"schema_version\":2}");
    }
}

TEST_CASE("JSONTestSuite y_ files as arguments strings are parsed into their value") {
    for (const auto& f : blob_test::suite_files("test_parsing", "y_")) {
        INFO(f.name);
        const std::string row = R"({"tool_calls":[{"name":"f","arguments":)" + as_json_string(f.bytes) + "}]}";
        std::string out, err;
        REQUIRE(message_v1_to_v2(row, out, err) == Outcome::changed);
        CHECK(out == R"({"tool_calls":[{"function":"f","arguments":)" + std::string(json::trim(f.bytes)) +
                         R"(}],"schema_version":2})");
    }
}

TEST_CASE("JSONTestSuite n_ files are row errors and leave the row untouched") {
    const auto files = blob_test::suite_files("test_parsing", "n_");
    CHECK(files.size() >= 180);
    for (const auto& f : files) {
        INFO(f.name);
        CHECK(json::validate(f.bytes) != json::Validity::valid);
        for (auto transform : {&message_v1_to_v2, &message_v2_to_v1}) {
            std::string out = kSentinel, err;
            CHECK(transform(f.bytes, out, err) == Outcome::error);
            INFO(err);
            CHECK(is_invalid_json_error(err));
            CHECK(out == kSentinel);
        }
    }
}

TEST_CASE("JSONTestSuite n_ files as arguments strings become _raw") {
    for (const auto& f : blob_test::suite_files("test_parsing", "n_")) {
        // A row can only carry the text as a JSON string when it is UTF-8.
        if (!simdjson::validate_utf8(f.bytes.data(), f.bytes.size())) continue;
        INFO(f.name);
        const std::string q = as_json_string(f.bytes);
        const std::string row = R"({"tool_calls":[{"arguments":)" + q + "}]}";
        std::string out, err;
        REQUIRE(message_v1_to_v2(row, out, err) == Outcome::changed);
        CHECK(out == R"({"tool_calls":[{"arguments":{"_raw":)" + q + R"(}}],"schema_version":2})");
    }
}

TEST_CASE("JSONTestSuite i_ files never crash and give consistent results") {
    for (const auto& f : blob_test::suite_files("test_parsing", "i_")) {
        INFO(f.name);
        const json::Validity v = json::validate(f.bytes);
        for (auto transform : {&message_v1_to_v2, &message_v2_to_v1}) {
            std::string out = kSentinel, err;
            const Outcome o = transform(f.bytes, out, err);
            INFO(err);
            if (v != json::Validity::valid) CHECK(o == Outcome::error);
            if (o == Outcome::error) CHECK(out == kSentinel);
            if (o == Outcome::changed) CHECK(json::is_valid(out));
        }
        // Also as an arguments string (when the row can carry it) and as an untouched value.
        if (simdjson::validate_utf8(f.bytes.data(), f.bytes.size())) {
            std::string out, err;
            const std::string row = R"({"tool_calls":[{"arguments":)" + as_json_string(f.bytes) + "}]}";
            CHECK(message_v1_to_v2(row, out, err) == Outcome::changed);
            CHECK(json::is_valid(out));
        }
        if (v == json::Validity::valid) {
            std::string out, err;
            const std::string row = "{\"m\":" + f.bytes + "}";
            REQUIRE(message_v1_to_v2(row, out, err) == Outcome::changed);
            CHECK(out == "{\"m\":" + std::string(json::trim(f.bytes)) + ",\"schema_version\":2}");
        }
    }
}

TEST_CASE("JSONTestSuite test_transform files never crash and keep their bytes") {
    for (const auto& f : blob_test::suite_files("test_transform")) {
        INFO(f.name);
        for (auto transform : {&message_v1_to_v2, &message_v2_to_v1}) {
            std::string out = kSentinel, err;
            const Outcome o = transform(f.bytes, out, err);
            if (o == Outcome::error) CHECK(out == kSentinel);
            if (o == Outcome::changed) CHECK(json::is_valid(out));
        }
        if (json::validate(f.bytes) == json::Validity::valid) {
            // Parsers disagree on how to re-spell these; an untouched value is not re-spelt, and
            // duplicate keys nested in it are kept as they are.
            std::string out, err;
            const std::string row = "{\"m\":" + f.bytes + "}";
            const Outcome o = message_v1_to_v2(row, out, err);
            INFO(err);
            REQUIRE(o == Outcome::changed);
            CHECK(out == "{\"m\":" + std::string(json::trim(f.bytes)) + ",\"schema_version\":2}");
        }
    }
}
