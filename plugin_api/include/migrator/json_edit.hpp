// Header-only helpers for blob migrations that edit JSON documents stored in a column
// (C++17 or later). Needs simdjson >= 3.0: link the plugin with simdjson::simdjson.
//
// A whole row transform:
//
//   #include <migrator/json_edit.hpp>
//   namespace json = migrator::json;
//
//   json::Outcome v1_to_v2(std::string_view in, std::string& out, std::string& err) {
//       return json::rewrite_object(in, out, err, [](json::Object& root) {
//           root.rename("usr", "user");                 // keeps the value's bytes
//           root.remove("legacy_flag");
//           if (json::Member* c = root.find("content"); c && c->kind() == json::Kind::string)
//               c->wrap(R"([{"type":"text","text":)", "}]");
//           root.map_elements("tool_calls", [](json::Value& call) {
//               call.edit_object([](json::Object& o) { o.rename("name", "function"); });
//           });
//           root.set("schema_version", "2");            // appended, or moved to the end
//       });
//   }
//
// Contract of rewrite_object (and of every transform built on it):
//   * The input must be strict RFC 8259 JSON in valid UTF-8: no byte order mark, nothing after
//     the value, no leading zeros, no raw control characters in strings, etc. It is checked as
//     a whole, including values the edit never looks at. Valid JSON that simdjson's number or
//     string conversion refuses (1e400, integers beyond 64 bits, escaped lone surrogates such as
//     "\ud800") is accepted: see "How validation works" below.
//   * Nesting deeper than max_depth (1024) containers is a row error (never a crash: nothing
//     here recurses on the input's depth).
//   * The top level must be an object.
//   * Failures come back as Outcome::error with a message in `err` that starts with
//     "invalid JSON: ", "too deep: ", "top level is not an object" or describes the edit that
//     could not be made (duplicate keys, rename onto an existing key). `out` is not touched, so
//     the row is left byte for byte as it was.
//   * Outcome::unchanged when the result has exactly the input's bytes (`out` not touched);
//     Outcome::changed with the new document in `out` otherwise. Reusing one `out` string
//     across rows avoids allocations: its buffer is recycled.
//
// Fidelity:
//   * Values the edit does not rewrite are copied byte for byte (number spellings, string
//     escapes, whitespace inside them).
//   * Every container the edit opens (the top-level object, and anything passed through
//     edit_object / edit_array / map_elements) is written compactly: members in their
//     original order, no whitespace between them, each value trimmed of surrounding
//     whitespace.
//   * Keys are matched after unescaping, case-sensitively ("\u0063ontent" is "content"); a key
//     that survives keeps its original spelling. Keys that an edit adds or renames are written
//     with minimal escaping (only '"', '\\' and control characters are escaped).
//   * Where an edit would have to choose between duplicate keys (find, rename, set on a key
//     that occurs twice, or a rename onto a key that exists), it throws RowError and the row
//     becomes an error. require_unique_keys() makes any duplicate in an object an error.
//
// Thread safety: every function here is pure. State (the simdjson parser and reusable
// buffers) lives in one Editor per thread (thread_editor()); do not share an Editor, Object,
// Member or Value between threads, and do not keep them beyond the edit callback.
//
// How validation works. simdjson's On-Demand front end indexes the whole input (its stage 1
// checks UTF-8, finds every string and rejects raw control characters inside strings); the
// validator then walks every value of the document with an explicit stack (no recursion),
// so simdjson checks every comma, colon, bracket, key and the absence of trailing content.
// Scalars are checked on their raw token instead of being converted, because conversion
// would wrongly refuse valid JSON:
//   * numbers: the token must match RFC 8259's number grammar (is_number_token); converting
//     would refuse 1e400 and integers beyond 64 bits.
//   * strings: every escape must be one of \" \\ \/ \b \f \n \r \t \uXXXX (has_valid_escapes);
//     simdjson's unescaping refuses escaped lone surrogates, which RFC 8259's grammar allows.
//   * true / false / null: the token must be exactly that literal.
// Keys are checked like strings. The whole input is also checked with simdjson::validate_utf8
// and for a leading byte order mark.
#ifndef MIGRATOR_JSON_EDIT_HPP
#define MIGRATOR_JSON_EDIT_HPP

#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace migrator::json {

// Documents (and embedded JSON texts) nested deeper than this many arrays/objects are refused.
inline constexpr std::size_t max_depth = 1024;

enum class Outcome { changed, unchanged, error };
enum class Kind : unsigned char { object, array, string, number, boolean, null };
enum class Validity { valid, invalid, too_deep };
// Where Object::set puts its member: `end` appends it, moving an existing member to the end
// (keeping its key's spelling); `keep` replaces the value in place (appends when absent).
enum class Place { end, keep };

// Thrown by an edit that cannot be made without losing or guessing data; rewrite_object turns
// it into Outcome::error with what() as the message. Edits may throw it themselves.
class RowError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------------------------
// Text helpers (usable on their own).

