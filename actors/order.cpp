#include "actors/order.hpp"

#include "actors/detail/support.hpp"

#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

namespace ordo::actors::order {

namespace {

using detail::get_int;
using detail::get_string;
using detail::number_outbox;
using nlohmann::json;

using detail::config_of;

address sku_address(const std::string& sku) {
  return address{"sku", sku};
}

address payment_address() {
  return address{"payment", ""};
}

envelope message(address to, std::string type, json body) {
  return envelope{"", std::move(to), std::move(type), std::move(body)};
}

std::string refund_id_of(const std::string& txn_id) {
  return "rf-" + txn_id;
}

/// Records a state change (see detail::record).
void commit(state& s, outcome& o, std::string event, const context& ctx) {
  detail::record(s, o, std::move(event), ctx.now, "order/" + s.order_id);
}

json release_body(const state& s, std::uint64_t token) {
  return json{{"order_id", s.order_id}, {"token", token}};
}

json refund_body(const state& s, const payment& p) {
  return json{{"refund_id", p.refund_id},
              {"txn_id", p.txn_id},
              {"amount", p.amount},
              {"order_id", s.order_id}};
}

json order_body(const state& s) {
  return json{{"order_id", s.order_id}};
}

/// `type` to the order's affiliate, if it has one.
void tell_affiliate(const state& s, outcome& o, std::string type, json body) {
  if (!s.affiliate_id.empty()) {
    o.outbox.push_back(message(address{"affiliate", s.affiliate_id},
                               std::move(type), std::move(body)));
  }
}

/// `type` to the order's coupon, if it has one.
void tell_coupon(const state& s, outcome& o, std::string type, json body) {
  if (!s.coupon_id.empty()) {
    o.outbox.push_back(message(address{"coupon", s.coupon_id}, std::move(type),
                               std::move(body)));
  }
}

void tell_notifier(const state& s, outcome& o, std::string type, millis at) {
  o.outbox.push_back(message(address{"notifier", s.order_id}, std::move(type),
                             json{{"order_id", s.order_id}, {"at", at}}));
}

/// `type` to the order's dispatcher, if it holds service items.
void tell_dispatcher(const state& s, outcome& o, std::string type, json body) {
  if (has_service(s)) {
    o.outbox.push_back(message(address{"dispatcher", s.order_id},
                               std::move(type), std::move(body)));
  }
}

/// PENDING_PAYMENT -> CANCELLED: give the stock and the coupon back, ask the
/// provider to close the payment, void the commission, tell the notifier,
/// disarm the deadline.
void cancel_effects(state& s, outcome& o, std::string reason, millis now) {
  s.st = status::cancelled;
  s.cancel_reason = std::move(reason);
  for (const auto& item : s.items) {
    o.outbox.push_back(
      message(sku_address(item.sku), "release", release_body(s, s.token)));
  }
  tell_coupon(s, o, "release", release_body(s, s.token));
  o.outbox.push_back(
    message(payment_address(), "close", json{{"order_id", s.order_id}}));
  tell_affiliate(s, o, "invalidate", order_body(s));
  tell_notifier(s, o, "order_cancelled", now);
  o.timers.push_back(timer_op{"deadline", 0});
}

/// Records a payment that cannot be applied and refunds it (rule 2).
void refund_anomaly(state& s, outcome& o, const pay& p) {
  payment pm{p.txn_id, p.amount, payment_status::refund_pending,
             refund_id_of(p.txn_id)};
  o.outbox.push_back(message(payment_address(), "refund", refund_body(s, pm)));
  s.payments.push_back(std::move(pm));
  o.signals.emplace_back("refund_anomaly");
  o.result = "refunded";
}

/// Every captured payment becomes owed back to the payer.
void refund_captured(state& s, outcome& o) {
  for (auto& pm : s.payments) {
    if (pm.status == payment_status::captured) {
      pm.status = payment_status::refund_pending;
      pm.refund_id = refund_id_of(pm.txn_id);
      o.outbox.push_back(
        message(payment_address(), "refund", refund_body(s, pm)));
    }
  }
}

/// Sends the sold units of every item (but `except`) back to its SKU.
void restock_items(const state& s, outcome& o, const std::string& except) {
  for (const auto& item : s.items) {
    if (item.sku != except) {
      o.outbox.push_back(
        message(sku_address(item.sku), "restock",
                json{{"order_id", s.order_id}, {"quantity", item.quantity}}));
    }
  }
}

/// PAID | DISPATCHED | COMPLETED -> REFUNDED: every captured payment goes
/// back, the stock too unless `shipped` (all SKUs but `except`), the
/// commission is voided and a dispatched technician recalled.
void refund_effects(state& s, outcome& o, bool shipped,
                    const std::string& except) {
  s.st = status::refunded;
  refund_captured(s, o);
  if (!shipped) {
    restock_items(s, o, except);
  }
  tell_affiliate(s, o, "invalidate", order_body(s));
  tell_dispatcher(s, o, "order_refunded", order_body(s));
}

/// An answer whose outcome at the SKU is unknown (timeout, crash): the
/// reservation may exist, so a failed create releases it too.
bool ambiguous(const std::optional<error>& err) {
  return err && (err->code == errc::unavailable || err->code == errc::internal);
}

struct handler {
  state& s;
  const context& ctx;

