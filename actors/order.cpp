#include "actors/order.hpp"

#include "actors/attribution.hpp"
#include "actors/coupon.hpp"
#include "actors/detail/support.hpp"
#include "actors/dispatcher.hpp"
#include "actors/inventory.hpp"
#include "actors/planted.hpp"
#include "actors/provider.hpp"
#include "actors/reports.hpp"

#include <algorithm>
#include <limits>
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
  return address{inventory::kind, sku};
}

address payment_address() {
  return address{provider::kind, ""};
}

/// The refund id of payment `txn_id` of order `s`: "rf-" txn_id, and for a
/// child (whose payment may be its share of the parent's) "@" its id.
std::string refund_id_of(const state& s, const std::string& txn_id) {
  return s.parent_id.empty() ? "rf-" + txn_id
                             : "rf-" + txn_id + "@" + s.order_id;
}

/// The order whose name the stock reservations (and the coupon lock) are
/// held in: a child's are its parent's.
const std::string& holder(const state& s) {
  return s.parent_id.empty() ? s.order_id : s.parent_id;
}

bool top_level(const state& s) {
  return s.parent_id.empty();
}

/// A paid child can no longer be cancelled: its status only moves on.
bool past_payment(status st) {
  return st == status::paid || st == status::dispatched
         || st == status::completed || st == status::refunded;
}

/// Records a state change (see detail::record).
void commit(state& s, outcome& o, std::string event, const context& ctx) {
  detail::record(s, o, std::move(event), ctx.now, "order/" + s.order_id);
}

/// The release of what `to` (an SKU or the coupon) holds for this order's
/// create attempt `token`.
envelope release_to(const address& to, const state& s, std::uint64_t token) {
  if (to.kind == coupon::kind) {
    return envelope_to(to, coupon::release{holder(s), token});
  }
  return envelope_to(to, inventory::release{holder(s), token});
}

provider::refund refund_of(const state& s, const payment& p) {
  return provider::refund{p.refund_id, p.txn_id, p.amount, s.order_id};
}

/// `m` to the order's affiliate, if it has one.
template <class M>
void tell_affiliate(const state& s, outcome& o, const M& m) {
  if (!s.affiliate_id.empty()) {
    o.outbox.push_back(
      envelope_to(address{attribution::kind, s.affiliate_id}, m));
  }
}

/// `m` to the order's coupon, if it has one.
template <class M>
void tell_coupon(const state& s, outcome& o, const M& m) {
  if (!s.coupon_id.empty()) {
    o.outbox.push_back(envelope_to(address{coupon::kind, s.coupon_id}, m));
  }
}

/// The order's one timer (order.hpp, "wake").
constexpr const char* wake_timer = "wake";

/// Adds what a turn of the order's notifications caused to the order's
/// turn: messages (numbered by the order's commit) and signals. Its timer
/// is the order's "wake", armed for the SMS's `due` (keep_one_timer).
void merge_notify(outcome& o, outcome&& n) {
  for (auto& m : n.outbox) {
    o.outbox.push_back(std::move(m));
  }
  for (auto& sig : n.signals) {
    o.signals.push_back(std::move(sig));
  }
}

/// True while the payment deadline may still cancel the order.
bool awaits_deadline(const state& s) {
  return s.st == status::pending_payment && top_level(s) && !s.saga;
}

/// Arms, moves or disarms "wake" when the turn changed wake_at() from
/// `before`. A turn of the timer itself (`woken`: its record is gone)
/// re-arms it for what comes next; one that left what was due undone would
/// fire again at once, so it is not re-armed but signalled.
void keep_one_timer(const state& s, outcome& o, millis before, bool woken,
                    millis now) {
  auto after = wake_at(s);
  if (after != before) {
    o.timers.push_back(timer_op{wake_timer, after});
  } else if (woken && after > 0 && after <= now) {
    o.signals.emplace_back("order_wake_unresolved");
  }
}

/// Runs the order's admin SMS (actors/notifier.hpp) on `in` inside this
/// turn; returns what it did ("" if nothing changed). Its "status" check
/// is answered at once with the order's own status, so the double check
/// and the send happen in the turn that reads the order.
std::string notify(state& s, outcome& o, const notifier::input& in, millis now,
                   const config& cfg) {
  auto sms = sms_of(s).value_or(notifier::state{});
  sms.order_id = s.order_id;
  notifier::context nctx{now, &cfg.notify, kind};
  auto n = notifier::handle(sms, in, nctx);
  std::string event = std::move(n.event);
  bool asks_status = !n.requests.empty();
  merge_notify(o, std::move(n));
  if (asks_status) {
    auto answered = notifier::handle(
      sms, notifier::status_reply{std::nullopt, to_string(s.st)}, nctx);
    if (!answered.event.empty()) {
      event += "+" + answered.event;
    }
    merge_notify(o, std::move(answered));
  }
  s.sms = notifier::pack(sms);
  return event;
}

/// A cancelled top-level order tells its admin SMS: kept in the order, or
/// by its "notifier" actor for an order stored before orders kept it.
void notify_cancelled(state& s, outcome& o, millis now, const config& cfg) {
  if (s.sms) {
    notify(s, o, notifier::order_cancelled{s.order_id, now}, now, cfg);
    return;
  }
  o.outbox.push_back(envelope_to(address{notifier::kind, s.order_id},
                                 notifier::order_cancelled{s.order_id, now}));
}