// JSON whitespace (RFC 8259: space, tab, line feed, carriage return; nothing else).
constexpr bool is_ws(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

inline std::string_view trim(std::string_view s) noexcept {
    std::size_t b = 0, e = s.size();
    while (b < e && is_ws(s[b])) ++b;
    while (e > b && is_ws(s[e - 1])) --e;
    return s.substr(b, e - b);
}

// The kind of a valid, trimmed JSON value, from its first byte.
constexpr Kind kind_of(std::string_view json) noexcept {
    switch (json.empty() ? '\0' : json.front()) {
        case '{': return Kind::object;
        case '[': return Kind::array;
        case '"': return Kind::string;
        case 't':
        case 'f': return Kind::boolean;
        case 'n': return Kind::null;
        default: return Kind::number;
    }
}

constexpr const char* kind_name(Kind k) noexcept {
    switch (k) {
        case Kind::object: return "an object";
        case Kind::array: return "an array";
        case Kind::string: return "a string";
        case Kind::number: return "a number";
        case Kind::boolean: return "a boolean";
        case Kind::null: return "null";
    }
    return "?";
}

// Appends `text` (UTF-8) as a JSON string literal: '"', '\\' and control characters are
// escaped (\b \f \n \r \t, else \u00XX); everything else, non-ASCII included, is copied.
inline void append_quoted(std::string& out, std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t run = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(text.data() + run, i - run);
        run = i + 1;
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                out += "\\u00";
                out.push_back(hex[c >> 4]);
                out.push_back(hex[c & 15u]);
        }
    }
    out.append(text.data() + run, text.size() - run);
    out.push_back('"');
}

// RFC 8259 number grammar for one token: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// Hand-written on purpose: simdjson only checks a number while converting it, and conversion
// refuses valid numbers (1e400, integers beyond 64 bits) that must survive verbatim.
constexpr bool is_number_token(std::string_view s) noexcept {
    const std::size_t n = s.size();
    std::size_t i = 0;
    auto digit = [&](std::size_t k) { return k < n && s[k] >= '0' && s[k] <= '9'; };
    if (i < n && s[i] == '-') ++i;
    if (!digit(i)) return false;
    if (s[i] == '0') {
        ++i;
    } else {
        while (digit(i)) ++i;
    }
    if (i < n && s[i] == '.') {
        ++i;
        if (!digit(i)) return false;
        while (digit(i)) ++i;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
        if (!digit(i)) return false;
        while (digit(i)) ++i;
    }
    return i == n;
}

namespace detail {
constexpr int hex_digit(char c) noexcept {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}
// Reads 4 hex digits at p (the caller guarantees 4 readable bytes).
inline bool read_hex4(const char* p, unsigned& v) noexcept {
    v = 0;
    for (int k = 0; k < 4; ++k) {
        const int d = hex_digit(p[k]);
        if (d < 0) return false;
        v = (v << 4) | static_cast<unsigned>(d);
    }
    return true;
}
inline void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}
inline const char* find_backslash(const char* p, const char* end) noexcept {
    return static_cast<const char*>(std::memchr(p, '\\', static_cast<std::size_t>(end - p)));
}
}  // namespace detail

// True when every escape in `body` (a string token's text between its quotes) is one of
// RFC 8259's: \" \\ \/ \b \f \n \r \t \uXXXX. Hand-written on purpose: simdjson checks escapes
// only while unescaping, and its unescaping refuses escaped lone surrogates ("\ud800"), which
// the grammar allows and which must be kept as written.
inline bool has_valid_escapes(std::string_view body) noexcept {
    const char* p = body.data();
    const char* const end = p + body.size();
    while ((p = detail::find_backslash(p, end)) != nullptr) {
        if (end - p < 2) return false;
        switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p += 2;
                break;
            case 'u': {
                unsigned v = 0;
                if (end - p < 6 || !detail::read_hex4(p + 2, v)) return false;
                p += 6;
                break;
            }
            default: return false;
        }
    }
    return true;
}