  outcome operator()(const create& c) {
    outcome o;
    o.cause = "create user=" + c.user_id + " token=" + std::to_string(c.token);
    if (s.st != status::none) {
      if (c.fingerprint != s.fingerprint) {
        return reused(o);
      }
      o.result = "existing";
      return o;
    }
    if (s.creating) {
      if (c.fingerprint != s.creating->request.fingerprint) {
        return reused(o);
      }
      o.defer_tag = "create";
      return o;
    }
    auto bad = [&o](std::string msg) {
      o.err = error{errc::bad_request, std::move(msg)};
      return o;
    };
    if (c.user_id.empty()) {
      return bad("user_id must not be empty");
    }
    if (c.items.empty()) {
      return bad("items must not be empty");
    }
    create req = c;
    req.items.clear();
    for (const auto& item : c.items) {
      if (item.sku.empty()) {
        return bad("sku must not be empty");
      }
      if (item.quantity <= 0) {
        return bad("quantity of " + item.sku + " must be positive");
      }
      auto same = [&item](const requested_item& x) {
        return x.sku == item.sku;
      };
      auto i = std::find_if(req.items.begin(), req.items.end(), same);
      if (i == req.items.end()) {
        req.items.push_back(item);
      } else {
        i->quantity += item.quantity;
      }
    }
    s.user_id = req.user_id;
    s.token = req.token;
    for (const auto& item : req.items) {
      auto env = message(sku_address(item.sku), "reserve",
                         json{{"order_id", s.order_id},
                              {"token", req.token},
                              {"quantity", item.quantity}});
      env.id = "order/" + s.order_id + "#req." + std::to_string(req.token) + "."
               + item.sku;
      o.requests.push_back(std::move(env));
    }
    if (!req.coupon_id.empty()) {
      auto env = message(address{"coupon", req.coupon_id}, "lock",
                         json{{"order_id", s.order_id},
                              {"user_id", req.user_id},
                              {"token", req.token}});
      env.id = "order/" + s.order_id + "#req." + std::to_string(req.token)
               + ".coupon";
      o.requests.push_back(std::move(env));
    }
    s.creating = state::creating_t{std::move(req), ctx.now, {}, std::nullopt};
    o.defer_tag = "create";
    return o;
  }

  outcome operator()(const reserved& r) {
    outcome o;
    o.cause = "reserve.reply sku=" + r.sku
              + (r.err ? std::string{" error="} + to_string(r.err->code)
                       : std::string{" ok"});
    if (!s.creating) {
      return o;
    }
    auto& cr = *s.creating;
    auto same_sku = [&r](const auto& x) {
      return x.sku == r.sku;
    };
    if (std::none_of(cr.request.items.begin(), cr.request.items.end(), same_sku)
        || std::any_of(cr.answers.begin(), cr.answers.end(), same_sku)) {
      return o;
    }
    cr.answers.push_back(r);
    return finish_create(o);
  }

