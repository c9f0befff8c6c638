#pragma once

// The face of one ordo node for front ends (the HTTP gateway, tools, tests).
// No CAF, RocksDB or Asio here: requests go in as plain structs and replies
// come back through callbacks.
//
// Threading: every method is thread-safe. A method with a callback returns
// without waiting for storage (its reads run on the node's reader threads).
// Callbacks run on a runtime thread (an actor, a reader, the commit thread or
// the syncer), exactly once, after the change they report is durable; they must
// not block. Which thread of the process runs what, how work crosses between
// them and the order they stop in: docs/threads.md.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/attribution.hpp"
#include "actors/auditor.hpp"
#include "actors/captcha.hpp"
#include "actors/coupon.hpp"
#include "actors/dispatcher.hpp"
#include "actors/inventory.hpp"
#include "actors/notifier.hpp"
#include "actors/order.hpp"
#include "actors/reports.hpp"
#include "runtime/remote.hpp"
#include "storage/store.hpp"

namespace ordo::runtime {

class clock;

template <class T>
using callback = std::function<void(actors::result<T>)>;

struct node_options {
  /// RocksDB directory. Default: ./data
  std::string data_dir = "./data";
  /// Writes are refused (503) while the data directory's file system has
  /// fewer free bytes; 0 = no guard. Default: 256 MiB (--min-free-disk).
  std::uint64_t min_free_disk = 256ULL << 20;
  /// fsync before acknowledging. Default: true (--durability sync).
  bool sync = true;
  /// Unpaid orders auto-cancel after this. Default: 15 min.
  actors::millis payment_timeout = 15 * 60 * 1000;
  /// Unconfirmed reservations last at least this long from the create, and
  /// always until a minute after their order's payment deadline (the
  /// reserve message carries it); a reserve message stored before orders
  /// sent their deadline gets exactly this. Default: 15 min.
  actors::millis reservation_ttl = 15 * 60 * 1000;
  /// How long a receiver remembers the id of a message it consumed
  /// (dedupe), by the node's clock; older ids are dropped at compaction.
  /// The outbox relay stops redelivering a message at half this age (it
  /// becomes a dead letter), so every redelivery still finds its id.
  /// At least 1 min. Default: 7 days.
  actors::millis dedupe_retention = 7LL * 24 * 60 * 60 * 1000;
  /// Journal entries kept per actor (older ones are deleted as new ones
  /// are written). Default: 100.
  std::uint32_t journal_keep = 100;
  /// Idle order actors leave memory after this. Default: 60 s.
  actors::millis passivate_after = 60 * 1000;
  /// Partitions of the order id space. Default: 64.
  std::uint32_t partitions = 64;
  /// Actor scheduler threads. Default: 2.
  std::size_t scheduler_threads = 2;
  /// Threads that read storage for callers (a GET, the existence check of
  /// a write, the rate limit's scan), so that the caller's thread never
  /// waits for the disk; at least 1. Default: 2.
  std::size_t reader_threads = 2;
  /// Where close/refund calls go: "http://HOST:PORT[/BASE]" (POST
  /// {url}/close, {url}/refund); empty = the built-in sandbox. A URL that
  /// does not parse makes start() fail. Default: "".
  std::string payment_provider;
  /// Longest delay between two retries of one outbox message (to an actor
  /// or to the payment provider); retries start at 100 ms and double.
  /// Default: 30 s.
  actors::millis outbox_backoff_cap = 30'000;
  /// Cooling period before the admin "new order" SMS. Default: 180 s.
  actors::millis notify_delay = 180'000;
  /// Notifications older than this are dropped (EXPIRED). Default: 300 s.
  actors::millis notify_ttl = 300'000;
  /// Cooling period between payment and auto-dispatch. Default: 90 s.
  actors::millis dispatch_delay = 90'000;
  /// Wait before a double-check (notifier, dispatcher) is tried again when
  /// its order or the technicians did not answer, or nobody was free.
  /// Default: 10 s.
  actors::millis recheck_delay = 10'000;
  /// The affiliate's share of the payable amount, in millionths.
  /// Default: 50'000 (5%).
  std::int64_t commission_ppm = 50'000;
  /// Technicians for auto-dispatch, in round-robin order. Default: none
  /// (paid service orders wait, re-checking, until some are configured).
  std::vector<std::string> technicians;
  /// Where admin SMS go: "http://HOST:PORT/PATH" (POST JSON); empty = the
  /// built-in log sink. A URL that does not parse makes start() fail.
  /// Default: "".
  std::string sms_webhook;
  /// Between scheduled audits (rule 13); 0 = only on request.
  /// Default: 5 min.
  actors::millis audit_interval = 5 * 60'000;
  /// Unchanged orders each scheduled audit re-reads besides those written
  /// since the last one (see runtime/detail/audit.hpp). Default: 20,000.
  std::size_t audit_sweep = 20'000;
  /// Where audit reports with violations are POSTed ("http://HOST:PORT/
  /// PATH"); empty = log and metrics only. Default: "".
  std::string alert_webhook;
  /// A user cancel this soon after create is a flash cancel (reports).
  /// Default: 60 s.
  actors::millis flash_window = 60'000;
  /// Orders a user may create per `rate_window`; 0 = no limit.
  /// Default: 5.
  std::uint32_t rate_limit = 5;
  /// The sliding window of `rate_limit`. Default: 1 min.
  actors::millis rate_window = 60'000;
  /// Consecutive user cancels after which the next create needs a solved
  /// captcha; 0 = never. Default: 3.
  std::uint32_t captcha_after = 3;
  /// Issues and checks captcha challenges; not owned, must outlive the
  /// node. nullptr = the built-in arithmetic question. Default: nullptr.
  const actors::captcha::verifier* captcha = nullptr;
  /// How long a split parent waits for its children to answer a cancel
  /// before it asks for manual intervention. Default: 30 s.
  actors::millis saga_timeout = 30'000;
  /// A call to the payment provider or the SMS gateway still not delivered
  /// this long after it was written becomes a dead letter, for an operator
  /// to retry (they dedupe on their own ids) or discard; 0 = retried for as
  /// long as it takes. Default: 24 h.
  actors::millis external_give_up = 24 * 3'600'000;
  /// The storage fault hook (storage::store_options::fault), for tests
  /// that must hold a commit at a known moment. Default: empty (the
  /// process's fault registry, runtime/faults.hpp).
  std::function<bool(const char* point)> store_fault;
  /// The time source; nullptr = the system clock. Default: nullptr.
  std::shared_ptr<clock> time;
  /// Where actors other nodes own are reached (a cluster); not
  /// owned, must outlive the node. nullptr = every actor is on this node.
  /// Default: nullptr.
  remote* cluster = nullptr;
};

/// Why the user's rate limiter refused a create (rule 10).
struct admission_refusal {
  /// rate_limited or captcha_required.
  actors::errc code = actors::errc::rate_limited;
  std::string message;
  /// rate_limited: when the next create may pass.
  actors::millis retry_after_ms = 0;
  /// captcha_required: the challenge to solve (never its answer).
  std::string challenge_id;
  std::string question;
};

/// A create's reply: the order, and whether this call created it (201) or
/// found it by its Idempotency-Key (200).
struct created_order {
  actors::order::state order;
  bool created = false;
  /// Set instead of an order when the user's limiter refused the create.
  std::optional<admission_refusal> refused;
};

/// One line of a user's order list.
struct user_order {
  std::string order_id;
  actors::order::status status = actors::order::status::none;
  std::int64_t payable = 0;
  actors::millis created_at = 0;
};

/// A page of a user's orders, newest first; `next_cursor` continues after
/// the last one ("" when there are no more).
struct user_orders_page {
  std::vector<user_order> orders;
  std::string next_cursor;
};

/// GET /v1/reports/sales: every report shard merged.
struct sales_report {
  actors::reports::totals totals;
  actors::millis flash_window = 0;
};

/// A payment callback's reply: "captured", "refunded", "duplicate" or
/// "ignored", and the order after it.
struct payment_result {
  std::string result;
  actors::order::state order;
};

/// A refund or close call as the built-in sandbox provider recorded it.
struct provider_call {
  std::string kind; ///< "refund" or "close"
  std::string id;   ///< refund_id, or order_id for close
  std::string order_id;
  std::string txn_id;
  std::int64_t amount = 0;
  std::uint32_t received = 0; ///< calls seen with this id (retries included)
};

/// An admin SMS as the built-in log sink recorded it.
struct sent_sms {
  std::string notification_id;
  std::string order_id;
  std::string template_name; ///< "new_order" or "order_cancelled"
  std::string text;
  std::uint32_t received = 0; ///< deliveries seen (repeats included)
};

/// A message the outbox relay still holds, or a dead letter.
struct outbox_message {
  std::uint64_t seq = 0;
  actors::address from;
  actors::envelope msg;
  std::uint32_t attempts = 0; ///< deliveries tried so far
  std::string last_error;     ///< "" before the first failure
  bool dead = false;          ///< rejected permanently; never retried
  actors::millis age_ms = 0;  ///< since queued (this run of the node)
};

/// The pending messages of one receiver (GET /v1/admin/outbox).
struct outbox_destination {
  actors::address to;
  std::size_t pending = 0;
  actors::millis oldest_ms = 0;   ///< age of its oldest pending message
  std::uint32_t attempts_max = 0; ///< deliveries tried for one message
  std::string last_error;         ///< "" before the first failure
};

/// One thing an operator did to the node (retry or discard a dead letter,
/// arm or clear a fault, run an audit), kept in storage: the trail the
/// console shows.
struct operator_action {
  actors::millis at = 0; ///< ms since the epoch (wall clock)
  std::string who;       ///< the operator's name (X-Ordo-Operator)
  std::string action;    ///< "dead_letter.retry", "fault.arm", ...
  std::string subject;   ///< what it acted on ("outbox/17", "store.x")
  std::string detail;    ///< anything else worth keeping; may be ""
};

/// The last audit that finished (GET /v1/admin/audit/last).
struct audit_run {
  actors::auditor::report report;
  actors::millis at = 0;  ///< when it finished, ms since the epoch
  bool scheduled = false; ///< false: asked for (HTTP, console)
};

/// What one actor is, as stored (and, for a running node, in memory):
/// GET /v1/admin/actors/{kind}/{id} and `ordo inspect`.
struct actor_view {
  struct transition {
    std::uint64_t version = 0;
    std::string event;
    std::string cause;
    actors::millis at = 0;
  };
  struct timer {
    std::string name;
    actors::millis due = 0;
  };
  std::string kind;
  std::string id;
  /// Something is stored for it.
  bool exists = false;
  /// In memory now (always false offline).
  bool active = false;
  std::uint64_t version = 0;
  /// The stored state in its stored form (the kind's codec), entries
  /// included; the gateway decodes it and shows it under the API's names.
  nlohmann::json state;
  /// The last transitions, oldest first (at most the journal bound).
  std::vector<transition> journal;
  /// Durable timers armed.
  std::vector<timer> timers;
  /// Messages it sent that are not yet acknowledged, with attempts.
  std::vector<outbox_message> outbox;
  /// Mails waiting in its mailbox; -1 when not active.
  std::int64_t mailbox_size = -1;
};

/// The actor kinds a node hosts ("order", "sku", "coupon", "affiliate",
/// "notifier", "dispatcher", "technicians", "limiter", "report").
const std::vector<std::string>& actor_kinds();

/// Where an actor lives in a cluster, by what its id is.
enum class placement : std::uint8_t {
  /// The id is an order id (order, notifier, dispatcher): the partition it
  /// names.
  order_id,
  /// Any other id (an SKU, a coupon, a user...): the partition it hashes to
  /// (user_partition).
  hashed_id,
  /// The id is a report shard's name, "o" + 4 hex digits: that partition.
  shard_name,
};

/// The placement of actor kind `kind`; nullopt for a kind no node hosts
/// (the payment provider, the SMS gateway).
std::optional<placement> placement_of(std::string_view kind);

/// Inspects `kind`/`id` in the stopped node's storage at `data_dir`, opened
/// read-only (`ordo inspect --data`). not_found for an unknown kind,
/// internal with the reason if the storage cannot be opened.
actors::result<actor_view> inspect_offline(const std::string& data_dir,
                                           const std::string& kind,
                                           const std::string& id);

/// Audits the stopped node's storage at `data_dir`, opened read-only
/// (`ordo audit --data`): reports only, heals nothing (a heal needs the
/// running actors; what would be healed is reported with healed == false).
/// Messages still in the outbox count as settling, as on a running node.
actors::result<actors::auditor::report>
audit_offline(const std::string& data_dir, actors::millis now);

/// Figures about a running node (metrics, tests, tools).
struct node_stats {
  std::size_t active_orders = 0;   ///< order actors in memory
  std::size_t active_skus = 0;     ///< SKU actors in memory
  std::size_t active_others = 0;   ///< coupon, notifier, ... actors in memory
  std::uint64_t mailbox_depth = 0; ///< mails waiting, all actors
  std::uint64_t activations = 0;   ///< actors loaded, all kinds
  std::uint64_t passivations = 0;  ///< actors that left memory, all kinds
  std::size_t timers_pending = 0;  ///< durable timers armed
  std::size_t outbox_backlog = 0;  ///< messages not yet acknowledged
  std::uint64_t outbox_delivered = 0;
  std::uint64_t outbox_attempts = 0;
  std::uint64_t outbox_dead = 0;       ///< rejected since start
  std::size_t outbox_dead_letters = 0; ///< dead letters kept
  actors::millis outbox_oldest_ms = 0; ///< age of the oldest pending
  std::uint64_t commits = 0;           ///< group commits (WAL writes)
  std::uint64_t batches = 0;           ///< actor turns committed
  std::uint64_t records = 0;           ///< puts and deletes committed
  std::uint64_t wal_syncs = 0;         ///< fsyncs of the WAL
  std::uint64_t batches_failed = 0;    ///< turns whose batch failed
  std::uint64_t commit_queue = 0;      ///< batches waiting to be written
  std::uint64_t actors_recovered = 0;  ///< reloaded after a failed batch
  bool writable = true;                ///< the store takes writes
  std::uint64_t disk_free_bytes = 0;   ///< at the guard's last look
  std::uint64_t writes_refused = 0;    ///< batches refused for low disk
  std::uint64_t refund_anomalies = 0;  ///< payments refunded automatically
  std::uint64_t payment_calls = 0;     ///< HTTP calls to --payment-provider
  std::uint64_t payment_failures = 0;  ///< of which non-2xx, errors, timeouts
  std::uint64_t sms_sent = 0;          ///< admin SMS that went out
  std::uint64_t sms_suppressed = 0;    ///< not sent: the order was cancelled
  std::uint64_t sms_expired = 0;       ///< not sent: older than notify_ttl
  std::uint64_t dispatch_assigned = 0;
  std::uint64_t dispatch_suppressed = 0;
  std::uint64_t dispatch_recalled = 0;
  std::uint64_t audit_runs = 0;
  std::uint64_t audit_orders_read = 0; ///< stored orders the audits read
  std::uint64_t audit_violations = 0;  ///< found, all runs (healed included)
  std::uint64_t audit_heals = 0;       ///< heal messages sent
  std::uint64_t refunds_reissued = 0;  ///< by an audit heal
  std::uint64_t rate_limited = 0;      ///< creates refused with 429
  std::uint64_t captcha_issued = 0;    ///< challenges put to users
  std::uint64_t captcha_failed = 0;    ///< wrong or stale answers
  std::uint64_t captcha_solved = 0;
  std::uint64_t manual_interventions = 0; ///< split orders a human must end
  std::size_t refunds_owed = 0;           ///< refund calls not yet acknowledged
  storage::histogram_data commit_group_sizes; ///< batches per group commit
  storage::histogram_data wal_sync_seconds;   ///< per WAL fsync
  /// Bytes of consumed message ids (dedupe family, tables and memtables;
  /// RocksDB's estimate): flat under steady load (--dedupe-retention).
  std::uint64_t dedupe_bytes = 0;
};

/// Checks an outbound URL ("http://HOST[:PORT][/PATH]": --payment-provider,
/// --sms-webhook) exactly as node::start will; false and `*why`, naming
/// `what`, otherwise. For front ends that validate their flags first.
bool valid_http_url(std::string_view url, std::string_view what,
                    std::string* why);

class node {
public:
  virtual ~node() = default;