// Decodes `body` (a string token's text between its quotes) into `out`. Surrogate pairs become
// one code point; an escaped surrogate without its partner is written in its 3-byte
// generalized UTF-8 form (so distinct JSON strings stay distinct) and sets lone_surrogate:
// such text is not valid UTF-8. Returns false on an invalid escape.
inline bool unescape(std::string_view body, std::string& out, bool& lone_surrogate) {
    out.clear();
    lone_surrogate = false;
    const char* p = body.data();
    const char* const end = p + body.size();
    while (p < end) {
        const char* bs = detail::find_backslash(p, end);
        if (bs == nullptr) {
            out.append(p, static_cast<std::size_t>(end - p));
            break;
        }
        out.append(p, static_cast<std::size_t>(bs - p));
        p = bs;
        if (end - p < 2) return false;
        switch (p[1]) {
            case '"': out.push_back('"'); break;
            case '\\': out.push_back('\\'); break;
            case '/': out.push_back('/'); break;
            case 'b': out.push_back('\b'); break;
            case 'f': out.push_back('\f'); break;
            case 'n': out.push_back('\n'); break;
            case 'r': out.push_back('\r'); break;
            case 't': out.push_back('\t'); break;
            case 'u': {
                unsigned u = 0;
                if (end - p < 6 || !detail::read_hex4(p + 2, u)) return false;
                p += 6;
                std::uint32_t cp = u;
                unsigned lo = 0;
                if (u >= 0xD800 && u <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
                    detail::read_hex4(p + 2, lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000u + ((u - 0xD800u) << 10) + (lo - 0xDC00u);
                    p += 6;
                } else if (u >= 0xD800 && u <= 0xDFFF) {
                    lone_surrogate = true;
                }
                detail::append_utf8(out, cp);
                continue;
            }
            default: return false;
        }
        p += 2;
    }
    return true;
}

class Editor;
class Object;
class Array;

// ---------------------------------------------------------------------------------------------
// A JSON value inside a document being edited: the input's bytes until an edit replaces them.
class Value {
public:
    Kind kind() const noexcept { return kind_; }
    // The value's current JSON text: the input's bytes (trimmed), or what an edit put there.
    std::string_view json() const noexcept { return owned_ ? std::string_view(own_) : orig_; }
    bool edited() const noexcept { return owned_; }

    // Replaces the value by `raw_json`, which must be one valid JSON value (not checked: pass
    // literals or text built with append_quoted / taken from validated input).
    void set_json(std::string_view raw_json);
    // Replaces the value by a JSON string holding `utf8` (escaped as needed). Throws RowError
    // when `utf8` is not valid UTF-8.
    void set_string(std::string_view utf8);
    // The value becomes before + json() + after, e.g. wrap("[", "]"). The result must be valid
    // JSON (not checked).
    void wrap(std::string_view before, std::string_view after);
    // When the value is a string: its decoded text into `out` and true, or false when it holds
    // an escaped lone surrogate (the text is not UTF-8). False when not a string.
    bool get_string(std::string& out) const;
    // When the value is a string whose decoded text is one complete, strict JSON text (valid
    // UTF-8, no lone surrogates, nesting at most depth_limit): replaces the value by that
    // text, trimmed of surrounding whitespace, and returns true. Otherwise changes nothing and
    // returns false (NaN, comments, trailing commas, trailing garbage, empty text: false).
    bool parse_embedded(std::size_t depth_limit = max_depth);
    // When the value is an object (array): runs fn(Object&) (fn(Array&)) on it and writes the
    // result back compactly; returns false, without calling fn, for any other kind.
    template <class F>
    bool edit_object(F&& fn);
    template <class F>
    bool edit_array(F&& fn);
    // When the value is an array: calls fn(Value&) for each element, then writes the array
    // back compactly. Returns false for any other kind.
    template <class F>
    bool map_elements(F&& fn);

protected:
    friend class Object;
    friend class Array;
    friend class Editor;
    void reset(Editor* ed, std::string_view orig) noexcept {
        ed_ = ed;
        orig_ = orig;
        kind_ = kind_of(orig);
        owned_ = false;
        removed_ = false;
        own_.clear();
    }
    Editor* ed_ = nullptr;
    std::string_view orig_;
    std::string own_;
    Kind kind_ = Kind::null;
    bool owned_ = false;
    bool removed_ = false;
};

// A member of an object being edited.
class Member : public Value {
public:
    // The key, unescaped (for a renamed or added member: the new key).
    std::string_view key() const noexcept { return (renamed_ || decoded_) ? std::string_view(key_) : raw_key_; }
    // The key's text between its quotes as written in the input; empty for an added member.
    std::string_view raw_key() const noexcept { return raw_key_; }
    bool removed() const noexcept { return removed_; }

private:
    friend class Object;
    void reset_member(Editor* ed) noexcept {
        reset(ed, std::string_view());
        raw_key_ = std::string_view();
        key_.clear();
        decoded_ = false;
        renamed_ = false;
    }
    std::string_view raw_key_;
    std::string key_;       // the unescaped raw_key_ (decoded_) or the new key (renamed_)
    bool decoded_ = false;  // raw_key_ has escapes; key_ holds it unescaped
    bool renamed_ = false;  // key_ is a new key, written with append_quoted
};

// An object being edited. Member pointers stay valid until the edit callback returns.
class Object {
public:
    // Number of members (removed ones excluded).
    std::size_t size() const noexcept;
    // Calls fn(Member&) for each member in order (removed ones skipped).
    template <class F>
    void for_each(F&& fn);
    // The member with this (unescaped) key, or nullptr. Throws RowError when the key occurs
    // more than once: the edit would have to pick one.
    Member* find(std::string_view key);
    bool contains(std::string_view key) { return find(key) != nullptr; }
    // Renames `from` to `to`, keeping the value and the position. Returns false when `from` is
    // absent. Throws RowError when `to` is already present (or either key is duplicated).
    bool rename(std::string_view from, std::string_view to);
    // Removes every member with this key; returns how many there were.
    std::size_t remove(std::string_view key);
    // Sets `key` to `raw_json` (one valid JSON value, not checked). Place::end: appended, or
    // moved to the end when present (the key keeps its spelling). Place::keep: replaced in
    // place, or appended when absent. Throws RowError when the key is duplicated.
    Member& set(std::string_view key, std::string_view raw_json, Place where = Place::end);
    // Throws RowError when two members have the same (unescaped) key.
    void require_unique_keys();
    // Shorthands for find(key) followed by the Value operation; false when the key is absent
    // or the value is of another kind.
    template <class F>
    bool edit_object(std::string_view key, F&& fn);
    template <class F>
    bool edit_array(std::string_view key, F&& fn);
    template <class F>
    bool map_elements(std::string_view key, F&& fn);
    // Appends the object, compactly, to `out`.
    void write(std::string& out) const;

private:
    friend class Editor;
    friend class Value;
    Member& push();
    void split(Editor* ed, simdjson::ondemand::object obj);
    void load(Editor* ed, std::string_view json);
    Editor* ed_ = nullptr;
    std::deque<Member> m_;  // a deque: set() appends without moving the other members
    std::size_t n_ = 0;     // slots in use; the rest are kept for their buffers
    std::string backing_;   // padded copy of the parsed text, which the members point into
};

// An array being edited. Element references stay valid until the edit callback returns.
class Array {
public:
    // Number of element slots, removed ones included (indexes never shift).
    std::size_t size() const noexcept { return n_; }
    Value& operator[](std::size_t i) { return e_[i]; }
    bool removed(std::size_t i) const { return e_[i].removed_; }
    void remove(std::size_t i) { e_[i].removed_ = true; }
    // Appends `raw_json` (one valid JSON value, not checked).
    Value& append(std::string_view raw_json);
    // Appends the array, compactly, to `out`.
    void write(std::string& out) const;

private:
    friend class Editor;
    friend class Value;
    Value& push();
    void load(Editor* ed, std::string_view json);
    Editor* ed_ = nullptr;
    std::deque<Value> e_;
    std::size_t n_ = 0;
    std::string backing_;
};

namespace detail {
// One open container of the validation walk.
struct Frame {
    simdjson::ondemand::object_iterator obj_it, obj_end;
    simdjson::ondemand::array_iterator arr_it, arr_end;
    bool is_object = false;
    bool started = false;
};

// Given the first byte of a key's text (after its opening quote) and the first byte of its
// value, returns the key's closing quote: simdjson has already checked that only whitespace,
// ':' and whitespace separate them. nullptr if that does not hold.
inline const char* key_end(const char* key_begin, const char* value_begin) noexcept {
    const char* p = value_begin;
    while (p > key_begin && is_ws(p[-1])) --p;
    if (p <= key_begin || p[-1] != ':') return nullptr;
    --p;
    while (p > key_begin && is_ws(p[-1])) --p;
    if (p <= key_begin || p[-1] != '"') return nullptr;
    return p - 1;
}

inline bool check_scalar(simdjson::ondemand::json_type t, std::string_view tok) noexcept {
    using simdjson::ondemand::json_type;
    switch (t) {
        case json_type::string:
            return tok.size() >= 2 && tok.back() == '"' && has_valid_escapes(tok.substr(1, tok.size() - 2));
        case json_type::number: return is_number_token(tok);
        case json_type::boolean: return tok == "true" || tok == "false";
        case json_type::null: return tok == "null";
        default: return false;
    }
}

// Copies `text` into `buf` followed by simdjson's padding (zeros), reusing buf's capacity.
inline simdjson::padded_string_view pad_into(std::string& buf, std::string_view text) {
    buf.resize(text.size() + simdjson::SIMDJSON_PADDING);
    if (!text.empty()) std::memcpy(buf.data(), text.data(), text.size());
    std::memset(buf.data() + text.size(), 0, simdjson::SIMDJSON_PADDING);
    return simdjson::padded_string_view(buf.data(), text.size(), buf.size());
}

inline std::string quote_for_message(std::string_view s) {
    constexpr std::size_t limit = 120;
    std::string out;
    if (s.size() > limit) {
        std::size_t n = limit;
        while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0u) == 0x80u) --n;
        append_quoted(out, s.substr(0, n));
        out.insert(out.size() - 1, "...");
    } else {
        append_quoted(out, s);
    }
    return out;
}

