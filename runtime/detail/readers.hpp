#pragma once

// The node's reader threads. Storage reads a caller of the node asks for
// (a GET, the existence check before a write reaches an order, the rate
// limit's scan of a user's order index) run here, so the caller's thread,
// the HTTP I/O thread that serves every connection, never waits for the
// disk (docs/threads.md).
//
// Threading: tasks run on the pool's threads, as many at a time as there
// are threads. post() may be called from any thread, a task included;
// stop() from one thread at a time, never from a reader.

#include <cstddef>
#include <functional>
#include <memory>

namespace ordo::runtime::detail {

class readers {
public:
  /// Starts `threads` reader threads (at least 1).
  explicit readers(std::size_t threads);
  /// Stops.
  ~readers();
  readers(const readers&) = delete;
  readers& operator=(const readers&) = delete;

  /// Runs `task` on a reader thread. False after stop(): `task` is
  /// destroyed unrun, and the caller answers for it.
  [[nodiscard]] bool post(std::function<void()> task);

  /// Refuses new tasks, waits for every task already posted to run, joins
  /// the threads. Idempotent.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace ordo::runtime::detail
