#include "runtime/detail/builtin_provider.hpp"

#include "actors/order.hpp"
#include "actors/provider.hpp"
#include "runtime/detail/payment_call.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"

namespace ordo::runtime::detail {

namespace {

constexpr std::string_view prefix = "sandbox/";

nlohmann::json to_record(const provider_call& c) {
  return {{"kind", c.kind},  {"id", c.id},         {"order", c.order_id},
          {"txn", c.txn_id}, {"amount", c.amount}, {"n", c.received}};
}

/// A stored call; kind empty when `bytes` is unreadable.
provider_call from_record(std::string_view bytes) {
  provider_call c;
  auto j = storage::codec::unpack(bytes);
  if (j.is_object()) {
    c.kind = j.value("kind", "");
    c.id = j.value("id", "");
    c.order_id = j.value("order", "");
    c.txn_id = j.value("txn", "");
    c.amount = j.value("amount", std::int64_t{0});
    c.received = j.value("n", std::uint32_t{0});
  }
  return c;
}

/// What the sandbox records of a call.
provider_call call_of(const std::string& kind,
                      const actors::provider::input& in) {
  provider_call c;
  c.kind = kind;
  if (const auto* refund = std::get_if<actors::provider::refund>(&in)) {
    c.order_id = refund->order_id;
    c.id = refund->refund_id;
    c.txn_id = refund->txn_id;
    c.amount = refund->amount;
  } else {
    c.order_id = std::get<actors::provider::close>(in).order_id;
    c.id = c.order_id;
  }
  return c;
}

} // namespace

void confirm_refund(const switchboard& targets, const std::string& order_id,
                    const std::string& refund_id, reply_fn done) {
  auto confirm = actors::envelope_to({actors::order::kind, order_id},
                                     actors::order::refund_done{refund_id});
  targets.deliver(confirm, "payment/refund_done/" + refund_id, std::move(done));
}

builtin_provider::builtin_provider(storage::store& db,
                                   const switchboard& targets)
  : db_(db), targets_(targets) {}

void builtin_provider::deliver(const actors::envelope& msg, std::string,
                               reply_fn done) {
  // A drop: the provider takes the call; its answer is lost.
  payment_call(delayer_, msg, std::move(done),
               [this, kind = msg.type](const actors::provider::input& in,
                                       reply_fn done, bool answer) {
                 record(call_of(kind, in), std::move(done), answer);
               });
}

void builtin_provider::record(const provider_call& c, reply_fn done,
                              bool answer) {
  auto key = c.kind + "/" + c.id;
  // Held from the read to the commit's submission, so a repeat's write
  // never lands before the first's. The callback does not take it (a closed
  // store calls it at once).
  std::lock_guard<std::mutex> submitting{submit_mu_};
  provider_call last;
  if (auto rec = writing_.find(key)) {
    last = std::move(*rec);
  } else if (auto bytes
             = db_.get(storage::cf::aux, std::string{prefix} + key)) {
    last = from_record(*bytes);
  }
  auto call = last.kind.empty() ? c : std::move(last); // the first counts
  ++call.received;
  storage::batch b;
  b.put(storage::cf::aux, std::string{prefix} + key,
        storage::codec::pack(to_record(call)));
  writing_.begin(key, std::move(call));
  auto* targets = &targets_;
  db_.commit(std::move(b), [this, key, c, done = std::move(done), targets,
                            answer](const storage::status& s) mutable {
    writing_.end(key);
    if (!answer) {
      return;
    }
    if (!s.ok()) {
      if (done) {
        done({actors::error{actors::errc::internal, s.message()}, {}, {}});
      }
      return;
    }
    if (c.kind != "refund") {
      if (done) {
        done({});
      }
      return;
    }
    confirm_refund(*targets, c.order_id, c.id, std::move(done));
  });
}

std::vector<provider_call> builtin_provider::calls() const {
  std::vector<provider_call> out;
  db_.scan(storage::cf::aux, prefix, [&](std::string_view, std::string_view v) {
    auto c = from_record(v);
    if (!c.kind.empty()) {
      out.push_back(std::move(c));
    }
    return true;
  });
  return out;
}

} // namespace ordo::runtime::detail