[[noreturn]] inline void internal_error(simdjson::error_code e) {
    throw RowError(std::string("internal error re-reading validated JSON: ") + simdjson::error_message(e));
}
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Per-thread state: the simdjson parser and reusable buffers. Use thread_editor().
class Editor {
public:
    Editor() = default;
    Editor(const Editor&) = delete;
    Editor& operator=(const Editor&) = delete;

    // Validates `in`, runs edit(Object&) on its top-level object and writes the result. See
    // the contract at the top of this file.
    template <class F>
    Outcome rewrite_object(std::string_view in, std::string& out, std::string& err, F&& edit);

    // Checks that `text` is one strict RFC 8259 JSON text in valid UTF-8 nested at most
    // depth_limit deep. On failure, *why (when given) says why. May be called from an edit.
    Validity validate(std::string_view text, std::string* why = nullptr, std::size_t depth_limit = max_depth) {
        const char* reason = nullptr;
        Kind root{};
        simdjson::ondemand::document doc;
        const Validity v = check(text_, text, doc, depth_limit, reason, root);
        if (v != Validity::valid && why != nullptr) describe(v, reason, depth_limit, *why);
        return v;
    }

private:
    friend class Value;
    friend class Object;
    friend class Array;

    static void describe(Validity v, const char* reason, std::size_t depth_limit, std::string& err) {
        if (v == Validity::too_deep) {
            err = "too deep: nesting exceeds " + std::to_string(depth_limit) + " levels";
        } else {
            err = "invalid JSON: ";
            err += reason;
        }
    }

