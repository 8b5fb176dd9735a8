// Minimal JSON *writer* for --json output. (Output only: all JSON parsing in the project goes
// through simdjson.) Escapes per RFC 8259; non-ASCII UTF-8 passes through unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace migrator {

class JsonOut {
public:
    JsonOut& begin_object();
    JsonOut& end_object();
    JsonOut& begin_array();
    JsonOut& end_array();
    JsonOut& key(std::string_view k);
    JsonOut& value(std::string_view v);
    JsonOut& value(const char* v) { return value(std::string_view(v)); }
    JsonOut& value(const std::string& v) { return value(std::string_view(v)); }
    JsonOut& value(std::int64_t v);
    JsonOut& value(int v) { return value(static_cast<std::int64_t>(v)); }
    JsonOut& value(double v);
    JsonOut& value(bool v);
    JsonOut& null();
    // key + value in one call
    template <class T>
    JsonOut& field(std::string_view k, const T& v) {
        key(k);
        return value(v);
    }
    const std::string& str() const { return out_; }

private:
    void comma();
    std::string out_;
    std::vector<bool> first_;  // per open container: no member written yet
    bool after_key_ = false;
};

void append_json_string(std::string& out, std::string_view s);

// `s` with every invalid or truncated UTF-8 sequence replaced by U+FFFD: messages that come
// from plugins are untrusted bytes and must not break a terminal or the JSON output.
std::string utf8_sanitize(std::string_view s);

}  // namespace migrator
