// Helper of store_test's crash case: commits batches with sync=true from a
// few threads until killed, and writes the sequence number of every
// acknowledged batch (8 bytes, big-endian) to stdout.
//
// Each batch puts outbox be64(seq) and dedupe "child/<t>" NUL be64(i), so the
// parent can also check that no batch is half there after the kill.
//
// Usage: storage_crash_child <db path>

#include "storage/keys.hpp"
#include "storage/store.hpp"

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace ordo::storage;

namespace {

constexpr int producers = 4;
constexpr std::uint64_t per_producer = 1'000'000;
constexpr int window = 256; // batches in flight per producer

void write_ack(std::uint64_t seq) {
  auto bytes = keys::be64(seq);
  // A pipe write of at most PIPE_BUF bytes is atomic and complete.
  if (::write(STDOUT_FILENO, bytes.data(), bytes.size())
      != static_cast<ssize_t>(bytes.size())) {
    ::_exit(5);
  }
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <db path>\n", argv[0]);
    return 2;
  }
  store_options opts;
  opts.path = argv[1];
  opts.sync = true;
  std::string err;
  auto db = store::open(opts, &err);
  if (db == nullptr) {
    std::fprintf(stderr, "open failed: %s\n", err.c_str());
    return 3;
  }
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> in_flight(producers, 0); // guarded by mu
  std::vector<std::thread> threads;
  for (int t = 0; t < producers; ++t) {
    threads.emplace_back([&, t] {
      std::string owner_id = std::to_string(t);
      std::string payload(100, static_cast<char>('a' + t));
      for (std::uint64_t i = 0; i < per_producer; ++i) {
        {
          std::unique_lock<std::mutex> guard(mu);
          cv.wait(guard, [&] {
            return in_flight[t] < window;
          });
          ++in_flight[t];
        }
        std::uint64_t seq = (static_cast<std::uint64_t>(t) << 40) | i;
        batch b;
        b.put(cf::outbox, keys::be64(seq), payload);
        b.put(cf::dedupe, keys::owned("child", owner_id, keys::be64(i)), "");
        db->commit(std::move(b), [&, t, seq](const status& s) {
          if (!s.ok()) {
            std::fprintf(stderr, "commit failed: %s\n", s.message().c_str());
            ::_exit(4);
          }
          write_ack(seq);
          {
            std::lock_guard<std::mutex> guard(mu);
            --in_flight[t];
          }
          cv.notify_all();
        });
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  db->close();
  return 0;
}
