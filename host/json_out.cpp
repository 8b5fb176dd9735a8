#include "json_out.h"

#include <cmath>

#include <fmt/format.h>

namespace migrator {

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) out += fmt::format("\\u{:04x}", c);
                else out += static_cast<char>(c);
        }
    }
    out += '"';
}

void JsonOut::comma() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!first_.empty()) {
        if (!first_.back()) out_ += ',';
        first_.back() = false;
    }
}

JsonOut& JsonOut::begin_object() {
    comma();
    out_ += '{';
    first_.push_back(true);
    return *this;
}
JsonOut& JsonOut::end_object() {
    out_ += '}';
    first_.pop_back();
    return *this;
}
JsonOut& JsonOut::begin_array() {
    comma();
    out_ += '[';
    first_.push_back(true);
    return *this;
}
JsonOut& JsonOut::end_array() {
    out_ += ']';
    first_.pop_back();
    return *this;
}
JsonOut& JsonOut::key(std::string_view k) {
    comma();
    append_json_string(out_, k);
    out_ += ':';
    after_key_ = true;
    return *this;
}
JsonOut& JsonOut::value(std::string_view v) {
    comma();
    append_json_string(out_, v);
    return *this;
}
JsonOut& JsonOut::value(std::int64_t v) {
    comma();
    out_ += std::to_string(v);
    return *this;
}
JsonOut& JsonOut::value(double v) {
    comma();
    out_ += std::isfinite(v) ? fmt::format("{}", v) : std::string("null");
    return *this;
}
JsonOut& JsonOut::value(bool v) {
    comma();
    out_ += v ? "true" : "false";
    return *this;
}
JsonOut& JsonOut::null() {
    comma();
    out_ += "null";
    return *this;
}

}  // namespace migrator
