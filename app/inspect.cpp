#include "app/inspect.hpp"

#include <chrono>
#include <ostream>

#include <nlohmann/json.hpp>

#include "app/cli.hpp"
#include "gateway/client.hpp"
#include "gateway/detail/render.hpp"
#include "runtime/node.hpp"

namespace ordo::app {

namespace {

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
    gateway::client node{port, host, std::chrono::seconds{60}};
    auto res = node.get(target, gateway::bearer(opts.admin_token));
    // Parsed again, in order: the node's field order is what is printed.
    auto body = nlohmann::ordered_json::parse(res.body, nullptr, false);
    if (res.status != 200) {
      err << "ordo: " << res.status << " "
          << (body.is_object() ? body.value("message", res.body) : res.body)
          << "\n";
      return 1;
    }
    out << (body.is_discarded() ? res.body : body.dump(2)) << "\n";
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
