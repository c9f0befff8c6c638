#include "gateway/detail/metrics.hpp"

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <string_view>
#include <utility>

namespace ordo::gateway::detail {

namespace {

/// Appends metric families to one exposition text.
class exposition {
public:
  /// One unlabeled sample.
  exposition& metric(std::string_view name, std::string_view type,
                     std::string_view help, double value) {
    header(name, type, help);
    sample(name, "", value);
    return *this;
  }

  /// One sample per value of `label`.
  exposition&
  labeled(std::string_view name, std::string_view type, std::string_view help,
          std::string_view label,
          std::initializer_list<std::pair<std::string_view, double>> values) {
    header(name, type, help);
    for (const auto& [label_value, value] : values) {
      std::string labels{label};
      labels += "=\"";
      labels += label_value;
      labels += '"';
      sample(name, labels, value);
    }
    return *this;
  }

  std::string text() && {
    return std::move(out_);
  }

private:
  void header(std::string_view name, std::string_view type,
              std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  void sample(std::string_view name, const std::string& labels, double value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    auto whole = static_cast<std::int64_t>(value);
    out_ += static_cast<double>(whole) == value ? std::to_string(whole)
                                                : std::to_string(value);
    out_ += '\n';
  }

  std::string out_;
};

double d(std::uint64_t v) {
  return static_cast<double>(v);
}

/// Shortest usual form: "0.00025", "4096", "1e-05".
std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

} // namespace

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void append_histogram_samples(std::string& out, std::string_view name,
                              std::string_view labels,
                              const storage::histogram_data& h) {
  auto bucket = [&](std::string_view le, std::uint64_t cumulative) {
    out += name;
    out += "_bucket{";
    if (!labels.empty()) {
      out += labels;
      out += ',';
    }
    out += "le=\"";
    out += le;
    out += "\"} ";
    out += std::to_string(cumulative);
    out += '\n';
  };
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.bounds.size(); ++i) {
    cumulative += i < h.counts.size() ? h.counts[i] : 0;
    bucket(format_number(h.bounds[i]), cumulative);
  }
  // +Inf is every observation, whatever the buckets hold.
  bucket("+Inf", h.count);
  std::string braced
    = labels.empty() ? std::string{} : "{" + std::string{labels} + "}";
  out += name;
  out += "_sum";
  out += braced;
  out += ' ';
  out += format_number(h.sum);
  out += '\n';
  out += name;
  out += "_count";
  out += braced;
  out += ' ';
  out += std::to_string(h.count);
  out += '\n';
}

std::string render_histogram(std::string_view name, std::string_view help,
                             const storage::histogram_data& h) {
  std::string out = "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += " histogram\n";
  append_histogram_samples(out, name, "", h);
  return out;
}

namespace {

/// The actors in memory and their timers.
void actor_metrics(exposition& e, const runtime::node_stats& s) {
  e.labeled("ordo_actors_active", "gauge", "Actors in memory, by kind.", "kind",
            {{"order", d(s.active_orders)},
             {"sku", d(s.active_skus)},
             {"other", d(s.active_others)}})
    .metric("ordo_mailbox_depth", "gauge",
            "Mails waiting in the mailboxes of all actors in memory.",
            d(s.mailbox_depth))
    .metric("ordo_actor_activations_total", "counter",
            "Actors loaded into memory.", d(s.activations))
    .metric("ordo_actor_passivations_total", "counter",
            "Idle actors that left memory.", d(s.passivations))
    .metric("ordo_timers_pending", "gauge", "Durable timers armed.",
            d(s.timers_pending));
}

/// Commits, the WAL and the free-space guard.
void storage_metrics(exposition& e, const runtime::node_stats& s) {
  e.metric("ordo_storage_dedupe_bytes", "gauge",
           "Consumed message ids kept for deduplication, bytes (estimate).",
           d(s.dedupe_bytes))
    .metric("ordo_commits_total", "counter",
            "Group commits (one WAL write each).", d(s.commits))
    .metric("ordo_batches_total", "counter", "Actor turns committed.",
            d(s.batches))
    .metric("ordo_records_total", "counter",
            "Puts and deletes committed (all batches).", d(s.records))
    .metric("ordo_wal_syncs_total", "counter",
            "fsyncs of the WAL (one covers every group written before it).",
            d(s.wal_syncs))
    .metric("ordo_batches_failed_total", "counter",
            "Actor turns whose batch failed or was dropped (nothing written).",
            d(s.batches_failed))
    .metric("ordo_commit_queue", "gauge",
            "Batches waiting for the commit thread.", d(s.commit_queue))
    .metric("ordo_storage_writable", "gauge",
            "1 while the store takes writes; 0 while it refuses them (low "
            "disk: see /readyz).",
            s.writable ? 1.0 : 0.0)
    .metric("ordo_disk_free_bytes", "gauge",
            "Free space where the data lives, at the guard's last look.",
            d(s.disk_free_bytes))
    .metric("ordo_writes_refused_total", "counter",
            "Batches refused by the free-space guard (--min-free-disk).",
            d(s.writes_refused));
}

/// Audits, recoveries and the outbox.
void outbox_metrics(exposition& e, const runtime::node_stats& s) {
  e.metric("ordo_audit_orders_read_total", "counter",
           "Stored orders the audits read (a scheduled run reads those "
           "written since the last one and a slice of a sweep).",
           d(s.audit_orders_read))
    .metric("ordo_actors_recovered_total", "counter",
            "Actors that dropped their state after a failed batch and "
            "reloaded it.",
            d(s.actors_recovered))
    .metric("ordo_outbox_backlog", "gauge",
            "Outbox messages not yet acknowledged.", d(s.outbox_backlog))
    .metric("ordo_outbox_oldest_seconds", "gauge",
            "Age of the oldest unacknowledged outbox message.",
            static_cast<double>(s.outbox_oldest_ms) / 1000.0)
    .metric("ordo_outbox_dead_letters", "gauge",
            "Outbox messages rejected permanently and kept for an operator.",
            d(s.outbox_dead_letters))
    .metric("ordo_outbox_delivered_total", "counter",
            "Outbox messages acknowledged.", d(s.outbox_delivered))
    .metric("ordo_outbox_attempts_total", "counter",
            "Outbox deliveries tried, retries included.", d(s.outbox_attempts))
    .metric("ordo_outbox_rejected_total", "counter",
            "Outbox messages that became dead letters.", d(s.outbox_dead));
}

/// Payments, SMS, audits, dispatch and abuse guards.
void domain_metrics(exposition& e, const runtime::node_stats& s) {
  e.metric("ordo_refund_anomalies_total", "counter",
           "Payments captured and refunded automatically (rule 2).",
           d(s.refund_anomalies))
    .metric("ordo_refunds_owed", "gauge",
            "Refund calls to --payment-provider not acknowledged yet, dead "
            "letters included.",
            d(s.refunds_owed))
    .metric("ordo_payment_calls_total", "counter",
            "HTTP calls to --payment-provider.", d(s.payment_calls))
    .metric("ordo_payment_failures_total", "counter",
            "Calls to --payment-provider that failed.", d(s.payment_failures))
    .labeled("ordo_sms_total", "counter",
             "Admin SMS by outcome: suppressed ones are money saved.",
             "outcome",
             {{"sent", d(s.sms_sent)},
              {"suppressed", d(s.sms_suppressed)},
              {"expired", d(s.sms_expired)}})
    .metric("ordo_audit_runs_total", "counter", "Audits run (rule 13).",
            d(s.audit_runs))
    .metric("ordo_audit_violations_total", "counter",
            "Violations found by audits, healed ones included.",
            d(s.audit_violations))
    .metric("ordo_audit_heals_total", "counter",
            "Heal messages sent by audits.", d(s.audit_heals))
    .metric("ordo_refunds_reissued_total", "counter",
            "Owed refunds sent again after an audit.", d(s.refunds_reissued))
    .labeled("ordo_dispatches_total", "counter", "O2O dispatches by outcome.",
             "outcome",
             {{"assigned", d(s.dispatch_assigned)},
              {"suppressed", d(s.dispatch_suppressed)},
              {"recalled", d(s.dispatch_recalled)}})
    .metric("ordo_orders_rate_limited_total", "counter",
            "Creates refused by the per-user rate limit (429).",
            d(s.rate_limited))
    .labeled("ordo_captcha_total", "counter",
             "Captcha challenges by outcome (rule 10).", "outcome",
             {{"issued", d(s.captcha_issued)},
              {"failed", d(s.captcha_failed)},
              {"solved", d(s.captcha_solved)}})
    .metric("ordo_manual_interventions_total", "counter",
            "Split orders whose cancel could not finish (rule 9).",
            d(s.manual_interventions));
}

} // namespace

std::string prometheus_text(const runtime::node_stats& s) {
  exposition e;
  actor_metrics(e, s);
  storage_metrics(e, s);
  outbox_metrics(e, s);
  domain_metrics(e, s);
  return std::move(e).text()
         + render_histogram("ordo_commit_batches",
                            "Batches merged per group commit.",
                            s.commit_group_sizes)
         + render_histogram("ordo_wal_sync_seconds",
                            "Time per fsync of the WAL (--durability sync), "
                            "or per WAL write (async).",
                            s.wal_sync_seconds);
}

} // namespace ordo::gateway::detail
