#pragma once

// `ordo inspect`: one actor's stored state, version, journal, timers and
// outbox, as JSON on stdout (the body of GET /v1/admin/actors/{kind}/{id}).
//   ordo inspect --data DIR KIND ID    a stopped node's storage, read-only
//   ordo inspect --url URL KIND ID     a running node, over HTTP (admin)
//
// Threading: runs on the caller's thread.

#include <iosfwd>
#include <string>

namespace ordo::app {

struct inspect_options {
  /// Storage of a stopped node; exclusive with `url`.
  std::string data_dir;
  /// "http://HOST:PORT" of a running node; exclusive with `data_dir`.
  std::string url;
  /// Bearer token for `url`.
  std::string admin_token;
  std::string kind;
  std::string id;
};

/// Prints the actor to `out` (pretty JSON) and returns 0; prints why not to
/// `err` and returns 1 (unknown kind, unreadable storage, HTTP error) .
int inspect(const inspect_options& opts, std::ostream& out, std::ostream& err);

} // namespace ordo::app
