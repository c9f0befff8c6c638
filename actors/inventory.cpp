#include "actors/inventory.hpp"

#include "actors/detail/support.hpp"
#include "actors/order.hpp"
#include "actors/planted.hpp"

#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ordo::actors::inventory {

namespace {

using detail::field;
using detail::get_int;
using detail::get_string;
using detail::get_uint;
using nlohmann::json;

using detail::config_of;

const std::string timer_prefix = "res:";

/// Records a state change (see detail::record).
void commit(state& s, outcome& o, std::string event, const context& ctx) {
  detail::record(s, o, std::move(event), ctx.now, "sku/" + s.sku);
}

/// Returns the reservation of `order_id` to available and forgets it.
void drop(state& s, const std::string& order_id) {
  auto i = s.reservations.find(order_id);
  s.available += i->second.quantity;
  s.reserved -= i->second.quantity;
  if (planted::on(planted::release_keeps_reservation)) {
    return;
  }
  s.reservations.erase(i);
  // The expiry timer stays: when it fires it re-arms for the next.
}

/// Arms the expiry timer for `at` unless it is already due sooner.
void arm_expiry(state& s, outcome& o, millis at) {
  if (s.expiry_due == 0 || at < s.expiry_due) {
    s.expiry_due = at;
    o.timers.push_back(timer_op{expiry_timer, at});
  }
}

/// When the reservation `r` asks for expires: after the order's payment
/// deadline when the message carries it, else the SKU's own ttl from now
/// (never wrapping past the largest time).
millis expiry(const reserve& r, const context& ctx) {
  if (r.pay_deadline > r.margin
      && planted::on(planted::reservation_expires_early)) {
    return r.pay_deadline - r.margin;
  }
  auto [from, after] = r.pay_deadline > 0
                         ? std::pair{r.pay_deadline, r.margin}
                         : std::pair{ctx.now, config_of(ctx).reservation_ttl};
  millis at = 0;
  return __builtin_add_overflow(from, after, &at)
           ? std::numeric_limits<millis>::max()
           : at;
}

/// The refusal of `wanted` units when only `available` are.
error short_of(const state& s, std::int64_t available, std::int64_t wanted) {
  return error{errc::insufficient_stock,
               "sku " + s.sku + ": " + std::to_string(available)
                 + " available, " + std::to_string(wanted) + " requested"};
}

/// The reservation of `order_id` if it was made with `token`.
const reservation* find(const state& s, const std::string& order_id,
                        std::uint64_t token) {
  auto i = s.reservations.find(order_id);
  if (i == s.reservations.end() || i->second.token != token) {
    return nullptr;
  }
  return &i->second;
}

struct handler {
  state& s;
  const context& ctx;

  outcome operator()(const put& p) {
    outcome o;
    o.cause = "put price=" + std::to_string(p.price) + " stock="
              + std::to_string(p.stock) + " kind=" + to_string(p.kind);
    if (p.price < 0 || p.stock < 0) {
      o.err = error{errc::bad_request, "price and stock must not be negative"};
      return o;
    }
    if (!s.exists) {
      s.exists = true;
      s.price = p.price;
      s.kind = p.kind;
      s.stocked = p.stock;
      s.available = p.stock;
      s.reserved = 0;
      s.sold = 0;
      commit(s, o, "put", ctx);
      return o;
    }
    auto delta = p.stock - s.stocked;
    if (s.available + delta < 0) {
      o.err = error{errc::insufficient_stock,
                    "cannot set stock of " + s.sku + " to "
                      + std::to_string(p.stock) + ": "
                      + std::to_string(s.reserved + s.sold)
                      + " units are reserved or sold"};
      return o;
    }
    if (delta == 0 && p.price == s.price && p.kind == s.kind) {
      return o; // Same values: an idempotent PUT changes nothing.
    }
    s.stocked = p.stock;
    s.available += delta;
    s.price = p.price;
    s.kind = p.kind;
    commit(s, o, "restocked", ctx);
    return o;
  }

