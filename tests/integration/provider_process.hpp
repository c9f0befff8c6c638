#pragma once

// `ordo sandbox-provider` as a real child process: the payment provider and
// SMS webhook of the tests that kill, fail or count at the far end. The
// including test target defines ORDO_BINARY (the path of `ordo`).

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#ifndef ORDO_BINARY
#  error "the test target must define ORDO_BINARY"
#endif

namespace ordo::test {

inline const std::string provider_ready
  = "sandbox-provider listening on http://";

/// Starts `ordo sandbox-provider` on 127.0.0.1:`port` (0 = any), journaling
/// to `dir`/provider.jsonl (so counts survive its restarts), with `extra`
/// flags (--fail-rate, --latency, --seed).
inline std::unique_ptr<server_process>
start_provider(const temp_dir& dir, std::vector<std::string> extra,
               std::uint16_t port = 0) {
  std::vector<std::string> args{"--port", std::to_string(port), "--data",
                                dir.path() + "/provider.jsonl"};
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<server_process>(ORDO_BINARY, "sandbox-provider", args,
                                          dir.path() + "/provider.log",
                                          provider_ready);
}

/// GET /calls of the provider on `port`; throws unless it answers 200.
inline nlohmann::json provider_calls(std::uint16_t port) {
  http_client c{port};
  auto r = c.get("/calls");
  if (r.status != 200) {
    throw std::runtime_error("GET /calls answered " + std::to_string(r.status));
  }
  return r.json;
}

} // namespace ordo::test