    // Copies `text` into `buf`, indexes it into `doc` and walks all of it.
    Validity check(std::string& buf, std::string_view text, simdjson::ondemand::document& doc,
                   std::size_t depth_limit, const char*& reason, Kind& root) {
        if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF &&
            static_cast<unsigned char>(text[1]) == 0xBB && static_cast<unsigned char>(text[2]) == 0xBF) {
            reason = "byte order mark before the value";
            return Validity::invalid;
        }
        if (!simdjson::validate_utf8(text.data(), text.size())) {
            reason = "not valid UTF-8";
            return Validity::invalid;
        }
        const simdjson::padded_string_view psv = detail::pad_into(buf, text);
        if (const auto e = parser_.iterate(psv).get(doc); e != simdjson::SUCCESS) {
            reason = simdjson::error_message(e);
            return Validity::invalid;
        }
        return walk(doc, std::string_view(buf.data(), text.size()), depth_limit, reason, root);
    }

    Validity walk(simdjson::ondemand::document& doc, std::string_view text, std::size_t depth_limit,
                  const char*& reason, Kind& root);

    Object& lease_object() {
        if (objects_used_ == objects_.size()) objects_.push_back(std::make_unique<Object>());
        return *objects_[objects_used_++];
    }
    Array& lease_array() {
        if (arrays_used_ == arrays_.size()) arrays_.push_back(std::make_unique<Array>());
        return *arrays_[arrays_used_++];
    }
    struct ObjectLease {
        Editor& ed;
        Object& obj;
        explicit ObjectLease(Editor& e) : ed(e), obj(e.lease_object()) {}
        ~ObjectLease() { --ed.objects_used_; }
        ObjectLease(const ObjectLease&) = delete;
        ObjectLease& operator=(const ObjectLease&) = delete;
    };
    struct ArrayLease {
        Editor& ed;
        Array& arr;
        explicit ArrayLease(Editor& e) : ed(e), arr(e.lease_array()) {}
        ~ArrayLease() { --ed.arrays_used_; }
        ArrayLease(const ArrayLease&) = delete;
        ArrayLease& operator=(const ArrayLease&) = delete;
    };

    simdjson::ondemand::parser parser_;
    simdjson::ondemand::document doc_;
    std::string main_;     // padded copy of the row being rewritten
    std::string text_;     // padded copy for validate()
    std::string decoded_;  // unescaped string for parse_embedded / get_string
    std::string scratch_;  // the output being built
    std::string tmp_;      // for values rewritten from their own text
    std::vector<detail::Frame> stack_;
    std::vector<std::pair<std::string_view, std::string_view>> keys_;  // require_unique_keys
    std::vector<std::unique_ptr<Object>> objects_;
    std::vector<std::unique_ptr<Array>> arrays_;
    std::size_t objects_used_ = 0;
    std::size_t arrays_used_ = 0;
    bool busy_ = false;
};

// The calling thread's Editor.
inline Editor& thread_editor() {
    thread_local Editor editor;
    return editor;
}

// rewrite_object on the calling thread's Editor.
template <class F>
Outcome rewrite_object(std::string_view in, std::string& out, std::string& err, F&& edit) {
    return thread_editor().rewrite_object(in, out, err, std::forward<F>(edit));
}

// Editor::validate on the calling thread's Editor.
inline Validity validate(std::string_view text, std::string* why = nullptr, std::size_t depth_limit = max_depth) {
    return thread_editor().validate(text, why, depth_limit);
}
inline bool is_valid(std::string_view text, std::size_t depth_limit = max_depth) {
    return validate(text, nullptr, depth_limit) == Validity::valid;
}

// ---------------------------------------------------------------------------------------------
// Implementation.