  outcome operator()(const coupon_locked& c) {
    outcome o;
    o.cause = "lock.reply coupon=" + c.coupon_id
              + (c.err ? std::string{" error="} + to_string(c.err->code)
                       : std::string{" ok"});
    if (!s.creating || s.creating->coupon
        || c.coupon_id != s.creating->request.coupon_id) {
      return o;
    }
    s.creating->coupon = c;
    return finish_create(o);
  }

  /// Once every SKU (and the coupon) has answered: the order exists, or the
  /// create is refused and whatever was locked for it is given back.
  outcome finish_create(outcome& o) {
    auto& cr = *s.creating;
    bool wants_coupon = !cr.request.coupon_id.empty();
    if (cr.answers.size() < cr.request.items.size()
        || (wants_coupon && !cr.coupon)) {
      return o;
    }
    // Pair answers with the request's items, in order.
    std::vector<const reserved*> answers;
    const reserved* first_failure = nullptr;
    for (const auto& item : cr.request.items) {
      auto same = [&item](const reserved& a) {
        return a.sku == item.sku;
      };
      const auto& a = *std::find_if(cr.answers.begin(), cr.answers.end(), same);
      answers.push_back(&a);
      if (a.err && first_failure == nullptr) {
        first_failure = &a;
      }
    }
    const create& req = cr.request;
    // The total must fit the amounts a payment can carry; a huge order is
    // refused like a failed reservation (and what was reserved released).
    std::int64_t total = 0;
    bool too_large = false;
    for (std::size_t i = 0; i < req.items.size() && !first_failure; ++i) {
      std::int64_t line = 0;
      too_large = too_large
                  || __builtin_mul_overflow(req.items[i].quantity,
                                            answers[i]->unit_price, &line)
                  || __builtin_add_overflow(total, line, &total)
                  || total > max_amount;
    }
    std::optional<error> refusal;
    if (first_failure != nullptr) {
      refusal = first_failure->err;
    } else if (too_large) {
      refusal
        = error{errc::bad_request,
                "order total exceeds " + std::to_string(max_amount) + " cents"};
    } else if (wants_coupon) {
      refusal = coupon_refusal(*cr.coupon, total);
    }
    if (refusal) {
      for (const auto* a : answers) {
        if (!a->err || ambiguous(a->err)) {
          o.outbox.push_back(message(sku_address(a->sku), "release",
                                     release_body(s, req.token)));
        }
      }
      if (wants_coupon && (!cr.coupon->err || ambiguous(cr.coupon->err))) {
        o.outbox.push_back(message(address{"coupon", req.coupon_id}, "release",
                                   release_body(s, req.token)));
      }
      number_outbox(o,
                    "order/" + s.order_id + "#r" + std::to_string(req.token));
      o.resolves.push_back(resolution{"create", refusal});
      s.user_id.clear();
      s.token = 0;
      s.creating.reset();
      return o;
    }
    s.st = status::pending_payment;
    s.user_id = req.user_id;
    s.token = req.token;
    s.items.clear();
    for (std::size_t i = 0; i < req.items.size(); ++i) {
      const auto& item = req.items[i];
      s.items.push_back(line_item{item.sku, item.quantity,
                                  answers[i]->unit_price, answers[i]->kind});
    }
    s.amount = total;
    s.discount = wants_coupon ? std::min(cr.coupon->discount, total) : 0;
    s.payable = s.amount - s.discount;
    s.coupon_id = req.coupon_id;
    s.affiliate_id = req.affiliate_id;
    s.fingerprint = req.fingerprint;
    s.created_at = ctx.now;
    s.pay_deadline = ctx.now + config_of(ctx).payment_timeout;
    s.cancel_reason.clear();
    s.payments.clear();
    o.timers.push_back(timer_op{"deadline", s.pay_deadline});
    o.resolves.push_back(resolution{"create", std::nullopt});
    tell_notifier(s, o, "order_created", s.created_at);
    tell_affiliate(
      s, o, "pending",
      json{{"order_id", s.order_id},
           {"amount", commission(s.payable, config_of(ctx).commission_ppm)}});
    o.cause = "create user=" + req.user_id
              + " token=" + std::to_string(req.token) + " (stock reserved"
              + (wants_coupon ? ", coupon locked)" : ")");
    s.creating.reset();
    commit(s, o, "created", ctx);
    return o;
  }

