// Encoders for the key grammar documented in keys.hpp:
//
//   owner      := kind '/' id
//   be64(n)    := 8 bytes, n big-endian
//   journal    := owner NUL be64(version)
//   owned      := owner NUL suffix
//
// Kinds never contain '/' and ids never contain NUL, so the first '/' ends
// the kind and the first NUL after it ends the id, whatever bytes follow.

#include "storage/keys.hpp"

#include "storage/store.hpp"

#include <nlohmann/json.hpp>

namespace ordo::storage {

const char* to_string(cf family) noexcept {
  switch (family) {
    case cf::actors: return "actors";
    case cf::journal: return "journal";
    case cf::outbox: return "outbox";
    case cf::timers: return "timers";
    case cf::dedupe: return "dedupe";
    case cf::aux: return "aux";
  }
  return "unknown";
}

} // namespace ordo::storage

namespace ordo::storage::keys {

namespace {

constexpr char owner_sep = '/';
constexpr char suffix_sep = '\0';

void append_be64(std::string& out, std::uint64_t n) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  }
}

} // namespace

std::string owner(std::string_view kind, std::string_view id) {
  std::string out;
  out.reserve(kind.size() + 1 + id.size());
  out.append(kind);
  out.push_back(owner_sep);
  out.append(id);
  return out;
}

std::string journal(std::string_view kind, std::string_view id,
                    std::uint64_t version) {
  std::string out;
  out.reserve(kind.size() + id.size() + 2 + 8);
  out.append(kind);
  out.push_back(owner_sep);
  out.append(id);
  out.push_back(suffix_sep);
  append_be64(out, version);
  return out;
}

std::string owner_prefix(std::string_view kind, std::string_view id) {
  return owned(kind, id, {});
}

std::string owned(std::string_view kind, std::string_view id,
                  std::string_view suffix) {
  std::string out;
  out.reserve(kind.size() + id.size() + 2 + suffix.size());
  out.append(kind);
  out.push_back(owner_sep);
  out.append(id);
  out.push_back(suffix_sep);
  out.append(suffix);
  return out;
}

bool split_owned(std::string_view key, std::string* kind, std::string* id,
                 std::string* suffix) {
  auto slash = key.find(owner_sep);
  if (slash == std::string_view::npos || slash == 0) {
    return false;
  }
  auto nul = key.find(suffix_sep, slash + 1);
  auto id_end = nul == std::string_view::npos ? key.size() : nul;
  if (id_end == slash + 1) {
    return false;
  }
  if (key.substr(0, slash).find(suffix_sep) != std::string_view::npos) {
    return false;
  }
  if (kind != nullptr) {
    kind->assign(key.substr(0, slash));
  }
  if (id != nullptr) {
    id->assign(key.substr(slash + 1, id_end - slash - 1));
  }
  if (suffix != nullptr) {
    if (nul == std::string_view::npos) {
      suffix->clear();
    } else {
      suffix->assign(key.substr(nul + 1));
    }
  }
  return true;
}

std::string user_orders(std::string_view user_id) {
  return owned("user_orders", user_id, "");
}

std::string user_order(std::string_view user_id, std::int64_t created_at,
                       std::string_view order_id) {
  auto key = user_orders(user_id);
  append_be64(key, ~static_cast<std::uint64_t>(created_at));
  key.append(order_id);
  return key;
}

std::string be64(std::uint64_t n) {
  std::string out;
  out.reserve(8);
  append_be64(out, n);
  return out;
}

std::optional<std::uint64_t> from_be64(std::string_view s) {
  if (s.size() != 8) {
    return std::nullopt;
  }
  std::uint64_t n = 0;
  for (char c : s) {
    n = (n << 8) | static_cast<unsigned char>(c);
  }
  return n;
}

} // namespace ordo::storage::keys