inline Validity Editor::walk(simdjson::ondemand::document& doc, std::string_view text,
                             std::size_t depth_limit, const char*& reason, Kind& root) {
    using simdjson::ondemand::json_type;
    namespace od = simdjson::ondemand;
    stack_.clear();
    auto fail = [&](const char* why) {
        reason = why;
        return Validity::invalid;
    };
    auto fail_code = [&](simdjson::error_code e) {
        reason = simdjson::error_message(e);
        return Validity::invalid;
    };
    // Opens container `v` (an od::value or the document) of type t.
    auto open = [&](auto& v, json_type t) -> Validity {
        if (stack_.size() >= depth_limit) return Validity::too_deep;
        detail::Frame f;
        if (t == json_type::object) {
            od::object o;
            if (auto e = v.get_object().get(o)) return fail_code(e);
            if (auto e = o.begin().get(f.obj_it)) return fail_code(e);
            if (auto e = o.end().get(f.obj_end)) return fail_code(e);
            f.is_object = true;
        } else {
            od::array a;
            if (auto e = v.get_array().get(a)) return fail_code(e);
            if (auto e = a.begin().get(f.arr_it)) return fail_code(e);
            if (auto e = a.end().get(f.arr_end)) return fail_code(e);
        }
        stack_.push_back(f);
        return Validity::valid;
    };

    json_type t{};
    if (auto e = doc.type().get(t)) return fail_code(e);
    switch (t) {
        case json_type::object: root = Kind::object; break;
        case json_type::array: root = Kind::array; break;
        case json_type::string: root = Kind::string; break;
        case json_type::number: root = Kind::number; break;
        case json_type::boolean: root = Kind::boolean; break;
        case json_type::null: root = Kind::null; break;
    }
    if (t != json_type::object && t != json_type::array) {
        // A scalar document: its one token must be the whole (trimmed) text.
        std::string_view tok;
        if (auto e = doc.raw_json_token().get(tok)) return fail_code(e);
        const std::string_view whole = trim(text);
        tok = trim(tok);
        if (tok.data() != whole.data() || tok.size() != whole.size()) return fail("content after the value");
        if (!detail::check_scalar(t, tok)) return fail("malformed scalar");
        return Validity::valid;
    }
    if (Validity v = open(doc, t); v != Validity::valid) return v;

    while (!stack_.empty()) {
        detail::Frame& f = stack_.back();
        od::value v;
        if (f.is_object) {
            if (f.started) ++f.obj_it;
            f.started = true;
            if (!(f.obj_it != f.obj_end)) {
                stack_.pop_back();
                continue;
            }
            od::field fld;
            if (auto e = (*f.obj_it).get(fld)) return fail_code(e);
            const char* kb = fld.key().raw();
            v = std::move(fld).value();
            const char* ke = detail::key_end(kb, v.raw_json_token().data());
            if (ke == nullptr) return fail("malformed object member");
            if (!has_valid_escapes(std::string_view(kb, static_cast<std::size_t>(ke - kb))))
                return fail("invalid escape in a key");
        } else {
            if (f.started) ++f.arr_it;
            f.started = true;
            if (!(f.arr_it != f.arr_end)) {
                stack_.pop_back();
                continue;
            }
            if (auto e = (*f.arr_it).get(v)) return fail_code(e);
        }
        // `f` may dangle from here on (open() pushes).
        if (auto e = v.type().get(t)) return fail_code(e);
        if (t == json_type::object || t == json_type::array) {
            if (Validity r = open(v, t); r != Validity::valid) return r;
        } else if (!detail::check_scalar(t, trim(v.raw_json_token()))) {
            return fail(t == json_type::number   ? "malformed number"
                        : t == json_type::string ? "invalid escape in a string"
                                                 : "malformed literal");
        }
    }
    // Anything left after the top-level container is trailing content.
    const char* where = nullptr;
    if (doc.current_location().get(where) != simdjson::OUT_OF_BOUNDS) return fail("content after the value");
    return Validity::valid;
}

template <class F>
Outcome Editor::rewrite_object(std::string_view in, std::string& out, std::string& err, F&& edit) {
    if (busy_) throw std::logic_error("migrator::json::rewrite_object called from inside an edit");
    struct Busy {
        bool& b;
        explicit Busy(bool& flag) : b(flag) { b = true; }
        ~Busy() { b = false; }
    } busy(busy_);

    const char* reason = nullptr;
    Kind root{};
    const Validity v = check(main_, in, doc_, max_depth, reason, root);
    if (v != Validity::valid) {
        describe(v, reason, max_depth, err);
        return Outcome::error;
    }
    if (root != Kind::object) {
        err = "top level is not an object (it is ";
        err += kind_name(root);
        err += ')';
        return Outcome::error;
    }
    ObjectLease lease(*this);
    Object& obj = lease.obj;
    try {
        doc_.rewind();
        simdjson::ondemand::object top;
        if (auto e = doc_.get_object().get(top)) detail::internal_error(e);
        obj.split(this, top);
        std::forward<F>(edit)(obj);
    } catch (const RowError& e) {
        err = e.what();
        return Outcome::error;
    }
    scratch_.clear();
    obj.write(scratch_);
    if (std::string_view(scratch_) == in) return Outcome::unchanged;
    out.swap(scratch_);
    return Outcome::changed;
}

// --- Value

inline void Value::set_json(std::string_view raw_json) {
    std::string& t = ed_->tmp_;  // raw_json may point into own_
    t.assign(raw_json.data(), raw_json.size());
    own_.swap(t);
    owned_ = true;
    kind_ = kind_of(own_);
}

inline void Value::set_string(std::string_view utf8) {
    if (!simdjson::validate_utf8(utf8.data(), utf8.size())) throw RowError("set_string: text is not valid UTF-8");
    std::string& t = ed_->tmp_;
    t.clear();
    append_quoted(t, utf8);
    own_.swap(t);
    owned_ = true;
    kind_ = Kind::string;
}

inline void Value::wrap(std::string_view before, std::string_view after) {
    std::string& t = ed_->tmp_;
    const std::string_view cur = json();
    t.clear();
    t.reserve(before.size() + cur.size() + after.size());
    t.append(before).append(cur).append(after);
    own_.swap(t);
    owned_ = true;
    kind_ = kind_of(own_);
}

