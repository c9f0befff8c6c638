#pragma once

// Reading one actor out of storage without activating it: its stored state,
// journal and durable timers (and, offline, its outbox by a scan). Shared by
// node::inspect (which adds what only a running node knows: whether it is
// in memory, its mailbox, the relay's attempt counts) and `ordo inspect
// --data` on a stopped node's read-only storage.
//
// Threading: free functions; `db` is thread-safe.

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/node.hpp"

namespace ordo::storage {
class store;
}

namespace ordo::runtime::detail {

/// Fills `v` (whose kind and id are set) with the stored state, version,
/// journal (its newest `journal_keep` entries: the store trims it in steps,
/// so it may hold a few more) and timers. False if `v.kind` is not a kind
/// the node hosts. Throws std::runtime_error on a record it cannot read.
bool read_stored(storage::store& db, actor_view& v,
                 std::size_t journal_keep = SIZE_MAX);

/// The unacknowledged outbox messages `from` sent, by a scan of the whole
/// outbox family (offline only; a running node asks its relay).
std::vector<outbox_message> scan_outbox(storage::store& db,
                                        const actors::address& from);

} // namespace ordo::runtime::detail
