#pragma once

// Requests for partitions another node owns. A route whose
// subject is placed (an order, a user, an SKU, ...) is wrapped by `owned`:
// on the owner it is served as usual; anywhere else it is passed, as it
// arrived, to the owner over the cluster mesh and answered with the owner's
// reply, or 503 unavailable (with Retry-After) when the owner cannot be
// reached. A forwarded request carries the header `X-Ordo-Via: <node>`
// (sessions strip it from what clients send), so it is never forwarded
// twice, and an owner that receives one for a partition it does not own
// refuses it rather than serve data it does not have.
//
// Threading: the wrappers are immutable; `serve_forwarded` may run on any
// thread and answers exactly once.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/mesh.hpp"
#include "gateway/detail/router.hpp"

namespace ordo::gateway::detail {

/// The header marking a request another node forwarded.
inline constexpr const char* via_header = "X-Ordo-Via";

/// True when `req` came from another node.
bool forwarded(const request& req);

/// The node that must serve a request: an id from the map, or nullopt when
/// the request names nothing placed (it is served here and fails there).
using locator
  = std::function<std::optional<std::string>(const request&, const params&)>;

/// `serve` on the owner `where` names; forwarded through `mesh` elsewhere.
/// Without a mesh (a single node), `serve` itself.
handler owned(cluster::mesh* mesh, locator where, handler serve);

/// Passes `req` to `node` and answers with its reply (or unavailable).
void forward_to(cluster::mesh& mesh, const std::string& node,
                const request& req, const respond_fn& respond);

/// Sends `req` (a request every node answers for its own partitions, like
/// the sales report) to every other node; `done` gets their reply bodies,
/// or the first failure: an unreachable node (unavailable) or a non-2xx
/// reply (its error).
void ask_peers(
  cluster::mesh& mesh, const request& req,
  std::function<void(actors::result<std::vector<nlohmann::json>>)> done);

/// Serves a request a peer forwarded with `routes`; `done` runs once.
void serve_forwarded(const router& routes, cluster::http_call call,
                     const std::string& from,
                     std::function<void(cluster::http_answer)> done);

} // namespace ordo::gateway::detail
