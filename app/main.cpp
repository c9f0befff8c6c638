// `ordo`: flags → options → node → gateway → wait for SIGTERM/SIGINT →
// clean shutdown (or, for `ordo sandbox-provider`, flags → the stand-alone
// provider → wait → stop; for `ordo load`, flags → the load generator).
// Wiring only; the thinking is in cli.cpp and the modules.

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "app/load.hpp"
#include "app/sandbox_provider.hpp"
#include "cluster/mesh.hpp"
#include "gateway/server.hpp"
#include "log/log.hpp"
#include "runtime/node.hpp"

namespace {

/// Blocks SIGINT and SIGTERM in this thread and, by inheritance, in every
/// thread started afterwards, so only sigwait() sees them.
sigset_t block_shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

/// Waits up to `ms` for a shutdown signal; its number, or 0.
int wait_signal(const sigset_t& set, long ms) {
  timespec timeout{ms / 1000, (ms % 1000) * 1'000'000};
  int sig = sigtimedwait(&set, nullptr, &timeout);
  return sig > 0 ? sig : 0;
}

/// Arms --faults before storage opens, so store points see the first
/// commit. False, said on stderr, when a rule is refused.
bool arm_faults(const std::vector<ordo::runtime::fault_rule>& rules) {
  std::string err;
  for (const auto& rule : rules) {
    if (!ordo::runtime::faults::global().arm(rule, &err)) {
      ordo::log::error("ordo", "--faults: " + err);
      return false;
    }
    ordo::log::warn("ordo",
                    "fault armed: " + ordo::runtime::rule_to_json(rule).dump());
  }
  return true;
}

/// Joins the cluster, when `membership` names more than one node, before
/// the node starts, so its relay can reach the peers (and a peer that
/// refuses this node's flags stops it here). `*mesh` stays null for a
/// single node. False, said on stderr, when joining fails.
bool join_cluster(const ordo::cluster::membership_options& membership,
                  std::unique_ptr<ordo::cluster::mesh>* mesh) {
  if (membership.peers.size() <= 1) {
    return true;
  }
  std::string err;
  ordo::cluster::mesh_options mo;
  auto map = ordo::cluster::partition_map::make(membership, &err);
  if (map) {
    mo.map = std::make_shared<const ordo::cluster::partition_map>(*map);
    *mesh = ordo::cluster::mesh::start(std::move(mo), &err);
  }
  if (!*mesh) {
    ordo::log::error("ordo", "cannot join the cluster: " + err);
    return false;
  }
  return true;
}

/// Hands `node` what its peers send: messages and the news that one is up.
void deliver_from_peers(ordo::cluster::mesh& mesh, ordo::runtime::node& node) {
  auto* n = &node;
  mesh.serve_messages([n](ordo::actors::envelope msg, std::string dedupe,
                          ordo::runtime::remote_done done) {
    n->receive(msg, std::move(dedupe), std::move(done));
  });
  mesh.on_peer_up([n](const std::string& id) {
    n->peer_up(id);
  });
}

/// Stops what runs, the gateway first. The mesh before the node: its CAF
/// threads have spawned the node's actors (delivering peers' messages),
/// and CAF's actor_system waits at destruction for every thread that
/// spawned into it; the node's threads never spawn into the mesh's system.
/// Until the node stops, its messages for peers fail as unavailable and
/// stay in its outbox.
void stop_all(ordo::gateway::server* server, ordo::cluster::mesh* mesh,
              ordo::runtime::node& node) {
  if (server) {
    server->stop();
  }
  if (mesh) {
    mesh->stop();
  }
  node.stop();
}

int serve(const ordo::app::serve_config& cfg) {
  ordo::log::configure(cfg.log_level, cfg.log_format);
  sigset_t signals = block_shutdown_signals();
  signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<ordo::cluster::mesh> mesh;
  if (!arm_faults(cfg.faults) || !join_cluster(cfg.http.membership, &mesh)) {
    return 1;
  }
  auto node_opts = cfg.node;
  auto http_opts = cfg.http;
  if (mesh) {
    node_opts.cluster = mesh.get();
    http_opts.mesh = mesh.get();
  }
  std::string err;
  auto node = ordo::runtime::node::start(node_opts, &err);
  if (!node) {
    ordo::log::error("ordo", "cannot start the node: " + err);
    return 1;
  }
  if (mesh) {
    deliver_from_peers(*mesh, *node);
  }
  // Start-up work (timer re-arm, outbox scan) finishes before we listen.
  int sig = 0;
  while (!node->ready() && sig == 0) {
    sig = wait_signal(signals, 10);
  }
  if (mesh && sig == 0) {
    mesh->announce_ready();
  }
  std::unique_ptr<ordo::gateway::server> server;
  if (sig == 0) {
    server = ordo::gateway::server::start(http_opts, *node, &err);
    if (!server) {
      ordo::log::error("ordo", "cannot start the HTTP gateway: " + err);
      stop_all(nullptr, mesh.get(), *node);
      return 1;
    }
    std::cout << "ordo listening on "
              << ordo::app::listen_url(cfg.http.host, server->port())
              << std::endl;
  }
  while (sig == 0) {
    sig = wait_signal(signals, 1000);
  }
  ordo::log::info("ordo", std::string{strsignal(sig)} + ", shutting down");
  stop_all(server.get(), mesh.get(), *node);
  return 0;
}

/// `ordo sandbox-provider`: listen, announce, wait for a signal, stop.
int sandbox_provider(const ordo::app::sandbox_provider_options& opts) {
  sigset_t signals = block_shutdown_signals();
  signal(SIGPIPE, SIG_IGN);
  std::string err;
  auto provider = ordo::app::sandbox_provider::start(opts, &err);
  if (!provider) {
    ordo::log::error("sandbox-provider", err);
    return 1;
  }
  std::cout << "sandbox-provider listening on "
            << ordo::app::listen_url(opts.host, provider->port()) << std::endl;
  int sig = 0;
  while (sig == 0) {
    sig = wait_signal(signals, 1000);
  }
  ordo::log::info("sandbox-provider",
                  std::string{strsignal(sig)} + ", shutting down");
  provider->stop();
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  auto cmd = ordo::app::parse_command_line(argc, argv, std::cout, std::cerr);
  if (cmd.audit) {
    return ordo::app::audit(*cmd.audit, std::cout, std::cerr);
  }
  if (cmd.inspect) {
    return ordo::app::inspect(*cmd.inspect, std::cout, std::cerr);
  }
  if (cmd.sandbox_provider) {
    return sandbox_provider(*cmd.sandbox_provider);
  }
  if (cmd.load) {
    signal(SIGPIPE, SIG_IGN);
    return ordo::app::run_load(*cmd.load, std::cout, std::cerr);
  }
  if (!cmd.serve) {
    return cmd.exit_code;
  }
  return serve(*cmd.serve);
}
