#pragma once

// How the generic host (host.hpp) sees each actor kind of actors/: the
// state machine's types and functions under one name, and how its state is
// stored. Adding an actor kind means adding its traits here and a directory
// in node.cpp.
//
// Stored state (family `actors`, see storage/keys.hpp):
//   owner                 -> the snapshot (order) or the counters (sku)
//   owner NUL "e/" order  -> one order's entries of a SKU (reservation,
//                            shortfall), so a hot SKU's turn writes two small
//                            records, not all its reservations

#include <string>

#include <nlohmann/json.hpp>

#include "actors/inventory.hpp"
#include "actors/order.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"

namespace ordo::runtime::detail {

/// Reads the record at `key` into `j`; false if absent, throws if unreadable.
inline bool read_record(storage::store& db, const std::string& key,
                        nlohmann::json& j) {
  auto bytes = db.get(storage::cf::actors, key);
  if (!bytes) {
    return false;
  }
  j = storage::codec::unpack(*bytes);
  if (j.is_discarded()) {
    throw std::runtime_error{"record " + key + " is not MessagePack"};
  }
  return true;
}

struct order_kind {
  using state = actors::order::state;
  using input = actors::order::input;
  using config = actors::order::config;
  static constexpr const char* name = "order";

  static void init(state& s, const std::string& id) {
    s.order_id = id;
  }
  static actors::outcome handle(state& s, const input& in, actors::millis now,
                                const config& cfg) {
    return actors::order::handle(s, in, {now, &cfg});
  }
  static actors::result<input> decode(const actors::envelope& msg) {
    return actors::order::decode(msg);
  }
  static bool busy(const state& s) {
    return actors::order::busy(s);
  }
  /// Adds the writes of a turn that changed the state.
  static void persist(const state& s, const input&, storage::batch& b) {
    b.put(storage::cf::actors, storage::keys::owner(name, s.order_id),
          storage::codec::pack(nlohmann::json(s)));
  }
  /// Loads the stored state of `id` into `s`; throws if unreadable.
  static void restore(storage::store& db, const std::string& id, state& s) {
    nlohmann::json j;
    if (read_record(db, storage::keys::owner(name, id), j)) {
      j.get_to(s);
    }
  }
  /// What a reply carries of the state.
  static state view(const state& s) {
    auto v = s;
    v.creating.reset();
    return v;
  }
};

struct sku_kind {
  using state = actors::inventory::state;
  using input = actors::inventory::input;
  using config = actors::inventory::config;
  static constexpr const char* name = "sku";

  static void init(state& s, const std::string& id) {
    s.sku = id;
  }
  static actors::outcome handle(state& s, const input& in, actors::millis now,
                                const config& cfg) {
    return actors::inventory::handle(s, in, {now, &cfg});
  }
  static actors::result<input> decode(const actors::envelope& msg) {
    return actors::inventory::decode(msg);
  }
  static bool busy(const state&) {
    return false;
  }
  static std::string entry_key(const std::string& sku,
                               const std::string& order_id) {
    return storage::keys::owned(name, sku, "e/" + order_id);
  }
  static void persist(const state& s, const input& in, storage::batch& b) {
    b.put(storage::cf::actors, storage::keys::owner(name, s.sku),
          storage::codec::pack(actors::inventory::header_to_json(s)));
    const auto& order_id = actors::inventory::subject(in);
    if (order_id.empty()) {
      return;
    }
    auto entries = actors::inventory::entries_to_json(s, order_id);
    if (entries.is_null()) {
      b.del(storage::cf::actors, entry_key(s.sku, order_id));
    } else {
      b.put(storage::cf::actors, entry_key(s.sku, order_id),
            storage::codec::pack(entries));
    }
  }
  static void restore(storage::store& db, const std::string& id, state& s) {
    nlohmann::json j;
    if (!read_record(db, storage::keys::owner(name, id), j)) {
      return;
    }
    j.get_to(s);
    auto prefix = storage::keys::owned(name, id, "e/");
    db.scan(storage::cf::actors, prefix,
            [&](std::string_view key, std::string_view value) {
              auto e = storage::codec::unpack(value);
              if (e.is_discarded()) {
                throw std::runtime_error{"unreadable entry of sku " + id};
              }
              actors::inventory::entries_from_json(
                e, std::string{key.substr(prefix.size())}, s);
              return true;
            });
  }
  /// Replies carry the counters, not the reservations.
  static state view(const state& s) {
    state v;
    v.sku = s.sku;
    v.exists = s.exists;
    v.version = s.version;
    v.price = s.price;
    v.kind = s.kind;
    v.stocked = s.stocked;
    v.available = s.available;
    v.reserved = s.reserved;
    v.sold = s.sold;
    v.updated_at = s.updated_at;
    return v;
  }
};

} // namespace ordo::runtime::detail
