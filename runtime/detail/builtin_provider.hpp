#pragma once

// The built-in payment provider, a sandbox inside the node: the destination
// "payment" of the outbox when no --payment-provider is configured. (The
// stand-alone sandbox a node reaches over HTTP is `ordo sandbox-provider`,
// app/sandbox_provider.hpp.) It records every close
// and refund durably (aux family, "sandbox/<kind>/<id>"), dedupes refunds on
// refund_id like a real provider, and confirms a refund to its order with a
// "refund_done" message; only once the order has recorded that does it
// acknowledge the relay, so a crash anywhere repeats the call, never loses
// it, and the provider still counts one refund. Memory holds only the calls
// whose write is in flight: a repeat is looked up in the store, so a node
// with a long history starts without reading it.
//
// Fault point payment.call (runtime/faults.hpp), once a call is well-formed:
// error answers `unavailable` without recording it; drop records it but
// neither confirms nor answers (the relay's ack timeout repeats it); delay
// records it later, from the delayer's thread.
//
// Threading: thread-safe.

#include <mutex>
#include <string>
#include <vector>

#include "runtime/detail/inflight.hpp"
#include "runtime/detail/sink.hpp"
#include "runtime/faults.hpp"
#include "runtime/node.hpp"

namespace ordo::storage {
class store;
}

namespace ordo::runtime::detail {

/// The last step of every payment provider sink once the provider has taken
/// refund `refund_id`: delivers "refund_done" to order `order_id` through
/// `targets` (deduped on "payment/refund_done/<refund_id>") and calls `done`
/// with the order's reply, so the relay is acknowledged only after the order
/// has durably recorded the refund. `done` may be empty.
void confirm_refund(const switchboard& targets, const std::string& order_id,
                    const std::string& refund_id, reply_fn done);

class builtin_provider final : public sink {
public:
  builtin_provider(storage::store& db, const switchboard& targets);

  void deliver(const actors::envelope& msg, std::string dedupe_id,
               reply_fn done) override;

  /// Every recorded call (a scan of the store), by kind and id.
  std::vector<provider_call> calls() const;

private:
  /// Records `c` durably, then (if `answer`) confirms and answers `done`.
  void record(const provider_call& c, reply_fn done, bool answer);

  // Constant after construction.
  storage::store& db_;
  const switchboard& targets_;

  /// Orders record()'s read-modify-write with its commit.
  std::mutex submit_mu_;
  /// Key: kind '/' id.
  inflight_records<provider_call> writing_;

  /// Calls held back by a payment.call delay. Last: stopped first.
  fault_delayer delayer_;
};

} // namespace ordo::runtime::detail