  /// Opens storage, starts the actor system, re-arms timers, resumes the
  /// outbox. On failure returns nullptr and sets `*err`.
  static std::unique_ptr<node> start(const node_options& opts,
                                     std::string* err);

  virtual void put_sku(const std::string& sku, actors::inventory::put cmd,
                       callback<actors::inventory::state> cb)
    = 0;
  virtual void get_sku(const std::string& sku,
                       callback<actors::inventory::state> cb)
    = 0;

  /// `idempotency_key` scopes per user: the order id derives from both.
  virtual void create_order(const std::string& idempotency_key,
                            actors::order::create cmd,
                            callback<created_order> cb)
    = 0;
  /// Reads the last durable state without activating the order.
  virtual void get_order(const std::string& order_id,
                         callback<actors::order::state> cb)
    = 0;
  /// A user's top-level orders, newest first, from the index each order
  /// writes in its own batch (so never older than get_order after an
  /// acknowledged write). At most `limit` (1..100); `cursor` is "" or a
  /// page's next_cursor (bad_request if it is not one).
  virtual void user_orders(const std::string& user_id, std::size_t limit,
                           const std::string& cursor,
                           callback<user_orders_page> cb)
    = 0;
  /// Most users a sales report ranks by flash cancels (each report shard
  /// keeps this many, so any top_n up to it is exact).
  static constexpr std::size_t max_top_users = actors::reports::max_top_users;
  /// The sales report with the `top_n` (1..max_top_users) users with most
  /// flash cancels.
  virtual void sales(std::size_t top_n, callback<sales_report> cb) = 0;
  virtual void cancel_order(const std::string& order_id,
                            actors::order::cancel cmd,
                            callback<actors::order::state> cb)
    = 0;
  virtual void complete_order(const std::string& order_id,
                              callback<actors::order::state> cb)
    = 0;
  virtual void refund_order(const std::string& order_id,
                            callback<actors::order::state> cb)
    = 0;
  virtual void payment_callback(const std::string& order_id,
                                actors::order::pay cmd,
                                callback<payment_result> cb)
    = 0;