/// Counts this transition in the report shard of the order's partition, in
/// this turn's batch: top-level orders report placed, paid, cancelled and
/// manual; refunds are reported by whoever refunds (a child refunds its
/// share).
void report(const state& s, outcome& o, reports::event_kind what,
            bool flash = false) {
  if (!top_level(s) && what != reports::event_kind::refunded) {
    return;
  }
  // Never refused: an order has an id, a user and a non-negative payable.
  (void)reports::count({what, s.order_id, s.user_id, s.payable, flash}, o);
}

/// A child tells its parent its status as of version `version` (and why it
/// refuses a cancel, if it does).
void tell_parent(const state& s, outcome& o, std::uint64_t version,
                 const std::string& refused = "") {
  if (top_level(s)) {
    return;
  }
  o.outbox.push_back(
    envelope_to(address{kind, s.parent_id},
                child_status{s.order_id, s.st, version, refused}));
}

/// `m` to the order's dispatcher, if it holds service items.
template <class M>
void tell_dispatcher(const state& s, outcome& o, const M& m) {
  if (has_service(s)) {
    o.outbox.push_back(envelope_to(address{dispatcher::kind, s.order_id}, m));
  }
}

/// PENDING_PAYMENT -> CANCELLED: give the stock (a parent's children give
/// theirs) and the coupon back, ask the provider to close the payment, void
/// the commission, tell the notifier and the report, disarm the timers. A
/// child only gives its stock back: the rest is its parent's.
/// `requested_at` is when the cancel was asked for (flash cancels).
void cancel_effects(state& s, outcome& o, std::string reason, millis now,
                    millis requested_at, const config& cfg) {
  s.st = status::cancelled;
  s.cancel_reason = std::move(reason);
  if (!is_parent(s)) {
    for (const auto& item : s.items) {
      o.outbox.push_back(release_to(sku_address(item.sku), s, s.token));
    }
  }
  if (top_level(s)) {
    tell_coupon(s, o, coupon::release{holder(s), s.token});
    o.outbox.push_back(
      envelope_to(payment_address(), provider::close{s.order_id}));
    tell_affiliate(s, o, attribution::invalidate{s.order_id});
    notify_cancelled(s, o, now, cfg);
  }
  if (is_parent(s)) {
    o.timers.push_back(timer_op{"saga", 0});
    s.saga.reset();
  }
  bool flash = s.cancel_reason != "timeout"
               && requested_at - s.created_at <= cfg.flash_window;
  report(s, o, reports::event_kind::cancelled, flash);
}

/// Records a payment that cannot be applied and refunds it (rule 2).
void refund_anomaly(state& s, outcome& o, const pay& p) {
  payment pm{p.txn_id, p.amount, payment_status::refund_pending,
             refund_id_of(s, p.txn_id)};
  o.outbox.push_back(envelope_to(payment_address(), refund_of(s, pm)));
  s.payments.push_back(std::move(pm));
  o.signals.emplace_back("refund_anomaly");
  o.result = "refunded";
}

/// Every captured payment becomes owed back to the payer.
void refund_captured(state& s, outcome& o) {
  for (auto& pm : s.payments) {
    if (pm.status == payment_status::captured) {
      pm.status = payment_status::refund_pending;
      pm.refund_id = refund_id_of(s, pm.txn_id);
      o.outbox.push_back(envelope_to(payment_address(), refund_of(s, pm)));
    }
  }
}

