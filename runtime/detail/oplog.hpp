#pragma once

// The operators' trail: who retried or discarded a dead letter, armed or
// cleared a fault, or asked for an audit, and when. Written in the batch of
// the action it records where there is one (a dead letter's), alone
// otherwise; read newest first by the console.
//
// Records (MessagePack, storage::codec):
//
//   aux: "oplog/" be64(at) be64(n) -> {"at", "who", "action", "subject",
//                                      "detail"}
//   at: ms since the epoch; n: a per-process counter that keeps two actions
//   of one millisecond apart.
//
// Threading: free functions; `append` only adds to a batch the caller owns.

#include <cstddef>
#include <vector>

#include "runtime/node.hpp"

namespace ordo::storage {
class store;
class batch;
} // namespace ordo::storage

namespace ordo::runtime::detail {

/// Adds `a` to `b`.
void append(storage::batch& b, const operator_action& a);

/// The newest `limit` actions stored in `db`, newest first. Unreadable
/// records are skipped.
std::vector<operator_action> read_oplog(storage::store& db, std::size_t limit);

} // namespace ordo::runtime::detail
