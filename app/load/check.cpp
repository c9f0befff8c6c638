#include "app/load/check.hpp"

#include <chrono>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

namespace ordo::app::load {

namespace {

/// How long the check waits for the node's outbox to drain.
constexpr std::chrono::seconds settle_limit{30};
/// How long the check re-reads orders whose refund is still pending.
constexpr std::chrono::seconds refund_limit{10};
/// Between two polls of the node while waiting.
constexpr std::chrono::milliseconds poll_pause{100};

/// " (pay A, retry A, cancel A, status S)": what a violation's order was
/// told, and its status.
std::string told(const order_record& rec, const std::string& status) {
  return std::string{" (pay "} + to_string(rec.pay) + ", retry "
         + to_string(rec.retry) + ", cancel " + to_string(rec.cancel)
         + ", status " + status + ")";
}

/// The order's status against the answers its flow got.
void judge_status(const order_record& rec, const std::string& status,
                  const std::string& reason, check_result& out) {
  const auto& id = rec.order_id;
  auto any_pay = [&](answer a) {
    return rec.pay == a || rec.retry == a;
  };
  bool captured = any_pay(answer::captured);
  bool refunded = any_pay(answer::refunded);
  bool pay_maybe = captured || any_pay(answer::unknown);
  bool cancel_maybe
    = rec.cancel == answer::cancelled || rec.cancel == answer::unknown;
  auto violate = [&](const char* rule) {
    out.violate(rule, id + told(rec, status));
  };
  if (captured && rec.cancel == answer::cancelled) {
    violate("captured_and_cancelled");
  }
  if (captured && status != "PAID") {
    violate("captured_not_paid");
  }
  if (rec.cancel == answer::cancelled && status != "CANCELLED") {
    violate("cancelled_not_cancelled");
  }
  if (refunded && status != "CANCELLED") {
    violate("refunded_not_cancelled");
  }
  if (rec.cancel == answer::already_paid && status != "PAID") {
    violate("already_paid_not_paid");
  }
  if (rec.retry != answer::none && rec.retry != answer::duplicate
      && rec.retry != answer::unknown
      && (rec.pay == answer::captured || rec.pay == answer::refunded)) {
    violate("retry_not_duplicate");
  }
  if (status == "PAID") {
    if (!pay_maybe) {
      violate("paid_unexplained");
    }
  } else if (status == "CANCELLED") {
    if (!cancel_maybe && reason != "timeout") {
      violate("cancel_unexplained");
    }
  } else if (status == "PENDING_PAYMENT") {
    if (captured || refunded || rec.cancel == answer::cancelled
        || rec.cancel == answer::already_paid) {
      violate("pending_unexplained");
    }
  } else {
    violate("status_unexplained");
  }
}

/// The order's own record of payments: the one txn of the flow.
void judge_payments(const order_record& rec, const std::string& status,
                    const json& order, check_result& out) {
  const auto& id = rec.order_id;
  bool refunded = rec.pay == answer::refunded || rec.retry == answer::refunded;
  std::map<std::string, int> by_status;
  auto payments
    = order.contains("payments") ? order["payments"] : json::array();
  for (const auto& p : payments) {
    if (p.value("txn_id", "") != "t-" + id
        || p.value("amount", std::int64_t{-1}) != rec.payable) {
      out.violate("payment_record", id + " holds " + p.dump());
    }
    ++by_status[p.value("status", "")];
  }
  if (status == "PAID"
      && (payments.size() != 1 || by_status["CAPTURED"] != 1)) {
    out.violate("payment_record",
                id + " is PAID with payments " + payments.dump());
  }
  if (refunded && by_status["REFUNDED"] + by_status["REFUND_PENDING"] != 1) {
    out.violate("payment_record",
                id + " was answered refunded, payments " + payments.dump());
  }
  if (status == "PENDING_PAYMENT" && !payments.empty()) {
    out.violate("payment_record",
                id + " is pending with payments " + payments.dump());
  }
}

/// Whether `order` still waits for its refund to be confirmed.
bool refund_pending(const json& order) {
  if (!order.contains("payments") || !order["payments"].is_array()) {
    return false;
  }
  for (const auto& p : order["payments"]) {
    if (p.value("status", "") == "REFUND_PENDING") {
      return true;
    }
  }
  return false;
}

/// Refunds the order's payments say are owed (REFUNDED or REFUND_PENDING).
int refunds_owed(const json& order) {
  int n = 0;
  if (order.contains("payments") && order["payments"].is_array()) {
    for (const auto& p : order["payments"]) {
      auto s = p.value("status", "");
      n += s == "REFUNDED" || s == "REFUND_PENDING" ? 1 : 0;
    }
  }
  return n;
}

/// What the check keeps of one order it read back.
struct order_view {
  bool read = false;    ///< false: unreadable (already a violation)
  std::string status;   ///< as read
  int refunds_owed = 0; ///< its payments REFUNDED or REFUND_PENDING
};

/// The run's orders as read back.
struct readback {
  std::vector<order_view> views;     ///< by index into the created orders
  std::vector<std::int64_t> paid;    ///< PAID orders per SKU
  std::vector<std::int64_t> pending; ///< pending orders per SKU
};

/// The provider's calls for the orders of the run, by index into them.
struct call_counts {
  std::vector<int> refunds;
  std::vector<int> closes;
  bool any = false; ///< the provider recorded any call at all
};

/// One check, step by step. Confined to the caller's thread.
class checker {
public:
  checker(const check_context& ctx, std::deque<order_record>& records)
    : ctx_(ctx), records_(records) {
    res_.ran = true;
    res_.skus = ctx.opts.skus;
  }

