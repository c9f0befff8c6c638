// Helper of faults_test's crash cases: opens a store (sync) with the fault
// hook of the global registry, arms SPEC and commits one batch that puts
// actors "crash/key" -> "v".
//
// Exit: 0 if the commit was acknowledged (the armed crash did not happen),
// 2 for bad arguments or spec, 3 if the store cannot be opened, 4 if the
// commit failed; killed by SIGKILL when the crash fires.
//
// Usage: faults_crash_child <db path> <fault spec>

#include <cstdio>
#include <string>
#include <vector>

#include "runtime/faults.hpp"
#include "storage/store.hpp"

using namespace ordo;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <db path> <fault spec>\n", argv[0]);
    return 2;
  }
  std::vector<runtime::fault_rule> rules;
  std::string why;
  if (!runtime::parse_fault_spec(argv[2], &rules, &why)) {
    std::fprintf(stderr, "bad spec: %s\n", why.c_str());
    return 2;
  }
  storage::store_options opts;
  opts.path = argv[1];
  opts.sync = true;
  opts.fault = runtime::storage_fault_hook();
  auto db = storage::store::open(opts, &why);
  if (db == nullptr) {
    std::fprintf(stderr, "open failed: %s\n", why.c_str());
    return 3;
  }
  for (const auto& r : rules) {
    if (!runtime::faults::global().arm(r, &why)) {
      std::fprintf(stderr, "arm failed: %s\n", why.c_str());
      return 2;
    }
  }
  storage::batch b;
  b.put(storage::cf::actors, "crash/key", "v");
  auto s = db->commit_sync(std::move(b));
  if (!s.ok()) {
    std::fprintf(stderr, "commit failed: %s\n", s.message().c_str());
    return 4;
  }
  return 0;
}
