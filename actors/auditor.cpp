#include "actors/auditor.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace ordo::actors::auditor {

namespace {

using nlohmann::json;
using ostatus = order::status;

std::string name(const char* kind, const std::string& id) {
  return std::string{kind} + "/" + id;
}

bool paid_at_some_point(ostatus st) {
  return st == ostatus::paid || st == ostatus::dispatched
         || st == ostatus::completed || st == ostatus::refunded;
}

class auditor {
public:
  auditor(const snapshot& s, const config& cfg) : s_(s), cfg_(cfg) {}

  /// The orders the other kinds name (what order_of may be asked for).
  std::set<std::string> named() const {
    std::set<std::string> ids;
    for (const auto& [id, sku] : s_.skus) {
      for (const auto& [order_id, res] : sku.reservations) {
        ids.insert(order_id);
      }
    }
    for (const auto& [id, c] : s_.coupons) {
      if (c.st != coupon::status::available) {
        ids.insert(c.order_id);
      }
    }
    for (const auto& [id, a] : s_.affiliates) {
      for (const auto& [order_id, e] : a.entries) {
        ids.insert(order_id);
      }
    }
    return ids;
  }

  /// What check_order reports for `o`, alone.
  report check_one(const std::string& id, const order::state& o) {
    check_order(id, o);
    return std::move(r_);
  }

  report run() {
    for (const auto& [id, sku] : s_.skus) {
      check_sku(id, sku);
    }
    for (const auto& [id, o] : s_.orders) {
      check_order(id, o);
    }
    for (const auto& [id, c] : s_.coupons) {
      check_coupon(id, c);
    }
    for (const auto& [id, a] : s_.affiliates) {
      check_affiliate(id, a);
    }
    for (const auto& pool : s_.pools) {
      if (!technicians::balanced(pool)) {
        flag("technicians_load", name(technicians::kind, pool.id),
             "loads disagree with the active assignments");
      }
    }
    if (s_.oldest_outbox_ms > cfg_.outbox_age) {
      flag("outbox_age", "outbox",
           "oldest unacknowledged message is "
             + std::to_string(s_.oldest_outbox_ms / 1000) + " s old");
    }
    if (s_.dead_letters > 0) {
      flag(
        "dead_letters", "outbox",
        std::to_string(s_.dead_letters)
          + " messages rejected permanently; see /v1/admin/outbox?state=dead");
    }
    return std::move(r_);
  }

private:
  /// The order `id`, or nullptr when none is stored.
  const order::state* order_of(const std::string& id) const {
    auto i = s_.orders.find(id);
    return i == s_.orders.end() ? nullptr : &i->second;
  }

  /// Kept by another node: not in this snapshot, whatever its state.
  bool foreign(const char* kind, const std::string& id) const {
    return s_.elsewhere && s_.elsewhere(address{kind, id});
  }

  bool settling(const std::string& order_id) const {
    return s_.settling.count(name("order", order_id)) > 0;
  }

  /// Settling, or one of its children is: a split order's stock moves
  /// through its children's outboxes.
  bool family_settling(const std::string& order_id,
                       const order::state& o) const {
    return settling(order_id)
           || std::any_of(o.children.begin(), o.children.end(),
                          [this](const order::child_ref& c) {
                            return settling(c.order_id);
                          });
  }

  void flag(std::string rule, std::string subject, std::string detail) {
    r_.violations.push_back(
      {std::move(rule), std::move(subject), std::move(detail), false});
  }

  void heal(std::string rule, std::string subject, std::string detail,
            envelope cure) {
    r_.violations.push_back(
      {std::move(rule), std::move(subject), std::move(detail), true});
    r_.heals.push_back(std::move(cure));
  }

  /// The SKU's reservation timer of an earlier version, fired now: it
  /// expires that order's reservation if it is due.
  static envelope expire_reservation(const std::string& sku,
                                     const std::string& order_id) {
    return envelope{"", address{inventory::kind, sku}, "timer",
                    json{{"name", inventory::timer_name(order_id)}}};
  }

  void check_sku(const std::string& id, const inventory::state& sku) {
    auto subject = name("sku", id);
    if (!inventory::conserved(sku)) {
      flag("stock_conservation", subject,
           "available " + std::to_string(sku.available) + " + reserved "
             + std::to_string(sku.reserved) + " + sold "
             + std::to_string(sku.sold) + " vs stocked "
             + std::to_string(sku.stocked));
    }
    for (const auto& [order_id, res] : sku.reservations) {
      if (foreign("order", order_id)) {
        continue;
      }
      const auto* o = order_of(order_id);
      bool expired = s_.now > res.expires_at + cfg_.grace;
      if (o == nullptr) {
        if (expired) {
          heal("orphaned_reservation", subject,
               "reservation of " + order_id + " (no such order) expired",
               expire_reservation(id, order_id));
        }
        continue;
      }
      if (o->st == ostatus::pending_payment
          || o->st == ostatus::manual_intervention
          || family_settling(order_id, *o)) {
        continue; // manual_intervention: reported with the order
      }
      if (o->st == ostatus::cancelled) {
        heal("orphaned_reservation", subject,
             "reservation held for cancelled order " + order_id,
             envelope_to(address{inventory::kind, id},
                         inventory::release{order_id, res.token}));
      } else if (expired) {
        heal("orphaned_reservation", subject,
             "expired reservation held for " + std::string{to_string(o->st)}
               + " order " + order_id,
             expire_reservation(id, order_id));
      } else {
        flag("orphaned_reservation", subject,
             "reservation held for " + std::string{to_string(o->st)} + " order "
               + order_id);
      }
    }
  }