  check_result run() {
    retry_lost_creates();
    settle();
    for (auto& rec : records_) {
      if (rec.create == order_record::created::yes) {
        orders_.push_back(&rec);
      }
    }
    res_.orders = orders_.size();
    if (orders_.empty()) {
      res_.violate("no_orders", "the run created no order: nothing to check");
    }
    auto read = read_orders();
    check_provider(read.views);
    check_skus(read.paid, read.pending);
    return std::move(res_);
  }

private:
  /// Creates without an answer: the same key and body again tell whether
  /// the order exists (200) or create it now (201, then pending).
  void retry_lost_creates() {
    std::vector<order_record*> lost;
    for (auto& rec : records_) {
      if (rec.create == order_record::created::unknown) {
        lost.push_back(&rec);
      }
    }
    ctx_.connections.batch(
      lost.size(),
      [&](std::size_t i) {
        return ctx_.node.create_request(*lost[i]);
      },
      [&](std::size_t i, reply& r) {
        auto& rec = *lost[i];
        rec.create_retried = true;
        auto body = body_of(r);
        auto order = created(body);
        if ((r.status == 200 || r.status == 201) && order) {
          rec.create = order_record::created::yes;
          rec.order_id = std::move(order->order_id);
          rec.payable = order->payable;
        } else if (r.status >= 400 && r.status < 500) {
          rec.create = order_record::created::refused;
        } else {
          res_.violate("create_unresolved", ctx_.node.user(rec)
                                              + ": retry answered "
                                              + error_kind(r, body));
        }
      });
    res_.retried_creates = lost.size();
  }

  /// An admin GET of `target` on every node: the one under load (through
  /// the pool) and the --node others (one blocking request each).
  std::vector<reply> everywhere(const std::string& target) {
    std::vector<reply> out;
    out.push_back(
      ctx_.connections.fetch(ctx_.node.admin_request("GET", target)));
    for (const auto& [host, port] : ctx_.opts.others) {
      out.push_back(blocking_get(host, port, target, ctx_.opts.admin_token));
    }
    return out;
  }

  /// Polls every node's outbox until nothing is left to deliver, bounded.
  void settle() {
    auto until = clock_type::now() + settle_limit;
    for (;;) {
      std::optional<std::int64_t> backlog = 0;
      reply r;
      for (auto& got : everywhere("/v1/admin/outbox?limit=1")) {
        auto b = got.status == 200 ? int_at(body_of(got), "backlog")
                                   : std::optional<std::int64_t>{};
        backlog = backlog && b ? std::optional<std::int64_t>{*backlog + *b}
                               : std::nullopt;
        if (!b) {
          r = std::move(got);
        }
      }
      res_.backlog = backlog.value_or(-1);
      if (backlog == 0) {
        res_.settled = true;
        return;
      }
      if (clock_type::now() >= until) {
        res_.violate("not_settled",
                     "the outbox still held "
                       + (backlog ? std::to_string(*backlog) + " messages"
                                  : "? (" + error_kind(r) + ")")
                       + " after " + std::to_string(settle_limit.count())
                       + " s");
        return;
      }
      std::this_thread::sleep_for(poll_pause);
    }
  }

