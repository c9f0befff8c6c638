#include "gateway/server.hpp"

#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "gateway/detail/forward.hpp"
#include "gateway/detail/routes.hpp"
#include "gateway/detail/session.hpp"
#include "gateway/listener.hpp"
#include "log/log.hpp"

namespace ordo::gateway {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

/// Threading: the acceptor is confined to its own handlers (one accept at a
/// time); `state_` is shared with the sessions (see server_state); stop()
/// runs on the owner's thread.
class server_impl final : public server {
public:
  server_impl(const server_options& opts, runtime::node& n,
              std::shared_ptr<const cluster::partition_map> map)
    : server_impl(opts, n, std::make_shared<detail::request_metrics>(),
                  std::move(map)) {}

  server_impl(const server_options& opts, runtime::node& n,
              const std::shared_ptr<detail::request_metrics>& requests,
              std::shared_ptr<const cluster::partition_map> map)
    : state_(
      opts,
      detail::make_router({&n, opts.admin_token, opts.payment_secret, requests,
                           std::move(map), opts.mesh, opts.console_dir}),
      requests),
      work_(asio::make_work_guard(ioc_)), listener_(ioc_, "gateway") {}

  ~server_impl() override {
    stop();
  }

  bool listen(std::string* err) {
    const auto& o = state_.opts;
    if (o.threads < 1 || o.threads > 64) {
      *err = "threads must be 1..64";
      return false;
    }
    return listener_.listen(o.host, o.port, err);
  }

  void run() {
    listener_.accept([this](tcp::socket socket) {
      serve(std::move(socket));
    });
    if (auto* mesh = state_.opts.mesh) {
      const detail::router* routes = &state_.routes;
      mesh->serve_http(
        [routes](cluster::http_call call, std::string from,
                 std::function<void(cluster::http_answer)> done) {
          detail::serve_forwarded(*routes, std::move(call), from,
                                  std::move(done));
        });
    }
    for (std::size_t i = 0; i < state_.opts.threads; ++i) {
      threads_.emplace_back([this] {
        run_io(ioc_, "gateway");
      });
    }
  }

  std::uint16_t port() const override {
    return listener_.port();
  }

  void stop() override {
    if (stopped_) {
      return;
    }
    stopped_ = true;
    if (state_.opts.mesh != nullptr) {
      state_.opts.mesh->serve_http(nullptr);
    }
    {
      std::lock_guard<std::mutex> guard(state_.exit->mu);
      state_.exit->open = false;
    }
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) {
      t.join();
    }
    threads_.clear();
    // No I/O thread runs now: close everything directly.
    listener_.close();
    for (auto& [_, s] : state_.take_all()) {
      s->abort();
    }
  }

private:
  void serve(tcp::socket socket) {
    try {
      auto s = std::make_shared<detail::session>(std::move(socket), state_);
      if (state_.admit(s)) {
        s->start();
        return;
      }
      s->refuse();
    } catch (const std::exception& e) {
      log::error("gateway",
                 "cannot start a session: " + actors::clip(e.what()));
    }
  }

  // Declared first, destroyed last: sessions and handlers refer to it.
  detail::server_state state_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  listener listener_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

} // namespace

std::unique_ptr<server> server::start(const server_options& opts,
                                      runtime::node& n, std::string* err) {
  std::string ignored;
  if (err == nullptr) {
    err = &ignored;
  }
  std::shared_ptr<const cluster::partition_map> shared;
  if (opts.mesh != nullptr) {
    shared = std::make_shared<const cluster::partition_map>(opts.mesh->map());
  } else {
    auto map = cluster::partition_map::make(opts.membership, err);
    if (!map) {
      return nullptr;
    }
    shared = std::make_shared<const cluster::partition_map>(std::move(*map));
  }
  try {
    auto s = std::make_unique<server_impl>(opts, n, std::move(shared));
    if (!s->listen(err)) {
      return nullptr;
    }
    s->run();
    return s;
  } catch (const std::exception& e) {
    *err = std::string("cannot start the HTTP server: ") + e.what();
    return nullptr;
  }
}

} // namespace ordo::gateway