  /// Why the coupon's answer refuses an order of `total` cents, if it does.
  static std::optional<error> coupon_refusal(const coupon_locked& c,
                                             std::int64_t total) {
    if (c.err) {
      if (c.err->code == errc::not_found) {
        return error{errc::coupon_unavailable,
                     "coupon " + c.coupon_id + " does not exist"};
      }
      return c.err;
    }
    if (total < c.min_amount) {
      return error{errc::coupon_unavailable,
                   "coupon " + c.coupon_id + " needs an order of at least "
                     + std::to_string(c.min_amount) + " cents, this one is "
                     + std::to_string(total)};
    }
    return std::nullopt;
  }

  outcome operator()(const cancel& c) {
    outcome o;
    auto reason = c.reason.empty() ? std::string{"user"} : c.reason;
    o.cause = "cancel reason=" + reason;
    switch (s.st) {
      case status::none:
        o.err = error{errc::not_found, "order " + s.order_id + " not found"};
        return o;
      case status::pending_payment:
        cancel_effects(s, o, std::move(reason), ctx.now);
        commit(s, o, "cancelled", ctx);
        return o;
      case status::cancelled: return o;
      case status::paid:
      case status::dispatched:
      case status::completed:
      case status::refunded:
        o.err = error{errc::already_paid, "order is paid; use the refund path"};
        return o;
      case status::manual_intervention: break;
    }
    o.err = error{errc::invalid_transition,
                  std::string{"cannot cancel an order in status "}
                    + to_string(s.st)};
    return o;
  }

  outcome operator()(const deadline&) {
    outcome o;
    o.cause = "timer deadline";
    if (s.st == status::pending_payment) {
      cancel_effects(s, o, "timeout", ctx.now);
      commit(s, o, "timed_out", ctx);
    }
    return o;
  }

  outcome operator()(const pay& p) {
    outcome o;
    o.cause = "pay txn=" + p.txn_id + " amount=" + std::to_string(p.amount)
              + (p.success ? "" : " failed");
    if (s.st == status::none) {
      o.err = error{errc::not_found, "order " + s.order_id + " not found"};
      return o;
    }
    if (p.txn_id.empty() || p.amount < 0) {
      o.err = error{errc::bad_request, "payment needs a txn_id and an amount"};
      return o;
    }
    auto same_txn = [&p](const payment& x) {
      return x.txn_id == p.txn_id;
    };
    if (std::any_of(s.payments.begin(), s.payments.end(), same_txn)) {
      o.result = "duplicate";
      return o;
    }
    if (!p.success) {
      o.result = "ignored";
      return o;
    }
    if (s.st == status::pending_payment) {
      if (ctx.now > s.pay_deadline) {
        cancel_effects(s, o, "timeout", ctx.now);
        refund_anomaly(s, o, p);
        commit(s, o, "timed_out+payment_refunded", ctx);
        return o;
      }
      if (p.amount == s.payable) {
        s.st = status::paid;
        s.payments.push_back(
          payment{p.txn_id, p.amount, payment_status::captured, ""});
        for (const auto& item : s.items) {
          o.outbox.push_back(message(sku_address(item.sku), "confirm",
                                     json{{"order_id", s.order_id},
                                          {"token", s.token},
                                          {"quantity", item.quantity}}));
        }
        tell_coupon(s, o, "consume", order_body(s));
        tell_dispatcher(s, o, "order_paid",
                        json{{"order_id", s.order_id}, {"at", ctx.now}});
        o.timers.push_back(timer_op{"deadline", 0});
        o.result = "captured";
        commit(s, o, "paid", ctx);
        return o;
      }
    }
    refund_anomaly(s, o, p);
    commit(s, o, "payment_refunded", ctx);
    return o;
  }

  outcome operator()(const refund&) {
    outcome o;
    o.cause = "refund";
    switch (s.st) {
      case status::none:
        o.err = error{errc::not_found, "order " + s.order_id + " not found"};
        return o;
      case status::paid:
      case status::dispatched:
      case status::completed:
        refund_effects(s, o, s.st != status::paid, "");
        commit(s, o, "refunded", ctx);
        return o;
      case status::refunded: return o;
      default: break;
    }
    o.err = error{errc::invalid_transition,
                  std::string{"cannot refund an order in status "}
                    + to_string(s.st)};
    return o;
  }