  outcome operator()(const reserve& r) {
    outcome o;
    o.cause = "reserve order=" + r.order_id
              + " token=" + std::to_string(r.token)
              + " quantity=" + std::to_string(r.quantity);
    if (!s.exists) {
      o.err = error{errc::not_found, "sku " + s.sku + " not found"};
      return o;
    }
    if (r.order_id.empty() || r.quantity <= 0) {
      o.err = error{errc::bad_request,
                    "reserve needs an order_id and a positive quantity"};
      return o;
    }
    if (find(s, r.order_id, r.token) != nullptr) {
      // The same create again (retried after a crash lost it at the order):
      // its new deadline is later, and the units must outlive it too.
      auto& res = s.reservations.at(r.order_id);
      if (auto until = expiry(r, ctx);
          r.pay_deadline > 0 && until > res.expires_at) {
        res.expires_at = until; // later: the expiry timer is due sooner
        commit(s, o, "reservation_extended", ctx);
      }
      o.reply = body_of(priced{s.price, s.kind});
      return o;
    }
    std::int64_t total = 0;
    if (r.max_total > 0
        && (__builtin_mul_overflow(r.quantity, s.price, &total)
            || total > r.max_total)) {
      o.err
        = error{errc::bad_request, "order total exceeds "
                                     + std::to_string(r.max_total) + " cents"};
      return o;
    }
    bool replaced = false;
    if (s.reservations.count(r.order_id) != 0) {
      drop(s, r.order_id);
      replaced = true;
    }
    if (s.available < r.quantity) {
      o.err = short_of(s, s.available, r.quantity);
      if (replaced) {
        commit(s, o, "reservation_replaced", ctx);
      }
      return o;
    }
    auto expires_at = expiry(r, ctx);
    s.available -= r.quantity;
    s.reserved += r.quantity;
    s.reservations[r.order_id] = reservation{r.quantity, r.token, expires_at};
    arm_expiry(s, o, expires_at);
    o.reply = body_of(priced{s.price, s.kind});
    commit(s, o, "reserved", ctx);
    return o;
  }

  outcome operator()(const quote& q) {
    outcome o;
    o.cause
      = "quote order=" + q.order_id + " quantity=" + std::to_string(q.quantity);
    if (!s.exists) {
      o.err = error{errc::not_found, "sku " + s.sku + " not found"};
      return o;
    }
    auto held = s.reservations.find(q.order_id);
    auto available
      = s.available
        + (held == s.reservations.end() ? 0 : held->second.quantity);
    if (available < q.quantity) {
      o.err = short_of(s, available, q.quantity);
      return o;
    }
    o.reply = body_of(priced{s.price, s.kind});
    return o;
  }

  outcome operator()(const release& r) {
    outcome o;
    o.cause
      = "release order=" + r.order_id + " token=" + std::to_string(r.token);
    if (find(s, r.order_id, r.token) != nullptr) {
      drop(s, r.order_id);
      commit(s, o, "released", ctx);
    }
    return o;
  }

  outcome operator()(const confirm& c) {
    outcome o;
    o.cause = "confirm order=" + c.order_id
              + " token=" + std::to_string(c.token)
              + " quantity=" + std::to_string(c.quantity);
    if (const auto* res = find(s, c.order_id, c.token)) {
      auto q = res->quantity;
      s.reserved -= q;
      s.sold += q;
      s.reservations.erase(c.order_id);
      commit(s, o, "sold", ctx);
      return o;
    }
    if (c.order_id.empty() || c.quantity <= 0) {
      o.err = error{errc::bad_request,
                    "confirm needs an order_id and a positive quantity"};
      return o;
    }
    // A reservation of this order under another token is left over from an
    // older create attempt of the paid order: it can only be stale.
    if (s.reservations.count(c.order_id) != 0) {
      drop(s, c.order_id);
    }
    if (s.available >= c.quantity) {
      s.available -= c.quantity;
      s.sold += c.quantity;
      commit(s, o, "sold_from_available", ctx);
      return o;
    }
    s.shortfalls[c.order_id] = c.quantity;
    o.outbox.push_back(
      envelope_to(address{order::kind, c.order_id}, order::shortfall{s.sku}));
    o.signals.emplace_back("stock_shortfall");
    commit(s, o, "shortfall", ctx);
    return o;
  }