  /// Reads every created order back and judges it as it is read; only what
  /// the later checks need is kept. A refund confirmed by the provider
  /// reaches its order a moment later: such orders are read again, bounded.
  readback read_orders() {
    readback read{std::vector<order_view>(orders_.size()),
                  std::vector<std::int64_t>(ctx_.opts.skus, 0),
                  std::vector<std::int64_t>(ctx_.opts.skus, 0)};
    std::vector<std::size_t> waiting(orders_.size());
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      waiting[i] = i;
    }
    auto until = clock_type::now() + refund_limit;
    while (!waiting.empty()) {
      bool last = clock_type::now() >= until;
      std::vector<std::size_t> again;
      ctx_.connections.batch(
        waiting.size(),
        [&](std::size_t k) {
          return ctx_.node.request("GET", "/v1/orders/"
                                            + orders_[waiting[k]]->order_id);
        },
        [&](std::size_t k, reply& r) {
          if (!take_order(waiting[k], r, last, read)) {
            again.push_back(waiting[k]);
          }
        });
      waiting = std::move(again);
      if (!waiting.empty()) {
        std::this_thread::sleep_for(poll_pause);
      }
    }
    return read;
  }

  /// Judges order `i` as `r` shows it; false when it is to be read again
  /// (a refund pending and not the `last` round).
  bool take_order(std::size_t i, const reply& r, bool last, readback& read) {
    const auto& rec = *orders_[i];
    auto j = body_of(r);
    if (r.status != 200 || !j.is_object()) {
      res_.violate("order_unreadable", rec.order_id + ": " + error_kind(r, j));
      return true;
    }
    if (refund_pending(j) && !last) {
      return false;
    }
    if (refund_pending(j)) {
      res_.violate("refund_unconfirmed",
                   rec.order_id + " still holds " + j["payments"].dump());
    }
    auto& v = read.views[i];
    v.read = true;
    v.status = judge_order(rec, j, res_);
    v.refunds_owed = refunds_owed(j);
    if (v.status == "PAID") {
      ++res_.paid;
      ++read.paid[rec.sku];
    } else if (v.status == "CANCELLED") {
      ++res_.cancelled;
    } else if (v.status == "PENDING_PAYMENT") {
      ++res_.pending;
      ++read.pending[rec.sku];
    }
    return true;
  }

  /// The built-in sandbox providers' calls on every node; nullopt (and a
  /// violation) when one cannot be read.
  std::optional<json> provider_calls() {
    auto calls = json::array();
    for (const auto& r : everywhere("/v1/admin/sandbox/calls")) {
      auto j = body_of(r);
      if (r.status != 200 || !j.is_object() || !j.contains("calls")) {
        res_.violate("provider_unreadable",
                     "GET /v1/admin/sandbox/calls: " + error_kind(r, j));
        return std::nullopt;
      }
      for (auto& c : j["calls"]) {
        calls.push_back(std::move(c));
      }
    }
    return calls;
  }

  /// Counts the refunds and closes of each order of the run in `calls`,
  /// checking each refund's txn and amount.
  call_counts count_calls(const json& calls) {
    std::unordered_map<std::string, std::size_t> index; // id → orders_[i]
    for (std::size_t i = 0; i < orders_.size(); ++i) {
      index[orders_[i]->order_id] = i;
    }
    call_counts n{std::vector<int>(orders_.size(), 0),
                  std::vector<int>(orders_.size(), 0), !calls.empty()};
    for (const auto& c : calls) {
      auto order_id = c.value("order_id", json{}).is_string()
                        ? c["order_id"].get<std::string>()
                        : std::string{};
      auto at = index.find(order_id);
      if (at == index.end()) {
        continue; // not of this run
      }
      const auto& rec = *orders_[at->second];
      if (c.value("kind", "") == "refund") {
        ++n.refunds[at->second];
        ++res_.refunds;
        if (c.value("txn_id", json{}) != "t-" + rec.order_id
            || c.value("amount", std::int64_t{-1}) != rec.payable) {
          res_.violate("refund_mismatch", c.dump());
        }
      } else if (c.value("kind", "") == "close") {
        ++n.closes[at->second];
        ++res_.closes;
      }
    }
    return n;
  }

