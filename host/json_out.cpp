#include "json_out.h"

#include <cmath>

#include <fmt/format.h>

namespace migrator {

std::string utf8_sanitize(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        bool ok = len > 0 && i + len <= s.size();
        for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
        if (ok && len > 1) {
            // Reject overlong forms, surrogates and code points above U+10FFFF.
            unsigned cp = c & (0x7Fu >> len);
            for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
            static constexpr unsigned kMin[] = {0, 0, 0x80, 0x800, 0x10000};
            ok = cp >= kMin[len] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
        }
        if (ok) {
            out.append(s.substr(i, len));
            i += len;
        } else if (len > 1 && i + len > s.size() && [&] {
                       for (size_t k = i + 1; k < s.size(); ++k)
                           if ((static_cast<unsigned char>(s[k]) & 0xC0) != 0x80) return false;
                       return true;
                   }()) {
            break;  // a character cut in half at the end (a truncated buffer): drop it
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    return out;
}

void append_json_string(std::string& out, std::string_view raw) {
    const std::string s = utf8_sanitize(raw);
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