namespace ordo::storage::codec {

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char b : bytes) {
    auto c = static_cast<unsigned char>(b);
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0xf]);
  }
  return out;
}

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::optional<std::string> unhex(std::string_view text) {
  if (text.size() % 2 != 0) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int hi = hex_digit(text[i]);
    int lo = hex_digit(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::string pack(const nlohmann::json& j) {
  std::string out;
  nlohmann::json::to_msgpack(j, nlohmann::detail::output_adapter<char>(out));
  return out;
}

nlohmann::json unpack(std::string_view bytes) {
  return nlohmann::json::from_msgpack(bytes.begin(), bytes.end(),
                                      /*strict=*/true,
                                      /*allow_exceptions=*/false);
}

void writer::be(std::uint64_t n, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out_.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  }
}

void writer::header(std::uint32_t n, unsigned char fix, unsigned char b16,
                    unsigned char b32) {
  if (n < 16) {
    out_.push_back(static_cast<char>(fix | n));
  } else if (n <= 0xffff) {
    out_.push_back(static_cast<char>(b16));
    be(n, 2);
  } else {
    out_.push_back(static_cast<char>(b32));
    be(n, 4);
  }
}

writer& writer::map(std::uint32_t n) {
  header(n, 0x80, 0xde, 0xdf);
  return *this;
}

writer& writer::array(std::uint32_t n) {
  header(n, 0x90, 0xdc, 0xdd);
  return *this;
}

writer& writer::str(std::string_view s) {
  auto n = s.size();
  if (n < 32) {
    out_.push_back(static_cast<char>(0xa0 | n));
  } else if (n <= 0xff) {
    out_.push_back(static_cast<char>(0xd9));
    be(n, 1);
  } else if (n <= 0xffff) {
    out_.push_back(static_cast<char>(0xda));
    be(n, 2);
  } else {
    out_.push_back(static_cast<char>(0xdb));
    be(n, 4);
  }
  out_.append(s);
  return *this;
}

writer& writer::uinteger(std::uint64_t n) {
  if (n < 128) {
    out_.push_back(static_cast<char>(n));
  } else if (n <= 0xff) {
    out_.push_back(static_cast<char>(0xcc));
    be(n, 1);
  } else if (n <= 0xffff) {
    out_.push_back(static_cast<char>(0xcd));
    be(n, 2);
  } else if (n <= 0xffffffff) {
    out_.push_back(static_cast<char>(0xce));
    be(n, 4);
  } else {
    out_.push_back(static_cast<char>(0xcf));
    be(n, 8);
  }
  return *this;
}

writer& writer::integer(std::int64_t n) {
  if (n >= 0) {
    return uinteger(static_cast<std::uint64_t>(n));
  }
  auto u = static_cast<std::uint64_t>(n);
  if (n >= -32) {
    out_.push_back(static_cast<char>(u & 0xff));
  } else if (n >= INT8_MIN) {
    out_.push_back(static_cast<char>(0xd0));
    be(u, 1);
  } else if (n >= INT16_MIN) {
    out_.push_back(static_cast<char>(0xd1));
    be(u, 2);
  } else if (n >= INT32_MIN) {
    out_.push_back(static_cast<char>(0xd2));
    be(u, 4);
  } else {
    out_.push_back(static_cast<char>(0xd3));
    be(u, 8);
  }
  return *this;
}

writer& writer::boolean(bool b) {
  out_.push_back(static_cast<char>(b ? 0xc3 : 0xc2));
  return *this;
}

writer& writer::nil() {
  out_.push_back(static_cast<char>(0xc0));
  return *this;
}

std::string sums(const std::vector<std::int64_t>& values) {
  std::string out;
  out.reserve(values.size() * 8);
  for (auto v : values) {
    out += keys::be64(static_cast<std::uint64_t>(v));
  }
  return out;
}

std::optional<std::vector<std::int64_t>> read_sums(std::string_view bytes) {
  if (bytes.size() % 8 != 0) {
    return std::nullopt;
  }
  std::vector<std::int64_t> out;
  out.reserve(bytes.size() / 8);
  for (std::size_t i = 0; i < bytes.size(); i += 8) {
    out.push_back(
      static_cast<std::int64_t>(*keys::from_be64(bytes.substr(i, 8))));
  }
  return out;
}

std::optional<std::string> add_sums(std::string_view a, std::string_view b) {
  auto x = read_sums(a);
  auto y = read_sums(b);
  if (!x || !y) {
    return std::nullopt;
  }
  if (x->size() < y->size()) {
    std::swap(x, y);
  }
  for (std::size_t i = 0; i < y->size(); ++i) {
    // Unsigned: wraps as two's complement, never undefined.
    (*x)[i] = static_cast<std::int64_t>(static_cast<std::uint64_t>((*x)[i])
                                        + static_cast<std::uint64_t>((*y)[i]));
  }
  return sums(*x);
}

} // namespace ordo::storage::codec
