#pragma once

// The fault point "payment.call", shared by both payment providers (the
// HTTP adapter and the built-in sandbox) so an injected failure means the
// same whichever one a node runs.
//
// Threading: as the caller's deliver().

#include <functional>
#include <utility>

#include "runtime/detail/sink.hpp"
#include "runtime/faults.hpp"

namespace ordo::runtime::detail {

/// Makes a call to the payment provider under the fault armed at
/// "payment.call": `make(done, true)` at once when nothing fires; an
/// injected error answers `done` unavailable and makes no call; a delay
/// makes the call later, on `delayer`; a drop makes it and loses its answer
/// (`make(done, false)`).
inline void payment_call(fault_delayer& delayer, reply_fn done,
                         std::function<void(reply_fn, bool answer)> make) {
  auto f = fault_draw("payment.call");
  if (!f) {
    make(std::move(done), true);
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
      delayer.after(f->delay_ms, [make = std::move(make), done] {
        make(done, true);
      });
      return;
    default: make(std::move(done), false);
  }
}

} // namespace ordo::runtime::detail
