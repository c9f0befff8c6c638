#pragma once

// The `ordo` command line (API.md "Server"): flags → the options of every
// module, filled in one place. Threading: pure apart from reading the
// environment (ORDO_ADMIN_TOKEN, ORDO_PAYMENT_SECRET) and the random device.

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/inspect.hpp"
#include "app/load.hpp"
#include "app/sandbox_provider.hpp"
#include "gateway/server.hpp"
#include "log/log.hpp"
#include "runtime/faults.hpp"
#include "runtime/node.hpp"

namespace ordo::app {

/// Everything `ordo serve` needs to run one node.
struct serve_config {
  runtime::node_options node;
  gateway::server_options http;
  /// Failure injection armed at start-up (--faults), before the node opens.
  std::vector<runtime::fault_rule> faults;
  /// --log-level. Default: info.
  log::level log_level = log::level::info;
  /// --log-format. Default: text.
  log::format log_format = log::format::text;
};

/// What the command line asks for.
struct command {
  /// Set when the process should serve with this configuration.
  std::optional<serve_config> serve;
  /// Set when the process should run the stand-alone sandbox provider.
  std::optional<sandbox_provider_options> sandbox_provider;
  /// Set when the process should print one actor (`ordo inspect`).
  std::optional<inspect_options> inspect;
  /// Set when the process should print an audit (`ordo audit`).
  std::optional<inspect_options> audit;
  /// Set when the process should generate load (`ordo load`).
  std::optional<load_options> load;
  /// Otherwise the exit code: 0 after help, non-zero after a bad flag (2
  /// for `ordo load`).
  int exit_code = 0;
};

/// Parses `argv`. Help goes to `out`; errors, the generated admin token and
/// the dev-secret warning go to `err`. Plain `ordo` prints help.
command parse_command_line(int argc, const char* const* argv, std::ostream& out,
                           std::ostream& err);

/// Splits "HOST:PORT" or "[IPv6]:PORT" (port 0..65535, 0 = any free port).
/// False when `text` is neither.
bool parse_listen_address(std::string_view text, std::string* host,
                          std::uint16_t* port);

/// "http://HOST:PORT", with an IPv6 host in brackets.
std::string listen_url(const std::string& host, std::uint16_t port);

} // namespace ordo::app
