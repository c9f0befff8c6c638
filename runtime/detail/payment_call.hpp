#pragma once

// How both payment providers (the HTTP adapter and the built-in sandbox)
// take a message: decoded the same way, and under the one fault point
// "payment.call", so a bad call or an injected failure means the same
// whichever one a node runs.
//
// Threading: as the caller's deliver().

#include <functional>
#include <utility>

#include "actors/provider.hpp"
#include "runtime/detail/sink.hpp"
#include "runtime/faults.hpp"

namespace ordo::runtime::detail {

/// What a provider does with a well-formed call; `answer` false: the call
/// is made, but its answer is lost (an injected drop).
using make_payment_call = std::function<void(
  const actors::provider::input& call, reply_fn done, bool answer)>;

/// A message to the payment provider, decoded and made under the fault
/// armed at "payment.call": a message that does not decode answers `done`
/// with why; otherwise `make(call, done, true)` at once when nothing fires,
/// an injected error answers `done` unavailable and makes no call, a delay
/// makes the call later, on `delayer`, and a drop makes it and loses its
/// answer (`make(call, done, false)`).
inline void payment_call(fault_delayer& delayer, const actors::envelope& msg,
                         reply_fn done, make_payment_call make) {
  auto in = actors::provider::decode(msg);
  if (!in) {
    if (done) {
      done({in.err(), {}, {}});
    }
    return;
  }
  auto f = fault_draw("payment.call");
  if (!f) {
    make(in.value(), std::move(done), true);
    return;
  }
  switch (f->action) {
    case fault_action::error:
      if (done) {
        done({actors::error{actors::errc::unavailable,
                            "payment provider: injected fault at payment.call"},
              {},
              {}});
      }
      return;
    case fault_action::delay:
      delayer.after(f->delay_ms,
                    [make = std::move(make), call = in.value(), done] {
                      make(call, done, true);
                    });
      return;
    default: make(in.value(), std::move(done), false);
  }
}

} // namespace ordo::runtime::detail
