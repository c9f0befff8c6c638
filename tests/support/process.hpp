#pragma once

// Runs `ordo serve` (or another `ordo` subcommand that announces
// "... listening on http://HOST:PORT") as a real child process for tests
// that kill it: starts it, waits for its listening line, and kills it with
// any signal. stderr goes to a log file the test names. Also runs a command
// to its end and collects what it printed.

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
  /// Starts `binary subcommand args...` and waits (up to `ready_within`) for
  /// a stdout line containing `ready_marker` followed by HOST:PORT (e.g.
  /// "sandbox-provider listening on http://"). Throws like the above.
  server_process(const std::string& binary, const std::string& subcommand,
                 std::vector<std::string> args, const std::string& log_path,
                 const std::string& ready_marker,
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

  /// SIGSTOP, returning once every thread has stopped: `kill` returns
  /// before that, and a thread still running may answer one more request.
  void pause();
  /// SIGCONT, returning once the process runs again.
  void resume();

private:
  int pid_ = -1;
  std::uint16_t port_ = 0;
};

/// A TCP port on 127.0.0.1 nobody listens on now (the kernel's pick,
/// released at once: another process may take it before the caller does).
std::uint16_t free_port();

/// How a command run to its end went.
struct run_result {
  int exit_code = -1; ///< the exit status, or -1 if killed or timed out
  std::string output; ///< stdout and stderr, interleaved
};

/// Runs `binary args...` until it exits (killed with SIGKILL after
/// `within`) and returns its exit code and output.
run_result run_to_exit(const std::string& binary, std::vector<std::string> args,
                       std::chrono::milliseconds within
                       = std::chrono::seconds{30});

} // namespace ordo::test
