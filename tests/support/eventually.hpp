#pragma once

// Waiting for another thread's (or process's) progress in a test: poll an
// observable condition, never sleep a guessed time.

#include <chrono>
#include <thread>

namespace ordo::test {

/// Polls `pred` until it holds (an observable condition of another thread's
/// progress, such as a fired timer's turn); false after `timeout`.
template <class Pred>
bool eventually(Pred pred,
                std::chrono::milliseconds timeout = std::chrono::seconds{20}) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
  return true;
}

} // namespace ordo::test
