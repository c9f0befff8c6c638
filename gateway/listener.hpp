#pragma once

// Listening for HTTP connections, for every server of the binary (the
// gateway, `ordo sandbox-provider`): resolve and bind host:port (reusing the
// address; port 0 takes any free one), accept until closed, back off rather
// than spin when accepting fails (out of descriptors), and run an I/O thread
// that logs what a handler throws instead of dying with it. What to do with
// an accepted connection stays the server's own.
//
// Asio shows here: include it only where a server is built.
//
// Threading: listen, accept and close from the owner before the I/O threads
// run or after they stopped; the accept handler runs on the I/O threads.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace ordo::gateway {

class listener {
public:
  using socket = boost::asio::ip::tcp::socket;
  /// Gets each accepted connection, on a strand of its own.
  using accept_fn = std::function<void(socket)>;

  /// `component` names the server in log lines.
  listener(boost::asio::io_context& ioc, std::string component);

  /// Binds host:port. False and `*err` ("cannot resolve HOST: why",
  /// "cannot listen on HOST:PORT: why") when it cannot.
  bool listen(const std::string& host, std::uint16_t port, std::string* err);
  /// The port bound (the one chosen, for port 0).
  std::uint16_t port() const noexcept {
    return port_;
  }
  /// Accepts connections until close(), handing each to `fn`.
  void accept(accept_fn fn);
  void close();

private:
  void accept_next();

  boost::asio::io_context& ioc_;
  std::string component_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;
  accept_fn on_accept_;
  std::uint16_t port_ = 0;
};

/// Runs `ioc` until it stops or runs out of work: the body of an I/O
/// thread. An exception a handler lets out is logged (component
/// `component`), and the thread goes on.
void run_io(boost::asio::io_context& ioc, std::string_view component);

} // namespace ordo::gateway
