#pragma once

// Key layout of every column family, as a grammar. Ids never contain NUL
// (the gateway refuses them), kinds never contain '/'.
//
//   owner      := kind '/' id                      e.g. "order/o0012-9f3a"
//   be64(n)    := 8 bytes, n big-endian            (sorts numerically)
//
//   actors:  owner                      -> snapshot (codec: MessagePack)
//            owner NUL part             -> an actor's sub-record: a ledger
//                                          entry ("e/" entry), or sums
//                                          that other turns add to
//                                          (codec::sums, batch::add)
//   journal: owner NUL be64(version)    -> journal entry (MessagePack)
//   outbox:  be64(seq)                  -> envelope (MessagePack)
//   timers:  owner NUL name             -> be64(due, ms since epoch)
//   dedupe:  owner NUL message_id       -> be64(consumed at, ms since epoch)
//                                          (or "": consumed before records
//                                          carried the time; both dropped
//                                          after the retention, store.hpp)
//   aux:     component '/' rest         -> component-defined, including
//            "user_orders/" user_id NUL be64(2^64-1 - created_at) order_id
//                                       -> a user's order as listed (written
//                                          in the order's own batch; newest
//                                          first in key order)
//            "storage/dedupe_stamped_since" -> be64(ms since epoch): the
//                                          first open with a dedupe
//                                          retention; every "" dedupe value
//                                          is older
//
// The outbox sequence continues after the largest stored key at start-up.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ordo::storage::keys {

/// "kind/id".
std::string owner(std::string_view kind, std::string_view id);

/// owner NUL be64(version).
std::string journal(std::string_view kind, std::string_view id,
                    std::uint64_t version);

/// owner NUL: the prefix of an owner's journal, timers or dedupe ids.
std::string owner_prefix(std::string_view kind, std::string_view id);

/// owner NUL name (timers) or owner NUL message id (dedupe).
std::string owned(std::string_view kind, std::string_view id,
                  std::string_view suffix);

/// Splits owner NUL suffix (or a bare owner) into kind, id and suffix.
/// Returns false for a key not of that form.
bool split_owned(std::string_view key, std::string* kind, std::string* id,
                 std::string* suffix);

/// "user_orders/" user_id NUL: the prefix of a user's order index.
std::string user_orders(std::string_view user_id);
/// One entry of a user's order index (see the grammar above).
std::string user_order(std::string_view user_id, std::int64_t created_at,
                       std::string_view order_id);

std::string be64(std::uint64_t n);
/// Decodes 8 big-endian bytes; nullopt if `s` is not 8 bytes long.
std::optional<std::uint64_t> from_be64(std::string_view s);

} // namespace ordo::storage::keys

namespace ordo::storage::codec {

/// Sums (batch::add): n signed 64-bit integers, each as keys::be64 of its
/// two's complement. Adding two sums adds them element by element; the shorter
/// counts as zeros beyond its end.
std::string sums(const std::vector<std::int64_t>& values);
/// Decodes sums; nullopt when the size is not a multiple of 8.
std::optional<std::vector<std::int64_t>> read_sums(std::string_view bytes);
/// `a` + `b` as sums, both encoded (wraps around on overflow, never UB);
/// nullopt when either is not sums.
std::optional<std::string> add_sums(std::string_view a, std::string_view b);

/// Lower-case hex of `bytes`, two digits per byte.
std::string hex(std::string_view bytes);
/// The value of hex digit `c` (either case); -1 for anything else.
int hex_digit(char c) noexcept;
/// The bytes `text` spells in hex (either case); nullopt when its length is
/// odd or it holds anything but hex digits.
std::optional<std::string> unhex(std::string_view text);

/// Encodes a JSON value as MessagePack.
std::string pack(const nlohmann::json& j);
/// Decodes MessagePack; a discarded JSON value
/// (`is_discarded()`) when the bytes are not valid.
nlohmann::json unpack(std::string_view bytes);

/// Writes MessagePack straight from values, for records written on every
/// turn of a hot actor: building a JSON value first costs an allocation per
/// member. `unpack` reads what it writes as `pack` would have written the
/// same JSON value (integers in their smallest form, as `pack` does).
class writer {
public:
  /// Starts a map of `n` pairs (each a key, then its value).
  writer& map(std::uint32_t n);
  /// Starts an array of `n` values.
  writer& array(std::uint32_t n);
  writer& str(std::string_view s);
  writer& integer(std::int64_t n);
  writer& uinteger(std::uint64_t n);
  writer& boolean(bool b);
  writer& nil();

  std::string take() {
    return std::move(out_);
  }

private:
  void header(std::uint32_t n, unsigned char fix, unsigned char b16,
              unsigned char b32);
  void be(std::uint64_t n, int bytes);

  std::string out_;
};

} // namespace ordo::storage::codec