  /// Admin: creates a coupon or changes an AVAILABLE one.
  virtual void put_coupon(const std::string& coupon_id, actors::coupon::put cmd,
                          callback<actors::coupon::state> cb)
    = 0;
  /// The coupon's last durable state; not_found if it was never put.
  virtual void get_coupon(const std::string& coupon_id,
                          callback<actors::coupon::state> cb)
    = 0;
  /// The admin SMS of an order (empty before any was created); not_found
  /// if the order does not exist.
  virtual void notifications(const std::string& order_id,
                             callback<actors::notifier::state> cb)
    = 0;
  /// The auto-dispatch of an order (exists == false if none); not_found if
  /// the order does not exist.
  virtual void dispatches(const std::string& order_id,
                          callback<actors::dispatcher::state> cb)
    = 0;
  /// An affiliate's commissions (empty for an unknown affiliate).
  virtual void commissions(const std::string& affiliate_id,
                           callback<actors::attribution::state> cb)
    = 0;

  /// What the built-in sandbox provider has received (empty when an external
  /// provider is configured).
  virtual void sandbox_calls(callback<std::vector<provider_call>> cb) = 0;

  /// Reads `kind`/`id` without activating it (see actor_view); not_found
  /// for an unknown kind.
  virtual void inspect(const std::string& kind, const std::string& id,
                       callback<actor_view> cb)
    = 0;