  outcome operator()(const complete&) {
    outcome o;
    o.cause = "complete";
    switch (s.st) {
      case status::none:
        o.err = error{errc::not_found, "order " + s.order_id + " not found"};
        return o;
      case status::paid:
      case status::dispatched:
        s.st = status::completed;
        tell_affiliate(s, o, "settle", order_body(s));
        commit(s, o, "completed", ctx);
        return o;
      case status::completed: return o;
      default: break;
    }
    o.err = error{errc::invalid_transition,
                  std::string{"cannot complete an order in status "}
                    + to_string(s.st)};
    return o;
  }

  outcome operator()(const refund_done& r) {
    outcome o;
    o.cause = "refund_done refund_id=" + r.refund_id;
    for (auto& pm : s.payments) {
      if (pm.refund_id == r.refund_id
          && pm.status == payment_status::refund_pending) {
        pm.status = payment_status::refunded;
        commit(s, o, "refund_completed", ctx);
        break;
      }
    }
    return o;
  }

  outcome operator()(const shortfall& sf) {
    outcome o;
    o.cause = "shortfall sku=" + sf.sku;
    auto same = [&sf](const line_item& x) {
      return x.sku == sf.sku;
    };
    if (s.st != status::paid
        || std::none_of(s.items.begin(), s.items.end(), same)) {
      return o;
    }
    s.cancel_reason = "stock_shortfall";
    refund_effects(s, o, false, sf.sku);
    o.signals.emplace_back("stock_shortfall");
    commit(s, o, "stock_shortfall", ctx);
    return o;
  }

  outcome operator()(const status_query&) {
    outcome o;
    o.cause = "status";
    if (s.st == status::none) {
      o.err = error{errc::not_found, "order " + s.order_id + " not found"};
      return o;
    }
    o.reply = json{{"status", to_string(s.st)}};
    return o;
  }

  outcome operator()(const coupon_conflict& c) {
    outcome o;
    o.cause = "coupon_conflict coupon=" + c.coupon_id;
    if (c.coupon_id != s.coupon_id) {
      return o;
    }
    if (s.st != status::paid) {
      // Shipped or already refunded: nothing safe to undo here; a human
      // decides (the signal raises an alert).
      o.signals.emplace_back("coupon_conflict_unresolved");
      return o;
    }
    // The discount was not ours to take: the payment goes back in full.
    s.cancel_reason = "coupon_conflict";
    refund_effects(s, o, false, "");
    o.signals.emplace_back("coupon_conflict");
    commit(s, o, "coupon_conflict", ctx);
    return o;
  }

  outcome operator()(const reissue_refunds&) {
    outcome o;
    o.cause = "reissue_refunds (auditor)";
    for (auto& pm : s.payments) {
      if (pm.status == payment_status::captured && s.st == status::cancelled) {
        pm.status = payment_status::refund_pending;
        pm.refund_id = refund_id_of(pm.txn_id);
      }
      if (pm.status == payment_status::refund_pending) {
        o.outbox.push_back(
          message(payment_address(), "refund", refund_body(s, pm)));
      }
    }
    if (!o.outbox.empty()) {
      o.signals.emplace_back("refund_reissued");
      commit(s, o, "refunds_reissued", ctx);
    }
    return o;
  }

  outcome operator()(const dispatched& d) {
    outcome o;
    o.cause = "dispatched technician=" + d.technician;
    if (s.st != status::paid) {
      return o; // refunded meanwhile: the dispatcher recalls
    }
    s.st = status::dispatched;
    s.technician = d.technician;
    commit(s, o, "dispatched", ctx);
    return o;
  }