  void check_order(const std::string& id, const order::state& o) {
    if (settling(id)) {
      return;
    }
    if (o.st == ostatus::manual_intervention) {
      flag("manual_intervention", name("order", id), order::why_manual(o));
    }
    bool owed = false;
    for (const auto& p : o.payments) {
      owed = owed || p.status == order::payment_status::refund_pending
             || (p.status == order::payment_status::captured
                 && o.st == ostatus::cancelled);
    }
    if (owed) {
      heal("refund_owed", name("order", id),
           "a payment is owed back and nothing is on its way to the provider",
           envelope_to(address{order::kind, id}, order::reissue_refunds{}));
    }
    if (!o.affiliate_id.empty() && !foreign("affiliate", o.affiliate_id)) {
      auto a = s_.affiliates.find(o.affiliate_id);
      if (a == s_.affiliates.end() || a->second.entries.count(id) == 0) {
        heal("commission_status", name("affiliate", o.affiliate_id),
             "no commission entry for order " + id,
             envelope_to(
               address{attribution::kind, o.affiliate_id},
               attribution::pending{
                 id, order::commission(o.payable, cfg_.commission_ppm)}));
      }
    }
  }

  void check_coupon(const std::string& id, const coupon::state& c) {
    auto subject = name("coupon", id);
    if (!coupon::consistent(c)) {
      flag("coupon_holder", subject, "status and holder disagree");
      return;
    }
    if (c.st == coupon::status::available || settling(c.order_id)
        || foreign("order", c.order_id)) {
      return;
    }
    const auto* o = order_of(c.order_id);
    bool held = o != nullptr && o->coupon_id == id;
    if (held && o->st == ostatus::manual_intervention) {
      return; // a human decides; the order is reported
    }
    if (c.st == coupon::status::locked) {
      if (held && o->st == ostatus::pending_payment) {
        return;
      }
      if (held && paid_at_some_point(o->st)) {
        heal(
          "coupon_holder", subject,
          "locked for order " + c.order_id + " which paid",
          envelope_to(address{coupon::kind, id}, coupon::consume{c.order_id}));
      } else if (o != nullptr || s_.now > c.lock_expires_at + cfg_.grace) {
        heal("coupon_holder", subject,
             "locked for order " + c.order_id + " which does not hold it",
             envelope_to(address{coupon::kind, id},
                         coupon::release{c.order_id, c.token}));
      }
      return;
    }
    // USED
    if (!held || !paid_at_some_point(o->st)) {
      flag("coupon_holder", subject,
           "used by order " + c.order_id + " which never paid with it");
    }
  }

  void check_affiliate(const std::string& id, const attribution::state& a) {
    auto subject = name("affiliate", id);
    if (!attribution::balanced(a)) {
      flag("commission_status", subject, "sums disagree with the entries");
    }
    for (const auto& [order_id, e] : a.entries) {
      if (foreign("order", order_id)) {
        continue;
      }
      const auto* o = order_of(order_id);
      if (o == nullptr) {
        flag("commission_status", subject,
             "commission for unknown order " + order_id);
        continue;
      }
      if (settling(order_id)) {
        continue;
      }
      bool void_order
        = o->st == ostatus::cancelled || o->st == ostatus::refunded;
      if (e.st == attribution::status::pending && void_order) {
        heal("commission_status", subject,
             "PENDING for " + std::string{to_string(o->st)} + " order "
               + order_id,
             envelope_to(address{attribution::kind, id},
                         attribution::invalidate{order_id}));
      } else if (e.st == attribution::status::pending
                 && o->st == ostatus::completed) {
        heal("commission_status", subject,
             "PENDING for completed order " + order_id,
             envelope_to(address{attribution::kind, id},
                         attribution::settle{order_id}));
      } else if (e.st == attribution::status::invalid && !void_order) {
        flag("commission_status", subject,
             "INVALID for " + std::string{to_string(o->st)} + " order "
               + order_id);
      } else if (e.st == attribution::status::settled
                 && o->st != ostatus::completed
                 && !(o->st == ostatus::refunded && e.clawback)) {
        flag("commission_status", subject,
             "SETTLED for " + std::string{to_string(o->st)} + " order "
               + order_id);
      }
    }
  }

  const snapshot& s_;
  const config& cfg_;
  report r_;
};

} // namespace

report audit(const snapshot& s, const config& cfg) {
  return auditor{s, cfg}.run();
}

std::set<std::string> orders_named(const snapshot& s) {
  return auditor{s, config{}}.named();
}

bool order_matters(const snapshot& s, const config& cfg, const std::string& id,
                   const order::state& o) {
  return !auditor{s, cfg}.check_one(id, o).violations.empty();
}

} // namespace ordo::actors::auditor