  /// Runs the auditor now (off the caller's thread) and answers with what
  /// it found and healed, when it finished (the node's clock) and why.
  virtual void audit(callback<audit_run> cb) = 0;

  /// Up to `limit` messages the relay still holds (dead == false) or its
  /// dead letters (dead == true), oldest first.
  virtual std::vector<outbox_message> outbox(bool dead, std::size_t limit) = 0;

  /// The receivers with pending messages, the most pending first.
  virtual std::vector<outbox_destination> outbox_destinations() = 0;

  /// Moves dead letter `seq` back into the outbox (under a fresh seq, which
  /// `cb` gets) and records `who` did it, in one batch. not_found: no such
  /// dead letter; invalid_transition: it expired on its way to an actor
  /// and is never delivered again.
  virtual void retry_dead_letter(std::uint64_t seq, const std::string& who,
                                 callback<std::uint64_t> cb)
    = 0;

  /// Deletes dead letter `seq` and records `who` did it, in one batch;
  /// not_found: no such dead letter.
  virtual void discard_dead_letter(std::uint64_t seq, const std::string& who,
                                   callback<std::uint64_t> cb)
    = 0;

  /// Records an operator's action done elsewhere (a fault armed, an audit
  /// asked for); `at` is set when 0. Stored in the background: a crash may
  /// lose the last few.
  virtual void record_action(operator_action a) = 0;