  outcome reused(outcome& o) {
    o.err = error{errc::idempotency_key_reused,
                  "Idempotency-Key was used with another request body"};
    return o;
  }
};

// -- decoding helpers: never throw ------------------------------------------

// -- persistence -------------------------------------------------------------

status parse_status(const std::string& s) {
  for (auto st : {status::pending_payment, status::paid, status::dispatched,
                  status::completed, status::cancelled, status::refunded,
                  status::manual_intervention}) {
    if (s == to_string(st)) {
      return st;
    }
  }
  return status::none;
}

payment_status parse_payment_status(const std::string& s) {
  if (s == "REFUND_PENDING") {
    return payment_status::refund_pending;
  }
  if (s == "REFUNDED") {
    return payment_status::refunded;
  }
  return payment_status::captured;
}

} // namespace

const char* to_string(status s) noexcept {
  switch (s) {
    case status::none: return "NONE";
    case status::pending_payment: return "PENDING_PAYMENT";
    case status::paid: return "PAID";
    case status::dispatched: return "DISPATCHED";
    case status::completed: return "COMPLETED";
    case status::cancelled: return "CANCELLED";
    case status::refunded: return "REFUNDED";
    case status::manual_intervention: return "MANUAL_INTERVENTION";
  }
  return "NONE";
}

const char* to_string(payment_status s) noexcept {
  switch (s) {
    case payment_status::captured: return "CAPTURED";
    case payment_status::refund_pending: return "REFUND_PENDING";
    case payment_status::refunded: return "REFUNDED";
  }
  return "CAPTURED";
}

std::int64_t commission(std::int64_t payable, std::int64_t ppm) noexcept {
  if (payable <= 0 || ppm <= 0) {
    return 0;
  }
  return static_cast<std::int64_t>(static_cast<__int128>(payable) * ppm
                                   / 1'000'000);
}

bool has_service(const state& s) noexcept {
  return std::any_of(s.items.begin(), s.items.end(), [](const line_item& i) {
    return i.kind == item_kind::service;
  });
}

outcome handle(state& s, const input& in, const context& ctx) {
  return std::visit(handler{s, ctx}, in);
}

result<input> decode(const envelope& msg) {
  const auto& b = msg.body;
  if (!b.is_object()) {
    return detail::malformed("order", msg, "body is not an object");
  }
  if (msg.type == "reserve.reply") {
    auto from = get_string(b, "from");
    if (!from || from->empty()) {
      return detail::malformed("order", msg, "missing 'from'");
    }
    // Once the answering SKU is known, a garbled answer is a failed answer:
    // dropping it would leave the create waiting forever.
    reserved r;
    r.sku = *from;
    if ((r.err = detail::reply_error(b))) {
      return input{std::move(r)};
    }
    auto price = get_int(b, "unit_price");
    auto kind_name = get_string(b, "kind");
    auto kind = kind_name ? parse_item_kind(*kind_name) : std::nullopt;
    if (!price || *price < 0 || !kind) {
      r.err = error{errc::internal, "malformed reserve reply from " + r.sku};
      return input{std::move(r)};
    }
    r.unit_price = *price;
    r.kind = *kind;
    return input{std::move(r)};
  }
  if (msg.type == "lock.reply") {
    auto from = get_string(b, "from");
    if (!from || from->empty()) {
      return detail::malformed("order", msg, "missing 'from'");
    }
    coupon_locked c;
    c.coupon_id = *from;
    if ((c.err = detail::reply_error(b))) {
      return input{std::move(c)};
    }
    auto discount = get_int(b, "discount");
    auto min_amount = get_int(b, "min_amount");
    if (!discount || *discount < 0 || !min_amount || *min_amount < 0) {
      c.err = error{errc::internal, "malformed lock reply from " + c.coupon_id};
    } else {
      c.discount = *discount;
      c.min_amount = *min_amount;
    }
    return input{std::move(c)};
  }
  if (msg.type == "status") {
    return input{status_query{}};
  }
  if (msg.type == "coupon_conflict") {
    auto id = get_string(b, "coupon_id");
    if (!id || id->empty()) {
      return detail::malformed("order", msg, "missing 'coupon_id'");
    }
    return input{coupon_conflict{*id}};
  }
  if (msg.type == "dispatched") {
    auto id = get_string(b, "dispatch_id");
    auto tech = get_string(b, "technician");
    if (!id || id->empty() || !tech || tech->empty()) {
      return detail::malformed("order", msg,
                               "missing 'dispatch_id' or 'technician'");
    }
    return input{dispatched{*id, *tech}};
  }
  if (msg.type == "reissue_refunds") {
    return input{reissue_refunds{}};
  }
  if (msg.type == "refund_done") {
    auto id = get_string(b, "refund_id");
    if (!id || id->empty()) {
      return detail::malformed("order", msg, "missing 'refund_id'");
    }
    return input{refund_done{*id}};
  }
  if (msg.type == "shortfall") {
    auto sku = get_string(b, "sku");
    if (!sku || sku->empty()) {
      return detail::malformed("order", msg, "missing 'sku'");
    }
    return input{shortfall{*sku}};
  }
  if (msg.type == "timer") {
    if (get_string(b, "name") != std::optional<std::string>{"deadline"}) {
      return detail::malformed("order", msg, "unknown timer");
    }
    return input{deadline{}};
  }
  return detail::malformed("order", msg, "unknown message type");
}

// Stored form (not the API form; `creating` is never stored):
//   {"id","user","st","v","items":[{"sku","q","p","k"}],"amt","disc","pay",
//    "coupon","aff","parent","children":[...],"created","updated","deadline",
//    "reason","payments":[{"txn","amt","st","rf"}],"tech","fp","token"}
void to_json(nlohmann::json& j, const state& s) {
  json items = json::array();
  for (const auto& i : s.items) {
    items.push_back(json{{"sku", i.sku},
                         {"q", i.quantity},
                         {"p", i.unit_price},
                         {"k", to_string(i.kind)}});
  }
  json payments = json::array();
  for (const auto& p : s.payments) {
    payments.push_back(json{{"txn", p.txn_id},
                            {"amt", p.amount},
                            {"st", to_string(p.status)},
                            {"rf", p.refund_id}});
  }
  j = json{{"id", s.order_id},
           {"user", s.user_id},
           {"st", to_string(s.st)},
           {"v", s.version},
           {"items", std::move(items)},
           {"amt", s.amount},
           {"disc", s.discount},
           {"pay", s.payable},
           {"coupon", s.coupon_id},
           {"aff", s.affiliate_id},
           {"parent", s.parent_id},
           {"children", s.children},
           {"created", s.created_at},
           {"updated", s.updated_at},
           {"deadline", s.pay_deadline},
           {"reason", s.cancel_reason},
           {"payments", std::move(payments)},
           {"tech", s.technician},
           {"fp", s.fingerprint},
           {"token", s.token}};
}

void from_json(const nlohmann::json& j, state& s) {
  state r;
  r.order_id = j.value("id", std::string{});
  r.user_id = j.value("user", std::string{});
  r.st = parse_status(j.value("st", std::string{}));
  r.version = j.value("v", std::uint64_t{0});
  if (auto i = j.find("items"); i != j.end() && i->is_array()) {
    for (const auto& x : *i) {
      line_item li;
      li.sku = x.value("sku", std::string{});
      li.quantity = x.value("q", std::int64_t{0});
      li.unit_price = x.value("p", std::int64_t{0});
      li.kind = parse_item_kind(x.value("k", std::string{}))
                  .value_or(item_kind::goods);
      r.items.push_back(std::move(li));
    }
  }
  r.amount = j.value("amt", std::int64_t{0});
  r.discount = j.value("disc", std::int64_t{0});
  r.payable = j.value("pay", std::int64_t{0});
  r.coupon_id = j.value("coupon", std::string{});
  r.affiliate_id = j.value("aff", std::string{});
  r.parent_id = j.value("parent", std::string{});
  if (auto i = j.find("children"); i != j.end() && i->is_array()) {
    r.children = i->get<std::vector<std::string>>();
  }
  r.created_at = j.value("created", millis{0});
  r.updated_at = j.value("updated", millis{0});
  r.pay_deadline = j.value("deadline", millis{0});
  r.cancel_reason = j.value("reason", std::string{});
  if (auto i = j.find("payments"); i != j.end() && i->is_array()) {
    for (const auto& x : *i) {
      payment p;
      p.txn_id = x.value("txn", std::string{});
      p.amount = x.value("amt", std::int64_t{0});
      p.status = parse_payment_status(x.value("st", std::string{}));
      p.refund_id = x.value("rf", std::string{});
      r.payments.push_back(std::move(p));
    }
  }
  r.technician = j.value("tech", std::string{});
  r.fingerprint = j.value("fp", std::string{});
  r.token = j.value("token", std::uint64_t{0});
  s = std::move(r);
}

} // namespace ordo::actors::order