  outcome operator()(const restock& r) {
    outcome o;
    o.cause = "restock order=" + r.order_id
              + " quantity=" + std::to_string(r.quantity);
    if (s.shortfalls.erase(r.order_id) != 0) {
      commit(s, o, "shortfall_cleared", ctx);
      return o;
    }
    if (r.quantity <= 0) {
      o.err = error{errc::bad_request, "restock needs a positive quantity"};
      return o;
    }
    if (s.sold >= r.quantity) {
      s.sold -= r.quantity;
      s.available += r.quantity;
      commit(s, o, "restocked_from_refund", ctx);
    }
    return o;
  }

  outcome operator()(const expire& e) {
    if (e.order_id.empty()) {
      return expire_due();
    }
    outcome o;
    o.cause = "timer " + timer_name(e.order_id);
    auto i = s.reservations.find(e.order_id);
    if (i != s.reservations.end() && ctx.now >= i->second.expires_at) {
      drop(s, e.order_id);
      commit(s, o, "expired", ctx);
    }
    return o;
  }

  /// The expiry timer fired: releases every reservation due, and arms the
  /// timer again for the earliest left.
  outcome expire_due() {
    outcome o;
    o.cause = std::string{"timer "} + expiry_timer;
    std::vector<std::string> due;
    millis next = 0;
    for (const auto& [order_id, res] : s.reservations) {
      if (ctx.now >= res.expires_at) {
        due.push_back(order_id);
      } else if (next == 0 || res.expires_at < next) {
        next = res.expires_at;
      }
    }
    for (const auto& order_id : due) {
      drop(s, order_id);
    }
    s.expired_now = std::move(due);
    bool rearmed = next != s.expiry_due;
    s.expiry_due = next;
    if (next > 0) {
      o.timers.push_back(timer_op{expiry_timer, next});
    }
    if (!s.expired_now.empty() || rearmed) {
      commit(s, o, s.expired_now.empty() ? "expiry_rearmed" : "expired", ctx);
    }
    return o;
  }
};

// -- decoding helpers: never throw ------------------------------------------

} // namespace

std::string timer_name(const std::string& order_id) {
  return timer_prefix + order_id;
}

bool conserved(const state& s) noexcept {
  std::int64_t held = 0;
  for (const auto& [order_id, res] : s.reservations) {
    if (res.quantity <= 0) {
      return false;
    }
    held += res.quantity;
  }
  return s.stocked >= 0 && s.available >= 0 && s.reserved >= 0 && s.sold >= 0
         && s.available + s.reserved + s.sold == s.stocked
         && held == s.reserved;
}

outcome handle(state& s, const input& in, const context& ctx) {
  s.expired_now.clear();
  return std::visit(handler{s, ctx}, in);
}

const char* reserve::invalid() const {
  if (order_id.empty() || quantity <= 0) {
    return "needs an 'order_id' and a positive 'quantity'";
  }
  // Absent from reserve messages stored before orders sent their deadline;
  // such a reservation lives reservation_ttl.
  if (pay_deadline < 0 || margin < 0) {
    return "needs a positive 'pay_deadline' and a 'margin' >= 0";
  }
  return max_total < 0 ? "needs a positive 'max_total' if any" : nullptr;
}

const char* quote::invalid() const {
  return order_id.empty() || quantity <= 0
           ? "needs an 'order_id' and a positive 'quantity'"
           : nullptr;
}

const char* priced::invalid() const {
  return unit_price < 0 ? "a negative 'unit_price'" : nullptr;
}

const char* release::invalid() const {
  return order_id.empty() ? "missing 'order_id'" : nullptr;
}

const char* confirm::invalid() const {
  return order_id.empty() || quantity <= 0
           ? "needs an 'order_id' and a positive 'quantity'"
           : nullptr;
}

const char* restock::invalid() const {
  return order_id.empty() || quantity <= 0
           ? "needs an 'order_id' and a positive 'quantity'"
           : nullptr;
}

