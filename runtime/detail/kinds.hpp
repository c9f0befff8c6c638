#pragma once

// How the generic host (host.hpp) sees each actor kind of actors/: the
// state machine's types and functions under one name. Adding an actor kind
// means adding its traits here and a directory in node.cpp.

#include <nlohmann/json.hpp>

#include "actors/inventory.hpp"
#include "actors/order.hpp"

namespace ordo::runtime::detail {

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