inline bool Value::get_string(std::string& out) const {
    if (kind_ != Kind::string) return false;
    const std::string_view j = json();
    bool lone = false;
    return unescape(j.substr(1, j.size() - 2), out, lone) && !lone;
}

inline bool Value::parse_embedded(std::size_t depth_limit) {
    if (!get_string(ed_->decoded_)) return false;
    if (ed_->validate(ed_->decoded_, nullptr, depth_limit) != Validity::valid) return false;
    set_json(trim(ed_->decoded_));
    return true;
}

template <class F>
bool Value::edit_object(F&& fn) {
    if (kind_ != Kind::object) return false;
    Editor::ObjectLease lease(*ed_);
    lease.obj.load(ed_, json());
    std::forward<F>(fn)(lease.obj);
    std::string& t = ed_->tmp_;
    t.clear();
    lease.obj.write(t);
    own_.swap(t);
    owned_ = true;
    return true;
}

template <class F>
bool Value::edit_array(F&& fn) {
    if (kind_ != Kind::array) return false;
    Editor::ArrayLease lease(*ed_);
    lease.arr.load(ed_, json());
    std::forward<F>(fn)(lease.arr);
    std::string& t = ed_->tmp_;
    t.clear();
    lease.arr.write(t);
    own_.swap(t);
    owned_ = true;
    return true;
}

template <class F>
bool Value::map_elements(F&& fn) {
    return edit_array([&](Array& a) {
        for (std::size_t i = 0; i < a.size(); ++i)
            if (!a.removed(i)) fn(a[i]);
    });
}

// --- Object

inline std::size_t Object::size() const noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; i < n_; ++i) n += m_[i].removed_ ? 0 : 1;
    return n;
}

template <class F>
void Object::for_each(F&& fn) {
    for (std::size_t i = 0; i < n_; ++i)
        if (!m_[i].removed_) fn(m_[i]);
}

inline Member* Object::find(std::string_view key) {
    Member* hit = nullptr;
    for (std::size_t i = 0; i < n_; ++i) {
        Member& m = m_[i];
        if (m.removed_ || m.key() != key) continue;
        if (hit != nullptr) throw RowError("duplicate key " + detail::quote_for_message(key));
        hit = &m;
    }
    return hit;
}

inline bool Object::rename(std::string_view from, std::string_view to) {
    Member* m = find(from);
    if (m == nullptr) return false;
    if (from == to) return true;
    if (find(to) != nullptr)
        throw RowError("cannot rename " + detail::quote_for_message(from) + " to " + detail::quote_for_message(to) +
                       ": both keys are present");
    if (!simdjson::validate_utf8(to.data(), to.size())) throw RowError("rename: new key is not valid UTF-8");
    m->key_.assign(to.data(), to.size());
    m->renamed_ = true;
    m->decoded_ = false;
    return true;
}

inline std::size_t Object::remove(std::string_view key) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < n_; ++i) {
        Member& m = m_[i];
        if (!m.removed_ && m.key() == key) {
            m.removed_ = true;
            ++n;
        }
    }
    return n;
}

inline Member& Object::push() {
    if (n_ == m_.size()) m_.emplace_back();
    Member& m = m_[n_++];
    m.reset_member(ed_);
    return m;
}

inline Member& Object::set(std::string_view key, std::string_view raw_json, Place where) {
    Member* old = find(key);
    if (old != nullptr && where == Place::keep) {
        old->set_json(raw_json);
        return *old;
    }
    if (old == nullptr && !simdjson::validate_utf8(key.data(), key.size()))
        throw RowError("set: key is not valid UTF-8");
    Member& m = push();  // a deque: `old` stays valid
    if (old != nullptr) {
        m.raw_key_ = old->raw_key_;
        m.key_ = old->key_;
        m.decoded_ = old->decoded_;
        m.renamed_ = old->renamed_;
        old->removed_ = true;
    } else {
        m.key_.assign(key.data(), key.size());
        m.renamed_ = true;
    }
    m.set_json(raw_json);
    return m;
}

inline void Object::require_unique_keys() {
    auto dup = [](const Member& m) {
        return RowError("duplicate key " +
                        detail::quote_for_message(m.renamed_ ? std::string_view(m.key_) : m.raw_key_));
    };
    if (n_ <= 16) {
        for (std::size_t i = 0; i < n_; ++i) {
            if (m_[i].removed_) continue;
            for (std::size_t j = i + 1; j < n_; ++j)
                if (!m_[j].removed_ && m_[i].key() == m_[j].key()) throw dup(m_[j]);
        }
        return;
    }
    auto& keys = ed_->keys_;
    keys.clear();
    for (std::size_t i = 0; i < n_; ++i)
        if (!m_[i].removed_) keys.emplace_back(m_[i].key(), m_[i].renamed_ ? std::string_view(m_[i].key_) : m_[i].raw_key_);
    std::sort(keys.begin(), keys.end());
    for (std::size_t i = 1; i < keys.size(); ++i)
        if (keys[i].first == keys[i - 1].first)
            throw RowError("duplicate key " + detail::quote_for_message(keys[i].second));
}