result<input> decode(const envelope& msg) {
  if (msg.type == "timer") {
    auto name = get_string(msg.body, "name");
    if (name == std::optional<std::string>{expiry_timer}) {
      return input{expire{}};
    }
    if (!name || name->size() <= timer_prefix.size()
        || name->compare(0, timer_prefix.size(), timer_prefix) != 0) {
      return detail::malformed("sku", msg, "unknown timer");
    }
    return input{expire{name->substr(timer_prefix.size())}};
  }
  if (auto in = decode_one_of<input, reserve, quote, release, confirm, restock>(
        "sku", msg)) {
    return std::move(*in);
  }
  return detail::malformed("sku", msg, "unknown message type");
}

// Stored form:
//   {"sku","exists","v","price","kind","stocked","avail","resv","sold",
//    "updated","xt","res":{order_id:{"q","t","exp"}},
//    "short":{order_id:quantity}}
const std::string& subject(const input& in) noexcept {
  static const std::string none;
  return std::visit(
    [](const auto& x) -> const std::string& {
      if constexpr (std::is_same_v<std::decay_t<decltype(x)>, put>) {
        return none;
      } else {
        return x.order_id;
      }
    },
    in);
}

json entries_to_json(const state& s, const std::string& order_id) {
  json j;
  if (auto i = s.reservations.find(order_id); i != s.reservations.end()) {
    j["r"] = json{{"q", i->second.quantity},
                  {"t", i->second.token},
                  {"exp", i->second.expires_at}};
  }
  if (auto i = s.shortfalls.find(order_id); i != s.shortfalls.end()) {
    j["s"] = i->second;
  }
  return j;
}

void entries_from_json(const json& j, const std::string& order_id, state& s) {
  if (!j.is_object()) {
    return;
  }
  if (auto r = j.find("r"); r != j.end() && r->is_object()) {
    s.reservations[order_id] = reservation{r->value("q", std::int64_t{0}),
                                           r->value("t", std::uint64_t{0}),
                                           r->value("exp", millis{0})};
  }
  if (auto q = j.find("s"); q != j.end() && q->is_number_integer()) {
    s.shortfalls[order_id] = q->get<std::int64_t>();
  }
}

json header_to_json(const state& s) {
  return json{{"sku", s.sku},
              {"exists", s.exists},
              {"v", s.version},
              {"price", s.price},
              {"kind", to_string(s.kind)},
              {"stocked", s.stocked},
              {"avail", s.available},
              {"resv", s.reserved},
              {"sold", s.sold},
              {"updated", s.updated_at},
              {"xt", s.expiry_due}};
}

void to_json(nlohmann::json& j, const state& s) {
  j = header_to_json(s);
  json entries = json::object();
  for (const auto& [order_id, r] : s.reservations) {
    entries[order_id] = entries_to_json(s, order_id);
  }
  for (const auto& [order_id, q] : s.shortfalls) {
    entries[order_id] = entries_to_json(s, order_id);
  }
  j["entries"] = std::move(entries);
}

void from_json(const nlohmann::json& j, state& s) {
  state r;
  r.sku = j.value("sku", std::string{});
  r.exists = j.value("exists", false);
  r.version = j.value("v", std::uint64_t{0});
  r.price = j.value("price", std::int64_t{0});
  r.kind = parse_item_kind(j.value("kind", std::string{}))
             .value_or(item_kind::goods);
  r.stocked = j.value("stocked", std::int64_t{0});
  r.available = j.value("avail", std::int64_t{0});
  r.reserved = j.value("resv", std::int64_t{0});
  r.sold = j.value("sold", std::int64_t{0});
  r.updated_at = j.value("updated", millis{0});
  r.expiry_due = j.value("xt", millis{0});
  if (auto i = j.find("entries"); i != j.end() && i->is_object()) {
    for (const auto& [order_id, x] : i->items()) {
      entries_from_json(x, order_id, r);
    }
  }
  s = std::move(r);
}

} // namespace ordo::actors::inventory
