#pragma once

// Runs `ordo serve` as a real child process for tests that kill it: starts
// it, waits for its "ordo listening on http://HOST:PORT" line, and kills it
// with any signal. stderr goes to a log file the test names.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace ordo::test {

class server_process {
public:
  /// Starts `binary serve args...` and waits (up to `ready_within`) for the
  /// listening line. Throws std::runtime_error if it exits or stays silent.
  server_process(const std::string& binary, std::vector<std::string> args,
                 const std::string& log_path,
                 std::chrono::milliseconds ready_within
                 = std::chrono::seconds{30});
  /// Kills the process (SIGKILL) if it still runs.
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  std::uint16_t port() const noexcept {
    return port_;
  }
  int pid() const noexcept {
    return pid_;
  }

  /// Sends `sig` and waits for the process to end; returns its wait status.
  int kill_and_wait(int sig);

private:
  int pid_ = -1;
  std::uint16_t port_ = 0;
};

} // namespace ordo::test
