#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ordo::test {

namespace {

/// The last `n` bytes of the file at `path` (what a child said on stderr
/// before it died), or "" if there is none.
std::string tail_of(const std::string& path, std::size_t n = 2000) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream all;
  all << in.rdbuf();
  auto s = all.str();
  return s.size() > n ? s.substr(s.size() - n) : s;
}

} // namespace

server_process::server_process(const std::string& binary,
                               std::vector<std::string> args,
                               const std::string& log_path,
                               std::chrono::milliseconds ready_within)
  : server_process(binary, "serve", std::move(args), log_path,
                   "ordo listening on http://", ready_within) {}

server_process::server_process(const std::string& binary,
                               const std::string& subcommand,
                               std::vector<std::string> args,
                               const std::string& log_path,
                               const std::string& ready_marker,
                               std::chrono::milliseconds ready_within) {
  int out[2];
  if (::pipe(out) != 0) {
    throw std::runtime_error("pipe failed");
  }
  args.insert(args.begin(), subcommand);
  args.insert(args.begin(), binary);
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) {
      ::dup2(log, STDERR_FILENO);
    }
    ::close(out[0]);
    ::close(out[1]);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string seen;
  auto until = std::chrono::steady_clock::now() + ready_within;
  const std::string& marker = ready_marker;
  auto not_ready = [&](const char* what) {
    return std::runtime_error("ordo " + subcommand + " " + what
                              + "; stdout: " + seen + "; its log " + log_path
                              + " ends: " + tail_of(log_path));
  };
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  until - std::chrono::steady_clock::now())
                  .count();
    if (left <= 0) {
      ::close(out[0]);
      kill_and_wait(SIGKILL);
      throw not_ready("did not report ready");
    }
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) {
      continue;
    }
    char buf[512];
    auto n = ::read(out[0], buf, sizeof(buf));
    if (n <= 0) {
      ::close(out[0]);
      kill_and_wait(SIGKILL);
      throw not_ready("exited before ready");
    }
    seen.append(buf, static_cast<std::size_t>(n));
    auto at = seen.find(marker);
    auto eol = at == std::string::npos ? at : seen.find('\n', at);
    if (eol != std::string::npos) {
      auto addr = seen.substr(at + marker.size(), eol - at - marker.size());
      port_ = static_cast<std::uint16_t>(
        std::stoi(addr.substr(addr.rfind(':') + 1)));
      break;
    }
  }
  // Keep draining stdout so the child never blocks on a full pipe; the
  // thread ends when the child does (EOF).
  ::fcntl(out[0], F_SETFD, FD_CLOEXEC);
  std::thread{[fd = out[0]] {
    char buf[512];
    while (::read(fd, buf, sizeof(buf)) > 0) {
    }
    ::close(fd);
  }}.detach();
}

server_process::~server_process() {
  if (pid_ > 0) {
    kill_and_wait(SIGKILL);
  }
}

int server_process::kill_and_wait(int sig) {
  int status = 0;
  if (pid_ > 0) {
    ::kill(pid_, sig);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  return status;
}

void server_process::pause() {
  int status = 0;
  ::kill(pid_, SIGSTOP);
  while (::waitpid(pid_, &status, WUNTRACED) == pid_ && !WIFSTOPPED(status)) {
  }
}

void server_process::resume() {
  int status = 0;
  ::kill(pid_, SIGCONT);
  while (::waitpid(pid_, &status, WCONTINUED) == pid_
         && !WIFCONTINUED(status)) {
  }
}

run_result run_to_exit(const std::string& binary, std::vector<std::string> args,
                       std::chrono::milliseconds within) {
  int out[2];
  if (::pipe(out) != 0) {
    throw std::runtime_error("pipe failed");
  }
  args.insert(args.begin(), binary);
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  auto pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(out[1], STDERR_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  run_result r;
  auto until = std::chrono::steady_clock::now() + within;
  bool timed_out = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  until - std::chrono::steady_clock::now())
                  .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) {
      continue;
    }
    char buf[512];
    auto n = ::read(out[0], buf, sizeof(buf));
    if (n <= 0) {
      break; // EOF: the child has exited (or closed its output)
    }
    r.output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  if (timed_out) {
    ::kill(pid, SIGKILL);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = !timed_out && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

} // namespace ordo::test