  /// The newest `limit` operator actions, newest first.
  virtual void operator_log(std::size_t limit,
                            callback<std::vector<operator_action>> cb)
    = 0;

  /// The last audit that finished since start-up; nullopt before the first.
  virtual std::optional<audit_run> last_audit() = 0;

  /// What the built-in SMS log sink has sent (empty with --sms-webhook).
  virtual void sms_log(callback<std::vector<sent_sms>> cb) = 0;

  virtual node_stats stats() const = 0;

  /// A message from another node for an actor of this one (see `remote`):
  /// delivered as the relay delivers locally; `done` runs once, after the
  /// receiver's turn is durable, or with the error.
  virtual void receive(const actors::envelope& msg, std::string dedupe_id,
                       remote_done done)
    = 0;

  /// Node `node_id` is reachable again: messages for it waiting out a
  /// retry backoff are delivered now.
  virtual void peer_up(const std::string& node_id) = 0;

  /// Waits until every outbox message has been acknowledged (nothing in
  /// flight between actors or to adapters); false on timeout.
  virtual bool quiesce(actors::millis timeout) = 0;

  /// True once start-up (timer re-arm, outbox scan) is complete.
  virtual bool ready() const = 0;

  /// Whether the store takes writes now (the free-space guard, a failed
  /// write), and why not.
  virtual storage::write_health storage_health() const = 0;

  /// Stops accepting work, drains commits, stops the actor system. Idempotent.
  virtual void stop() = 0;
};

} // namespace ordo::runtime
