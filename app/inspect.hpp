#pragma once

// The operator's read-only tools, as JSON on stdout (the bodies of the
// admin endpoints), for a stopped node's storage (opened read-only) or a
// running node over HTTP:
//   ordo inspect (--data DIR | --url URL) KIND ID   one actor
//   ordo audit   (--data DIR | --url URL)           the auditor's report
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
/// `err` and returns 1 (unknown kind, unreadable storage, HTTP error).
int inspect(const inspect_options& opts, std::ostream& out, std::ostream& err);

/// Prints the audit report (offline: nothing is healed, see
/// runtime::audit_offline) and returns 0 when it is ok, 2 when it lists
/// violations, 1 when it cannot run. `kind` and `id` are unused.
int audit(const inspect_options& opts, std::ostream& out, std::ostream& err);

} // namespace ordo::app
