#include "runtime/detail/readers.hpp"

#include <algorithm>
#include <mutex>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace ordo::runtime::detail {

struct readers::impl {
  explicit impl(std::size_t threads)
    : pool(std::max<std::size_t>(threads, 1)) {}

  boost::asio::thread_pool pool;
  std::mutex mu;
  // Guarded by mu: once true, nothing more is posted to the pool.
  bool stopped = false;
};

readers::readers(std::size_t threads)
  : impl_(std::make_unique<impl>(threads)) {}

readers::~readers() {
  stop();
}

bool readers::post(std::function<void()> task) {
  std::lock_guard<std::mutex> guard{impl_->mu};
  if (impl_->stopped) {
    return false;
  }
  boost::asio::post(impl_->pool, std::move(task));
  return true;
}

void readers::stop() {
  {
    std::lock_guard<std::mutex> guard{impl_->mu};
    impl_->stopped = true;
  }
  // Without pool.stop(): join waits until every posted task has run.
  impl_->pool.join();
}

} // namespace ordo::runtime::detail