template <class F>
bool Object::edit_object(std::string_view key, F&& fn) {
    Member* m = find(key);
    return m != nullptr && m->edit_object(std::forward<F>(fn));
}

template <class F>
bool Object::edit_array(std::string_view key, F&& fn) {
    Member* m = find(key);
    return m != nullptr && m->edit_array(std::forward<F>(fn));
}

template <class F>
bool Object::map_elements(std::string_view key, F&& fn) {
    Member* m = find(key);
    return m != nullptr && m->map_elements(std::forward<F>(fn));
}

inline void Object::write(std::string& out) const {
    out.push_back('{');
    bool first = true;
    for (std::size_t i = 0; i < n_; ++i) {
        const Member& m = m_[i];
        if (m.removed_) continue;
        if (!first) out.push_back(',');
        first = false;
        if (m.renamed_) {
            append_quoted(out, m.key_);
        } else {
            out.push_back('"');
            out.append(m.raw_key_);
            out.push_back('"');
        }
        out.push_back(':');
        out.append(m.json());
    }
    out.push_back('}');
}

// Splits a validated object into members that point into the text it was parsed from.
inline void Object::split(Editor* ed, simdjson::ondemand::object obj) {
    namespace od = simdjson::ondemand;
    ed_ = ed;
    n_ = 0;
    for (auto field_result : obj) {
        od::field fld;
        if (auto e = std::move(field_result).get(fld)) detail::internal_error(e);
        const char* kb = fld.key().raw();
        od::value v = std::move(fld).value();
        const std::string_view tok = v.raw_json_token();
        const char* ke = detail::key_end(kb, tok.data());
        if (ke == nullptr) detail::internal_error(simdjson::TAPE_ERROR);
        std::string_view raw;
        od::json_type t{};
        if (auto e = v.type().get(t)) detail::internal_error(e);
        if (t == od::json_type::object) {
            od::object o;
            if (auto e = v.get_object().get(o)) detail::internal_error(e);
            if (auto e = o.raw_json().get(raw)) detail::internal_error(e);
        } else if (t == od::json_type::array) {
            od::array a;
            if (auto e = v.get_array().get(a)) detail::internal_error(e);
            if (auto e = a.raw_json().get(raw)) detail::internal_error(e);
        } else {
            raw = tok;
        }
        Member& m = push();
        m.reset(ed, trim(raw));
        m.raw_key_ = std::string_view(kb, static_cast<std::size_t>(ke - kb));
        if (std::memchr(m.raw_key_.data(), '\\', m.raw_key_.size()) != nullptr) {
            bool lone = false;
            unescape(m.raw_key_, m.key_, lone);
            m.decoded_ = true;
        }
    }
}

inline void Object::load(Editor* ed, std::string_view json) {
    const simdjson::padded_string_view psv = detail::pad_into(backing_, json);
    simdjson::ondemand::document doc;
    if (auto e = ed->parser_.iterate(psv).get(doc)) detail::internal_error(e);
    simdjson::ondemand::object obj;
    if (auto e = doc.get_object().get(obj)) detail::internal_error(e);
    split(ed, obj);
}

// --- Array

inline Value& Array::push() {
    if (n_ == e_.size()) e_.emplace_back();
    Value& v = e_[n_++];
    v.reset(ed_, std::string_view());
    return v;
}

inline Value& Array::append(std::string_view raw_json) {
    Value& v = push();
    v.set_json(raw_json);
    return v;
}

inline void Array::write(std::string& out) const {
    out.push_back('[');
    bool first = true;
    for (std::size_t i = 0; i < n_; ++i) {
        const Value& v = e_[i];
        if (v.removed_) continue;
        if (!first) out.push_back(',');
        first = false;
        out.append(v.json());
    }
    out.push_back(']');
}

inline void Array::load(Editor* ed, std::string_view json) {
    namespace od = simdjson::ondemand;
    ed_ = ed;
    n_ = 0;
    const simdjson::padded_string_view psv = detail::pad_into(backing_, json);
    od::document doc;
    if (auto e = ed->parser_.iterate(psv).get(doc)) detail::internal_error(e);
    od::array arr;
    if (auto e = doc.get_array().get(arr)) detail::internal_error(e);
    for (auto element : arr) {
        od::value v;
        if (auto e = std::move(element).get(v)) detail::internal_error(e);
        od::json_type t{};
        if (auto e = v.type().get(t)) detail::internal_error(e);
        std::string_view raw;
        if (t == od::json_type::object) {
            od::object o;
            if (auto e = v.get_object().get(o)) detail::internal_error(e);
            if (auto e = o.raw_json().get(raw)) detail::internal_error(e);
        } else if (t == od::json_type::array) {
            od::array a;
            if (auto e = v.get_array().get(a)) detail::internal_error(e);
            if (auto e = a.raw_json().get(raw)) detail::internal_error(e);
        } else {
            raw = v.raw_json_token();
        }
        push().reset(ed, trim(raw));
    }
}

}  // namespace migrator::json

#endif  // MIGRATOR_JSON_EDIT_HPP