/// Sends the sold units of every item (but `except`) back to its SKU.
void restock_items(const state& s, outcome& o, const std::string& except) {
  for (const auto& item : s.items) {
    if (item.sku != except) {
      o.outbox.push_back(envelope_to(
        sku_address(item.sku), inventory::restock{holder(s), item.quantity}));
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
  tell_affiliate(s, o, attribution::invalidate{s.order_id});
  tell_dispatcher(s, o, dispatcher::order_refunded{s.order_id});
  report(s, o, reports::event_kind::refunded);
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
      if (fingerprint_hash(c.fingerprint) != s.fingerprint) {
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
      } else if (__builtin_add_overflow(i->quantity, item.quantity,
                                        &i->quantity)) {
        i->quantity = std::numeric_limits<std::int64_t>::max();
      }
    }
    // The limit is on the SKU, not the line: repeating a line adds up.
    for (const auto& item : req.items) {
      if (item.quantity > max_quantity) {
        return bad("quantity of " + item.sku + " adds up to more than "
                   + std::to_string(max_quantity));
      }
    }
    s.user_id = req.user_id;
    s.token = req.token;
    o.defer_tag = "create";
    s.creating = state::creating_t{};
    s.creating->started_at = ctx.now;
    if (req.items.size() == 1 && req.coupon_id.empty()) {
      // One SKU and no coupon: its reserve checks all a quote would (the
      // SKU, its stock, the total against max_amount) and holds nothing
      // when it refuses, so it goes at once.
      s.creating->request = std::move(req);
      reserve_all(o);
      return o;
    }
    // Nothing is reserved before everything that can be checked is.
    for (const auto& item : req.items) {
      o.requests.push_back(
        request(envelope_to(sku_address(item.sku),
                            inventory::quote{s.order_id, item.quantity}),
                "q", req.token, item.sku));
    }
    if (!req.coupon_id.empty()) {
      o.requests.push_back(
        request(envelope_to(address{coupon::kind, req.coupon_id},
                            coupon::check{s.order_id, req.user_id}),
                "q", req.token, "coupon"));
    }
    s.creating->request = std::move(req);
    return o;
  }

  /// A request of the create attempt `token`, id "order/" id "#" what "."
  /// token "." name.
  envelope request(envelope env, const std::string& what, std::uint64_t token,
                   const std::string& name) const {
    env.id = "order/" + s.order_id + "#" + what + "." + std::to_string(token)
             + "." + name;
    return env;
  }

  /// The checks passed: reserve every SKU and lock the coupon.
  void reserve_all(outcome& o) {
    auto& cr = *s.creating;
    const auto& req = cr.request;
    // The deadline is fixed at the create's arrival, before any stock is
    // held, so that each SKU can hold its units until after it (see
    // finish_create).
    const auto deadline = cr.started_at + config_of(ctx).payment_timeout;
    for (const auto& item : req.items) {
      inventory::reserve r{s.order_id, req.token, item.quantity};
      r.pay_deadline = deadline;
      r.margin = config_of(ctx).reservation_margin;
      r.max_total = max_amount;
      o.requests.push_back(request(envelope_to(sku_address(item.sku), r), "req",
                                   req.token, item.sku));
    }
    if (!req.coupon_id.empty()) {
      o.requests.push_back(
        request(envelope_to(address{coupon::kind, req.coupon_id},
                            coupon::lock{s.order_id, req.user_id, req.token}),
                "req", req.token, "coupon"));
    }
    cr.answers.clear();
    cr.coupon.reset();
    cr.at = state::creating_t::step::reserving;
  }

  /// Answers the create with `refusal` (nothing is held for it any more).
  outcome& refuse(outcome& o, std::optional<error> refusal) {
    o.resolves.push_back(resolution{"create", std::move(refusal)});
    s.user_id.clear();
    s.token = 0;
    s.creating.reset();
    return o;
  }

  outcome operator()(const reserved& r) {
    outcome o;
    o.cause = "reserve.reply sku=" + r.sku
              + (r.err ? std::string{" error="} + to_string(r.err->code)
                       : std::string{" ok"});
    if (!s.creating || !awaits(r.quote)) {
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
    return r.quote ? finish_check(o) : finish_create(o);
  }

  /// True if the create waits for answers to checks (`check`) or to
  /// reservations (not `check`).
  bool awaits(bool check) const {
    using step = state::creating_t::step;
    return s.creating->at == (check ? step::checking : step::reserving);
  }

  outcome operator()(const released& r) {
    outcome o;
    o.cause = "release.reply from=" + r.from;
    if (!s.creating || s.creating->at != state::creating_t::step::releasing) {
      return o;
    }
    auto& waiting = s.creating->releasing;
    auto i = std::find(waiting.begin(), waiting.end(), r.from);
    if (i == waiting.end()) {
      return o;
    }
    waiting.erase(i);
    if (waiting.empty()) {
      auto refusal = s.creating->refusal;
      refuse(o, std::move(refusal));
    }
    return o;
  }

  /// Pairs the answers with the request's items, in order; the first that
  /// failed, if any.
  const reserved* pair_answers(std::vector<const reserved*>& answers) const {
    const auto& cr = *s.creating;
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
    return first_failure;
  }

  /// The order's total at the answers' prices into `total`; false when it
  /// exceeds max_amount.
  bool total_of(const std::vector<const reserved*>& answers,
                std::int64_t& total) const {
    const auto& items = s.creating->request.items;
    total = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
      std::int64_t line = 0;
      if (__builtin_mul_overflow(items[i].quantity, answers[i]->unit_price,
                                 &line)
          || __builtin_add_overflow(total, line, &total)
          || total > max_amount) {
        return false;
      }
    }
    return true;
  }

  /// Every SKU (and the coupon, if the create names one) has answered the
  /// step in progress.
  bool all_answered() const {
    const auto& cr = *s.creating;
    return cr.answers.size() >= cr.request.items.size()
           && (cr.request.coupon_id.empty() || cr.coupon);
  }

  /// Every answer is in: pairs them with the items into `answers`, sums
  /// the total into `total`, and says why the create is refused (an SKU's
  /// or the coupon's answer, or the total), if it is.
  std::optional<error> judge(std::vector<const reserved*>& answers,
                             std::int64_t& total) const {
    const auto& cr = *s.creating;
    const reserved* first_failure = pair_answers(answers);
    if (first_failure != nullptr) {
      return first_failure->err;
    }
    if (!total_of(answers, total)) {
      return too_large();
    }
    if (!cr.request.coupon_id.empty()) {
      return coupon_refusal(*cr.coupon, total);
    }
    return std::nullopt;
  }

  static error too_large() {
    return error{errc::bad_request, "order total exceeds "
                                      + std::to_string(max_amount) + " cents"};
  }

  /// Once every SKU (and the coupon) has answered the checks: refused with
  /// nothing held, or on to reserving.
  outcome finish_check(outcome& o) {
    if (!all_answered()) {
      return o;
    }
    std::vector<const reserved*> answers;
    std::int64_t total = 0;
    auto refusal = judge(answers, total);
    if (refusal) {
      o.cause += " (refused before reserving: "
                 + std::string{to_string(refusal->code)} + ")";
      return refuse(o, std::move(refusal));
    }
    reserve_all(o);
    return o;
  }

  outcome operator()(const coupon_locked& c) {
    outcome o;
    o.cause = "lock.reply coupon=" + c.coupon_id
              + (c.err ? std::string{" error="} + to_string(c.err->code)
                       : std::string{" ok"});
    if (!s.creating || !awaits(c.check) || s.creating->coupon
        || c.coupon_id != s.creating->request.coupon_id) {
      return o;
    }
    s.creating->coupon = c;
    return c.check ? finish_check(o) : finish_create(o);
  }

  /// Once every SKU (and the coupon) has answered: the order exists, or the
  /// create is refused and whatever was locked for it is given back.
  outcome finish_create(outcome& o) {
    if (!all_answered()) {
      return o;
    }
    auto& cr = *s.creating;
    bool wants_coupon = !cr.request.coupon_id.empty();
    std::vector<const reserved*> answers;
    const create& req = cr.request;
    // Checked before reserving; a price changed since, or a SKU or coupon
    // taken by another buyer in between, still refuses here.
    std::int64_t total = 0;
    auto refusal = judge(answers, total);
    if (refusal) {
      // What may be held goes back through the outbox (durable, retried)
      // and, to answer only once it is back, as requests too: a release is
      // idempotent, so the second one changes nothing.
      std::vector<address> holders;
      for (const auto* a : answers) {
        if (!a->err || ambiguous(a->err)) {
          holders.push_back(sku_address(a->sku));
        }
      }
      if (wants_coupon && (!cr.coupon->err || ambiguous(cr.coupon->err))) {
        holders.push_back(address{coupon::kind, req.coupon_id});
      }
      for (std::size_t i = 0; i < holders.size(); ++i) {
        o.outbox.push_back(release_to(holders[i], s, req.token));
        o.requests.push_back(request(release_to(holders[i], s, req.token),
                                     "rel", req.token, std::to_string(i)));
        cr.releasing.push_back(holders[i].id);
      }
      number_outbox(o,
                    "order/" + s.order_id + "#r" + std::to_string(req.token));
      if (holders.empty()) {
        return refuse(o, std::move(refusal));
      }
      cr.refusal = std::move(refusal);
      cr.at = state::creating_t::step::releasing;
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
    s.fingerprint = fingerprint_hash(req.fingerprint);
    s.created_at = ctx.now;
    // The deadline the reserve messages carried: the reservations outlive it.
    s.pay_deadline = cr.started_at + config_of(ctx).payment_timeout;
    s.cancel_reason.clear();
    s.payments.clear();
    split(o);
    if (!is_parent(s)) {
      o.resolves.push_back(resolution{"create", std::nullopt});
    }
    notify(s, o, notifier::order_created{s.order_id, s.created_at}, ctx.now,
           config_of(ctx));
    tell_affiliate(
      s, o,
      attribution::pending{
        s.order_id, commission(s.payable, config_of(ctx).commission_ppm)});
    report(s, o, reports::event_kind::placed);
    o.cause
      = "create user=" + req.user_id + " token=" + std::to_string(req.token)
        + " (stock reserved" + (wants_coupon ? ", coupon locked" : "")
        + (is_parent(s) ? ", split into " + std::to_string(s.children.size())
                            + " children)"
                        : ")");
    s.creating.reset();
    commit(s, o, "created", ctx);
    return o;
  }

  /// Items of more than one kind: one child per kind, each adopted through
  /// the outbox; the create is answered once every child has reported.
  void split(outcome& o) {
    std::vector<item_kind> kinds;
    for (auto k : {item_kind::goods, item_kind::service}) {
      auto of_kind = [k](const line_item& i) {
        return i.kind == k;
      };
      if (std::any_of(s.items.begin(), s.items.end(), of_kind)) {
        kinds.push_back(k);
      }
    }
    s.children.clear();
    if (kinds.size() < 2) {
      return;
    }
    std::int64_t shared = 0;
    for (std::size_t n = 0; n < kinds.size(); ++n) {
      adopt a;
      a.parent_id = s.order_id;
      a.user_id = s.user_id;
      for (const auto& i : s.items) {
        if (i.kind == kinds[n]) {
          a.items.push_back(i);
          a.amount += i.quantity * i.unit_price;
        }
      }
      // The discount in proportion to the amounts; the last child takes
      // what rounding left, so the shares add up to the parent's payable.
      a.discount = n + 1 == kinds.size() ? s.discount - shared
                   : s.amount == 0 // free items: nothing to share
                     ? 0
                     : static_cast<std::int64_t>(
                       static_cast<__int128>(s.discount) * a.amount / s.amount);
      a.discount = std::min(a.discount, a.amount);
      shared += a.discount;
      a.payable = a.amount - a.discount;
      a.created_at = s.created_at;
      a.pay_deadline = s.pay_deadline;
      a.token = s.token;
      child_ref c;
      c.order_id = s.order_id + "-" + std::to_string(n + 1);
      c.kind = kinds[n];
      c.payable = a.payable;
      s.children.push_back(c);
      o.outbox.push_back(envelope_to(address{kind, c.order_id}, a));
    }
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
        if (!top_level(s)) {
          o.err = error{errc::invalid_transition,
                        "order " + s.order_id + " is part of split order "
                          + s.parent_id + ": cancel " + s.parent_id};
          return o;
        }
        if (is_parent(s)) {
          o.defer_tag = "cancel";
          if (!s.saga) {
            commit(s, o, start_cancel(o, std::move(reason)), ctx);
          }
          return o;
        }
        cancel_effects(s, o, std::move(reason), ctx.now, ctx.now,
                       config_of(ctx));
        commit(s, o, "cancelled", ctx);
        return o;
      case status::cancelled: return o;
      case status::paid:
      case status::dispatched:
      case status::completed:
      case status::refunded:
        o.err = error{errc::already_paid, "order is paid; use the refund path"};
        return o;
      case status::manual_intervention:
        o.err = error{errc::invalid_transition,
                      "order " + s.order_id
                        + " needs manual intervention: " + why_manual(s)};
        return o;
    }
    o.err = error{errc::invalid_transition,
                  std::string{"cannot cancel an order in status "}
                    + to_string(s.st)};
    return o;
  }

  // -- the cancel saga of a split parent ------------------------------------

  /// Asks every child that may still cancel to cancel, arms the saga timer,
  /// and settles at once if no child has to answer. Returns the turn's
  /// event.
  std::string start_cancel(outcome& o, std::string reason) {
    s.saga = saga_state{"cancel", std::move(reason), ctx.now};
    for (auto& c : s.children) {
      c.refused.clear();
      if (!past_payment(c.st) && c.st != status::cancelled) {
        o.outbox.push_back(envelope_to(address{kind, c.order_id},
                                       parent_cancel{s.saga->reason}));
      }
    }
    o.timers.push_back(timer_op{"saga", ctx.now + config_of(ctx).saga_timeout});
    auto settled = settle_cancel(o, false);
    return settled.empty() ? "cancelling" : settled;
  }

  /// Why child `c` will not cancel, or "" while it may still.
  static std::string refusal(const child_ref& c) {
    if (!c.refused.empty()) {
      return c.refused;
    }
    if (past_payment(c.st)) {
      return "child " + c.order_id + " is " + to_string(c.st);
    }
    return "";
  }

  /// Ends the saga once every child has answered (or `timed_out`): all
  /// cancelled -> CANCELLED; otherwise MANUAL_INTERVENTION with the reason.
  /// Returns the event, "" while children are still to answer.
  std::string settle_cancel(outcome& o, bool timed_out) {
    std::vector<std::string> refused;
    std::vector<std::string> silent;
    for (const auto& c : s.children) {
      auto why = refusal(c);
      if (!why.empty()) {
        refused.push_back(why);
      } else if (c.st != status::cancelled) {
        silent.push_back(c.order_id);
      }
    }
    if (!silent.empty() && !timed_out) {
      return "";
    }
    auto reason = s.saga ? s.saga->reason : s.cancel_reason;
    auto requested_at = s.saga ? s.saga->started_at : ctx.now;
    o.resolves.push_back(resolution{"cancel", std::nullopt});
    if (refused.empty() && silent.empty()) {
      s.manual_reason.reset();
      cancel_effects(s, o, reason, ctx.now, requested_at, config_of(ctx));
      return reason == "timeout" ? "timed_out" : "cancelled";
    }
    std::string why;
    for (const auto& r : refused) {
      why += (why.empty() ? "" : "; ") + r;
    }
    for (const auto& id : silent) {
      why += (why.empty() ? "" : "; ") + std::string{"child "} + id
             + " did not answer the cancel";
    }
    s.st = status::manual_intervention;
    s.cancel_reason = reason;
    s.manual_reason = "cancel (" + reason + ") could not finish: " + why;
    s.saga.reset();
    o.timers.push_back(timer_op{"saga", 0});
    o.signals.emplace_back("manual_intervention");
    report(s, o, reports::event_kind::manual);
    return "manual_intervention";
  }

  outcome operator()(const child_status& c) {
    outcome o;
    o.cause = "child_status child=" + c.child_id + " status=" + to_string(c.st)
              + " v=" + std::to_string(c.version)
              + (c.refused.empty() ? "" : " refused");
    auto same = [&c](const child_ref& x) {
      return x.order_id == c.child_id;
    };
    auto i = std::find_if(s.children.begin(), s.children.end(), same);
    if (i == s.children.end() || c.version < i->version
        || (c.version == i->version && c.refused.empty())) {
      return o; // not ours, or older than what we know
    }
    i->st = c.st;
    i->version = c.version;
    if (!c.refused.empty()) {
      i->refused = c.refused;
    }
    if (std::all_of(s.children.begin(), s.children.end(),
                    [](const child_ref& x) {
                      return x.st != status::none;
                    })) {
      o.resolves.push_back(resolution{"create", std::nullopt});
    }
    std::string event = "child_status";
    if (s.saga) {
      auto settled = settle_cancel(o, false);
      event = settled.empty() ? event : settled;
    } else if (s.st == status::manual_intervention) {
      // A late answer may complete the cancel after all.
      bool all_cancelled = std::all_of(s.children.begin(), s.children.end(),
                                       [](const child_ref& x) {
                                         return x.st == status::cancelled;
                                       });
      if (all_cancelled) {
        s.manual_reason.reset();
        cancel_effects(s, o, s.cancel_reason, ctx.now, ctx.now, config_of(ctx));
        event = "cancelled";
      }
    }
    commit(s, o, event, ctx);
    return o;
  }

  outcome operator()(const saga_timeout&) {
    outcome o;
    o.cause = "timer saga";
    if (s.saga) {
      commit(s, o, settle_cancel(o, true), ctx);
    }
    return o;
  }

  // -- a child's side of the saga --------------------------------------------

  outcome operator()(const adopt& a) {
    outcome o;
    o.cause = "adopt parent=" + a.parent_id;
    if (s.st != status::none) {
      if (s.parent_id == a.parent_id) {
        tell_parent(s, o, s.version);
        number_outbox(o, "order/" + s.order_id + "#" + std::to_string(s.version)
                           + ".adopt");
      }
      return o;
    }
    if (a.parent_id.empty() || a.items.empty()) {
      o.err = error{errc::bad_request, "adopt needs a parent and items"};
      return o;
    }
    s.st = status::pending_payment;
    s.parent_id = a.parent_id;
    s.user_id = a.user_id;
    s.items = a.items;
    s.amount = a.amount;
    s.discount = a.discount;
    s.payable = a.payable;
    s.created_at = a.created_at;
    s.pay_deadline = a.pay_deadline;
    s.token = a.token;
    tell_parent(s, o, s.version + 1);
    commit(s, o, "adopted", ctx);
    return o;
  }

  outcome operator()(const parent_paid& p) {
    outcome o;
    o.cause
      = "parent_paid txn=" + p.txn_id + " amount=" + std::to_string(p.amount);
    auto same_txn = [&p](const payment& x) {
      return x.txn_id == p.txn_id;
    };
    if (s.st == status::none
        || std::any_of(s.payments.begin(), s.payments.end(), same_txn)) {
      return o;
    }
    if (s.st == status::pending_payment) {
      s.payments.push_back(
        payment{p.txn_id, p.amount, payment_status::captured, ""});
      paid_effects(o);
      tell_parent(s, o, s.version + 1);
      commit(s, o, "paid", ctx);
      return o;
    }
    // Paid on its own already: this share of the parent's payment goes back.
    refund_anomaly(s, o, pay{p.txn_id, p.amount, true});
    tell_parent(s, o, s.version + 1);
    commit(s, o, "payment_refunded", ctx);
    return o;
  }

  outcome operator()(const parent_cancel& c) {
    outcome o;
    o.cause = "parent_cancel reason=" + c.reason;
    if (s.st == status::pending_payment) {
      cancel_effects(s, o, c.reason.empty() ? "user" : c.reason, ctx.now,
                     ctx.now, config_of(ctx));
      tell_parent(s, o, s.version + 1);
      commit(s, o, "cancelled", ctx);
      return o;
    }
    if (s.st != status::none) {
      tell_parent(s, o, s.version,
                  s.st == status::cancelled
                    ? ""
                    : "child " + s.order_id + " is " + to_string(s.st));
      number_outbox(o, "order/" + s.order_id + "#" + std::to_string(s.version)
                         + ".answer");
    }
    return o;
  }

  outcome operator()(const deadline&) {
    outcome o;
    o.cause = "timer deadline";
    if (s.st != status::pending_payment || !top_level(s)) {
      return o;
    }
    if (is_parent(s)) {
      if (!s.saga) {
        commit(s, o, start_cancel(o, "timeout"), ctx);
      }
      return o;
    }
    cancel_effects(s, o, "timeout", ctx.now, ctx.now, config_of(ctx));
    commit(s, o, "timed_out", ctx);
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
    if (std::any_of(s.payments.begin(), s.payments.end(), same_txn)
        && !planted::on(planted::pay_without_dedupe)) {
      o.result = "duplicate";
      return o;
    }
    if (!p.success) {
      o.result = "ignored";
      return o;
    }
    if (s.st == status::pending_payment && !s.saga) {
      if (ctx.now > s.pay_deadline) {
        refund_anomaly(s, o, p);
        if (!top_level(s)) {
          // The parent's deadline cancels the whole split order.
          commit(s, o, "payment_refunded", ctx);
          return o;
        }
        if (is_parent(s)) {
          commit(s, o, start_cancel(o, "timeout") + "+payment_refunded", ctx);
          return o;
        }
        cancel_effects(s, o, "timeout", ctx.now, ctx.now, config_of(ctx));
        commit(s, o, "timed_out+payment_refunded", ctx);
        return o;
      }
      if (p.amount == s.payable) {
        s.payments.push_back(
          payment{p.txn_id, p.amount, payment_status::captured, ""});
        paid_effects(o);
        o.result = "captured";
        tell_parent(s, o, s.version + 1);
        commit(s, o, "paid", ctx);
        return o;
      }
    }
    refund_anomaly(s, o, p);
    commit(s, o, "payment_refunded", ctx);
    return o;
  }

  /// PENDING_PAYMENT -> PAID (the payment is recorded): the stock is sold,
  /// the coupon used, the dispatcher told; a parent pays its children.
  void paid_effects(outcome& o) {
    s.st = status::paid;
    const auto& txn = s.payments.back().txn_id;
    if (is_parent(s)) {
      for (const auto& c : s.children) {
        o.outbox.push_back(
          envelope_to(address{kind, c.order_id}, parent_paid{txn, c.payable}));
      }
    } else {
      for (const auto& item : s.items) {
        o.outbox.push_back(
          envelope_to(sku_address(item.sku),
                      inventory::confirm{holder(s), s.token, item.quantity}));
      }
      tell_dispatcher(s, o, dispatcher::order_paid{s.order_id, ctx.now});
    }
    tell_coupon(s, o, coupon::consume{s.order_id});
    report(s, o, reports::event_kind::paid);
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
        if (is_parent(s)) {
          return per_child(o, "refund");
        }
        refund_effects(s, o, s.st != status::paid, "");
        tell_parent(s, o, s.version + 1);
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
        if (is_parent(s)) {
          return per_child(o, "complete");
        }
        s.st = status::completed;
        tell_affiliate(s, o, attribution::settle{s.order_id});
        tell_parent(s, o, s.version + 1);
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

  /// A paid parent is completed or refunded through its children.
  outcome per_child(outcome& o, const std::string& what) {
    std::string ids;
    for (const auto& c : s.children) {
      ids += (ids.empty() ? "" : ", ") + c.order_id;
    }
    o.err = error{errc::invalid_transition,
                  "order " + s.order_id + " is a split order: " + what
                    + " each of its children (" + ids + ")"};
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
    if (is_parent(s)) {
      // The reservation was the parent's; the sale is the child's.
      auto i = std::find_if(s.items.begin(), s.items.end(), same);
      for (const auto& c : s.children) {
        if (i != s.items.end() && c.kind == i->kind) {
          o.outbox.push_back(
            envelope_to(address{kind, c.order_id}, shortfall{sf.sku}));
          number_outbox(o, "order/" + s.order_id + "#"
                             + std::to_string(s.version) + ".shortfall."
                             + sf.sku);
        }
      }
      return o;
    }
    if (s.st != status::paid
        || std::none_of(s.items.begin(), s.items.end(), same)) {
      return o;
    }
    s.cancel_reason = "stock_shortfall";
    refund_effects(s, o, false, sf.sku);
    tell_parent(s, o, s.version + 1);
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
    o.reply = body_of(status_answer{to_string(s.st)});
    return o;
  }

  outcome operator()(const coupon_conflict& c) {
    outcome o;
    o.cause = "coupon_conflict coupon=" + c.coupon_id;
    if (c.coupon_id != s.coupon_id) {
      return o;
    }
    if (s.st != status::paid || is_parent(s)) {
      // Shipped, already refunded, or paid through children: nothing safe
      // to undo here; a human decides (the signal raises an alert).
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
        pm.refund_id = refund_id_of(s, pm.txn_id);
      }
      if (pm.status == payment_status::refund_pending) {
        o.outbox.push_back(envelope_to(payment_address(), refund_of(s, pm)));
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
    tell_parent(s, o, s.version + 1);
    commit(s, o, "dispatched", ctx);
    return o;
  }

  outcome operator()(const wake&) {
    if (awaits_deadline(s) && ctx.now >= s.pay_deadline) {
      return (*this)(deadline{});
    }
    if (s.sms && s.sms->due > 0 && ctx.now >= s.sms->due) {
      return notify_turn(notifier::check{},
                         std::string{"timer "} + wake_timer + " (sms)");
    }
    outcome o;
    o.cause = std::string{"timer "} + wake_timer + " (nothing due)";
    return o;
  }

  outcome operator()(const sms_sent& sent) {
    return notify_turn(sent, "sms_sent " + sent.notification_id);
  }

  /// A turn of the order's admin SMS alone (its timer, its delivery).
  outcome notify_turn(const notifier::input& in, std::string cause) {
    outcome o;
    o.cause = std::move(cause);
    if (!s.sms) {
      return o; // a child, or an order whose notifier actor keeps its SMS
    }
    auto event = notify(s, o, in, ctx.now, config_of(ctx));
    if (!event.empty()) {
      commit(s, o, "sms " + event, ctx);
    }
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

status parse_status(const std::string& s) noexcept {
  for (auto st : {status::pending_payment, status::paid, status::dispatched,
                  status::completed, status::cancelled, status::refunded,
                  status::manual_intervention}) {
    if (s == to_string(st)) {
      return st;
    }
  }
  return status::none;
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

std::uint64_t fingerprint_hash(std::string_view fingerprint) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : fingerprint) {
    h = (h ^ c) * 0x100000001b3ULL;
  }
  return h;
}

millis wake_at(const state& s) noexcept {
  millis at = 0;
  auto consider = [&at](millis t) {
    if (t > 0 && (at == 0 || t < at)) {
      at = t;
    }
  };
  if (awaits_deadline(s)) {
    consider(s.pay_deadline);
  }
  if (s.sms) {
    consider(s.sms->due);
  }
  return at;
}

std::optional<notifier::state> sms_of(const state& s) {
  if (!s.sms) {
    return std::nullopt;
  }
  return notifier::unpack(*s.sms, s.order_id, s.created_at);
}

const std::string& why_manual(const state& s) noexcept {
  static const std::string none;
  return s.manual_reason ? *s.manual_reason : none;
}

bool has_service(const state& s) noexcept {
  return std::any_of(s.items.begin(), s.items.end(), [](const line_item& i) {
    return i.kind == item_kind::service;
  });
}

outcome handle(state& s, const input& in, const context& ctx) {
  auto before = wake_at(s);
  auto o = std::visit(handler{s, ctx}, in);
  keep_one_timer(s, o, before, std::holds_alternative<wake>(in), ctx.now);
  return o;
}

namespace {

/// The answering actor of a request's reply ("from"); empty if garbled.
std::string replier(const envelope& msg) {
  return get_string(msg.body, "from").value_or("");
}

std::optional<input> decode_timer(const envelope& msg) {
  auto name = get_string(msg.body, "name");
  if (name == std::optional<std::string>{"deadline"}) {
    return input{deadline{}};
  }
  if (name == std::optional<std::string>{"saga"}) {
    return input{saga_timeout{}};
  }
  if (name == std::optional<std::string>{wake_timer}) {
    return input{wake{}};
  }
  return std::nullopt;
}

/// The replies to the order's requests.
std::optional<input> decode_reply(const envelope& msg) {
  bool quote = msg.type == "quote.reply";
  bool check = msg.type == "check.reply";
  if (quote || msg.type == "reserve.reply") {
    reserved r;
    r.sku = replier(msg);
    r.quote = quote;
    inventory::priced p;
    r.err = detail::reply_payload(msg.body, p);
    r.unit_price = p.unit_price;
    r.kind = p.kind;
    return input{std::move(r)};
  }
  if (check || msg.type == "lock.reply") {
    coupon_locked c;
    c.coupon_id = replier(msg);
    c.check = check;
    coupon::terms t;
    c.err = detail::reply_payload(msg.body, t);
    c.discount = t.discount;
    c.min_amount = t.min_amount;
    return input{std::move(c)};
  }
  if (msg.type == "release.reply") {
    return input{released{replier(msg)}};
  }
  return std::nullopt;
}

} // namespace

result<input> decode(const envelope& msg) {
  if (!msg.body.is_object()) {
    return detail::malformed(kind, msg, "body is not an object");
  }
  if (msg.type == "timer") {
    if (auto in = decode_timer(msg)) {
      return std::move(*in);
    }
    return detail::malformed(kind, msg, "unknown timer");
  }
  if (auto in = decode_reply(msg)) {
    // Once the answering actor is known, a garbled answer is a failed
    // answer: dropping it would leave the create waiting forever.
    if (replier(msg).empty()) {
      return detail::malformed(kind, msg, "missing 'from'");
    }
    return std::move(*in);
  }
  if (auto in
      = decode_one_of<input, status_query, coupon_conflict, dispatched,
                      reissue_refunds, sms_sent, refund_done, shortfall, adopt,
                      parent_paid, parent_cancel, child_status>(kind, msg)) {
    return std::move(*in);
  }
  return detail::malformed(kind, msg, "unknown message type");
}

json value(status st) {
  return to_string(st);
}

bool read(const json& j, status& st) {
  if (!j.is_string()) {
    return false;
  }
  st = parse_status(j.get_ref<const std::string&>());
  return st != status::none;
}

const char* line_item::invalid() const {
  return sku.empty() || quantity <= 0 || unit_price < 0 ? "a malformed item"
                                                        : nullptr;
}

const char* refund_done::invalid() const {
  return refund_id.empty() ? "missing 'refund_id'" : nullptr;
}

const char* shortfall::invalid() const {
  return sku.empty() ? "missing 'sku'" : nullptr;
}

const char* coupon_conflict::invalid() const {
  return coupon_id.empty() ? "missing 'coupon_id'" : nullptr;
}

const char* dispatched::invalid() const {
  return dispatch_id.empty() || technician.empty()
           ? "missing 'dispatch_id' or 'technician'"
           : nullptr;
}

const char* adopt::invalid() const {
  return parent_id.empty() || payable < 0 || items.empty() ? "incomplete adopt"
                                                           : nullptr;
}

const char* parent_paid::invalid() const {
  return txn_id.empty() || amount < 0 ? "missing 'txn_id' or 'amount'"
                                      : nullptr;
}

const char* child_status::invalid() const {
  return child_id.empty() ? "incomplete child_status" : nullptr;
}

// Stored form (not the API form; `creating` is never stored):
//   {"id","user","st","v","items":[{"sku","q","p","k"}],"amt","disc","pay",
//    "coupon","aff","parent","children":[{"id","k","pay","st","v","ref"}],
//    "saga":{"op","reason","at"} (a parent's cancel in progress),"manual",
//    "created","updated","deadline","reason",
//    "payments":[{"txn","amt","st","rf"}],"tech","fp","token",
//    "sms": the admin SMS, actors/notifier.hpp's stored form}
//   ("fp" is fingerprint_hash(); a string in stores before the hash)
void to_json(nlohmann::json& j, const state& s) {
  json items = codec::value(s.items);
  json children = json::array();
  for (const auto& c : s.children) {
    children.push_back(json{{"id", c.order_id},
                            {"k", to_string(c.kind)},
                            {"pay", c.payable},
                            {"st", to_string(c.st)},
                            {"v", c.version},
                            {"ref", c.refused}});
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
           {"children", std::move(children)},
           {"created", s.created_at},
           {"updated", s.updated_at},
           {"deadline", s.pay_deadline},
           {"reason", s.cancel_reason},
           {"payments", std::move(payments)},
           {"tech", s.technician},
           {"fp", s.fingerprint},
           {"token", s.token}};
  if (s.saga) {
    j["saga"] = json{{"op", s.saga->op},
                     {"reason", s.saga->reason},
                     {"at", s.saga->started_at}};
  }
  if (s.manual_reason) {
    j["manual"] = *s.manual_reason;
  }
  if (s.sms) {
    j["sms"] = *sms_of(s);
  }
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
  if (auto i = j.find("children"); i != j.end() && i->is_array()) {
    for (const auto& x : *i) {
      child_ref c;
      c.order_id = x.value("id", std::string{});
      c.kind = parse_item_kind(x.value("k", std::string{}))
                 .value_or(item_kind::goods);
      c.payable = x.value("pay", std::int64_t{0});
      c.st = parse_status(x.value("st", std::string{}));
      c.version = x.value("v", std::uint64_t{0});
      c.refused = x.value("ref", std::string{});
      r.children.push_back(std::move(c));
    }
  }
  if (auto i = j.find("saga"); i != j.end() && i->is_object()) {
    r.saga = saga_state{i->value("op", std::string{}),
                        i->value("reason", std::string{}),
                        i->value("at", millis{0})};
  }
  if (auto why = j.value("manual", std::string{}); !why.empty()) {
    r.manual_reason = std::move(why);
  }
  r.amount = j.value("amt", std::int64_t{0});
  r.discount = j.value("disc", std::int64_t{0});
  r.payable = j.value("pay", std::int64_t{0});
  r.coupon_id = j.value("coupon", std::string{});
  r.affiliate_id = j.value("aff", std::string{});
  r.parent_id = j.value("parent", std::string{});
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
  // Stores before the hash kept the fingerprint itself.
  if (auto i = j.find("fp"); i != j.end()) {
    r.fingerprint = i->is_string()
                      ? fingerprint_hash(i->get_ref<const std::string&>())
                      : i->get<std::uint64_t>();
  }
  r.token = j.value("token", std::uint64_t{0});
  if (auto i = j.find("sms"); i != j.end() && i->is_object()) {
    r.sms = notifier::pack(i->get<notifier::state>());
  }
  s = std::move(r);
}

} // namespace ordo::actors::order
