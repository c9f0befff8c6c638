#include "gateway/listener.hpp"

#include <chrono>
#include <exception>
#include <utility>

#include <boost/asio/strand.hpp>

#include "actors/errc.hpp"
#include "log/log.hpp"

namespace ordo::gateway {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

listener::listener(asio::io_context& ioc, std::string component)
  : ioc_(ioc), component_(std::move(component)), acceptor_(ioc), retry_(ioc) {}

bool listener::listen(const std::string& host, std::uint16_t port,
                      std::string* err) {
  boost::system::error_code ec;
  tcp::resolver resolver{ioc_};
  auto found = resolver.resolve(host, std::to_string(port),
                                tcp::resolver::numeric_service, ec);
  if (ec || found.empty()) {
    *err = "cannot resolve " + host + ": " + (ec ? ec.message() : "no address");
    return false;
  }
  auto ep = found.begin()->endpoint();
  acceptor_.open(ep.protocol(), ec);
  if (!ec) {
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor_.bind(ep, ec);
  }
  if (!ec) {
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (!ec) {
    port_ = acceptor_.local_endpoint(ec).port();
  }
  if (ec) {
    *err = "cannot listen on " + host + ":" + std::to_string(port) + ": "
           + ec.message();
    return false;
  }
  return true;
}

void listener::accept(accept_fn fn) {
  on_accept_ = std::move(fn);
  accept_next();
}

void listener::accept_next() {
  acceptor_.async_accept(
    asio::make_strand(ioc_),
    [this](boost::system::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) {
        return;
      }
      if (ec) {
        // Out of descriptors and the like: back off instead of spinning.
        log::error(component_, "accept: " + ec.message());
        retry_.expires_after(std::chrono::milliseconds{50});
        retry_.async_wait([this](boost::system::error_code wait_ec) {
          if (!wait_ec) {
            accept_next();
          }
        });
        return;
      }
      on_accept_(std::move(socket));
      accept_next();
    });
}

void listener::close() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  retry_.cancel();
}

void run_io(asio::io_context& ioc, std::string_view component) {
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      log::error(component, "I/O thread: " + actors::clip(e.what()));
    } catch (...) {
      log::error(component, "I/O thread: unknown error");
    }
  }
}

} // namespace ordo::gateway
