#include "app/inspect.hpp"

#include <ostream>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include "app/cli.hpp"
#include "gateway/detail/render.hpp"
#include "runtime/node.hpp"

namespace ordo::app {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

int offline(const inspect_options& opts, std::ostream& out, std::ostream& err) {
  auto v = runtime::inspect_offline(opts.data_dir, opts.kind, opts.id);
  if (!v) {
    err << "ordo inspect: " << v.err().message << "\n";
    return 1;
  }
  out << gateway::detail::render(v.value()).dump(2) << "\n";
  return 0;
}

/// GETs `target` of the node at `opts.url` as admin and prints the JSON
/// body; returns 0 on 200, else prints why to `err` and returns 1.
int get_json(const inspect_options& opts, const std::string& target,
             std::ostream& out, std::ostream& err,
             nlohmann::ordered_json* got) {
  // The URL was checked by the command line: http://HOST:PORT.
  auto rest = opts.url.substr(std::string{"http://"}.size());
  std::string host;
  std::uint16_t port = 0;
  if (!parse_listen_address(rest.substr(0, rest.find('/')), &host, &port)) {
    err << "ordo: --url must be http://HOST:PORT\n";
    return 1;
  }
  try {
    boost::asio::io_context ioc;
    tcp::resolver resolver{ioc};
    beast::tcp_stream stream{ioc};
    stream.expires_after(std::chrono::seconds{60});
    stream.connect(resolver.resolve(host, std::to_string(port)));
    http::request<http::string_body> req{http::verb::get, target, 11};
    req.set(http::field::host, host + ":" + std::to_string(port));
    req.set(http::field::authorization, "Bearer " + opts.admin_token);
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    auto body = nlohmann::ordered_json::parse(res.body(), nullptr, false);
    if (res.result_int() != 200) {
      err << "ordo: " << res.result_int() << " "
          << (body.is_object() ? body.value("message", res.body()) : res.body())
          << "\n";
      return 1;
    }
    out << (body.is_discarded() ? res.body() : body.dump(2)) << "\n";
    *got = std::move(body);
    return 0;
  } catch (const std::exception& e) {
    err << "ordo: " << opts.url << ": " << e.what() << "\n";
    return 1;
  }
}

} // namespace

int inspect(const inspect_options& opts, std::ostream& out, std::ostream& err) {
  if (opts.url.empty()) {
    return offline(opts, out, err);
  }
  nlohmann::ordered_json got;
  return get_json(opts, "/v1/admin/actors/" + opts.kind + "/" + opts.id, out,
                  err, &got);
}

int audit(const inspect_options& opts, std::ostream& out, std::ostream& err) {
  nlohmann::ordered_json got;
  if (!opts.url.empty()) {
    if (get_json(opts, "/v1/admin/audit", out, err, &got) != 0) {
      return 1;
    }
    return got.value("ok", false) ? 0 : 2;
  }
  using namespace std::chrono;
  auto now = duration_cast<milliseconds>(system_clock::now().time_since_epoch())
               .count();
  auto r = runtime::audit_offline(opts.data_dir, now);
  if (!r) {
    err << "ordo audit: " << r.err().message << "\n";
    return 1;
  }
  out << gateway::detail::render(r.value()).dump(2) << "\n";
  return r->ok() ? 0 : 2;
}

} // namespace ordo::app