  /// One refund per refunded payment, none for a paid order, one close per
  /// cancelled order, in the built-in sandbox provider's record.
  void check_provider(const std::vector<order_view>& views) {
    auto calls = provider_calls();
    if (!calls) {
      return;
    }
    auto n = count_calls(*calls);
    bool expected_calls = false;
    for (std::size_t i = 0; i < orders_.size(); ++i) {
      if (!views[i].read) {
        continue;
      }
      const auto& rec = *orders_[i];
      const auto& status = views[i].status;
      bool told_refunded
        = rec.pay == answer::refunded || rec.retry == answer::refunded;
      int owed = views[i].refunds_owed;
      if (told_refunded && owed != 1) {
        owed = 1; // judged already (payment_record); expect the refund too
      }
      expected_calls = expected_calls || owed > 0 || status == "CANCELLED";
      if (n.refunds[i] != owed) {
        res_.violate("refund_count", rec.order_id + ": " + std::to_string(owed)
                                       + " refund(s) owed, the provider got "
                                       + std::to_string(n.refunds[i]));
      }
      if (n.closes[i] != (status == "CANCELLED" ? 1 : 0)) {
        res_.violate("close_count", rec.order_id + " (" + status
                                      + "): " + std::to_string(n.closes[i])
                                      + " close call(s)");
      }
    }
    if (expected_calls && !n.any) {
      res_.violate("provider_unreadable",
                   "the built-in sandbox recorded no calls: is the node "
                   "using an external --payment-provider?");
    }
  }

  /// Stock conservation, and the run's sales and reservations, per SKU.
  void check_skus(const std::vector<std::int64_t>& paid,
                  const std::vector<std::int64_t>& pending) {
    std::vector<reply> answers(ctx_.opts.skus);
    ctx_.connections.batch(
      ctx_.opts.skus,
      [&](std::size_t k) {
        return ctx_.node.admin_request("GET", "/v1/skus/" + api::sku_name(k));
      },
      [&](std::size_t k, reply& r) {
        answers[k] = std::move(r);
      });
    for (std::size_t k = 0; k < ctx_.opts.skus; ++k) {
      auto s = parse_sku(answers[k].body);
      if (answers[k].status != 200 || !s) {
        res_.violate("sku_unreadable",
                     api::sku_name(k) + ": " + error_kind(answers[k]));
        continue;
      }
      check_sku(k, *s, paid[k], pending[k]);
    }
  }

  /// SKU `k` now (`s`) against its baseline and the run's orders of it.
  void check_sku(std::size_t k, const sku_counts& s, std::int64_t paid,
                 std::int64_t pending) {
    auto name = api::sku_name(k);
    const auto& base = ctx_.baseline[k];
    if (s.available + s.reserved + s.sold != s.stocked
        || s.stocked != sku_stock) {
      res_.violate("stock_conservation",
                   name + ": available " + std::to_string(s.available)
                     + " + reserved " + std::to_string(s.reserved) + " + sold "
                     + std::to_string(s.sold) + " vs stocked "
                     + std::to_string(s.stocked));
    }
    if (s.sold - base.sold != paid) {
      res_.violate("sold_mismatch", name + ": sold grew by "
                                      + std::to_string(s.sold - base.sold)
                                      + ", the run has " + std::to_string(paid)
                                      + " PAID orders of it");
    }
    if (s.reserved - base.reserved != pending) {
      res_.violate("reserved_mismatch",
                   name + ": reserved grew by "
                     + std::to_string(s.reserved - base.reserved)
                     + ", the run has " + std::to_string(pending)
                     + " pending orders of it");
    }
  }

  const check_context& ctx_;
  std::deque<order_record>& records_;
  std::vector<order_record*> orders_; ///< the created ones
  check_result res_;
};

} // namespace

void check_result::violate(const std::string& rule, const std::string& detail) {
  ++violations[rule];
  if (examples.size() < max_examples) {
    examples.push_back(rule + ": " + detail);
  }
}

std::string judge_order(const order_record& rec, const json& order,
                        check_result& out) {
  auto status = order.value("status", "");
  auto reason
    = order.contains("cancel_reason") && order["cancel_reason"].is_string()
        ? order["cancel_reason"].get<std::string>()
        : std::string{};
  judge_status(rec, status, reason, out);
  judge_payments(rec, status, order, out);
  return status;
}

check_result check(const check_context& ctx,
                   std::deque<order_record>& records) {
  return checker{ctx, records}.run();
}

} // namespace ordo::app::load
