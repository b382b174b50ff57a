#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/random.hpp"

namespace orgquake::fakes {

using Metadata = std::map<std::string, std::string>;

struct StripeCustomer {
  std::string id;            ///< "cus_..."
  std::int64_t created = 0;  ///< Unix seconds
  std::optional<std::string> email;
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<std::string> phone;
  Metadata metadata;
  bool deleted = false;
};

struct StripeSubscriptionItem {
  std::string id;  ///< "si_..."
  std::string price;
  std::int64_t quantity = 1;
};

struct StripeSubscription {
  std::string id;  ///< "sub_..."
  std::string customer;
  std::int64_t created = 0;
  std::string status = "active";
  std::vector<StripeSubscriptionItem> items;
  Metadata metadata;
  std::optional<std::string> description;
  bool cancel_at_period_end = false;
  std::optional<std::int64_t> canceled_at;
};

struct StripeInvoice {
  std::string id;  ///< "in_..."
  std::string customer;
  std::optional<std::string> subscription;
  std::int64_t created = 0;
  std::string status = "draft";
  Metadata metadata;
  std::optional<std::string> description;
  bool auto_advance = false;
};

/// How far back customer search can look: a search lag longer than this
/// sees revisions at most this old.
inline constexpr std::int64_t kSearchHistoryRetentionMs = 60LL * 60 * 1000;

nlohmann::json to_json(const StripeCustomer& customer);
nlohmann::json to_json(const StripeSubscription& subscription);
nlohmann::json to_json(const StripeInvoice& invoice);

/// The objects of the fake Stripe account and the history its search index
/// lags behind. Pure data and rules; no HTTP.
class StripeState {
 public:
  explicit StripeState(Rng rng) : rng_(rng) {}

  /// A fresh id like "cus_Q3h9LpZr8KxW2a": 14 base-62 characters from the
  /// seeded Rng, unique across the account.
  std::string new_id(std::string_view prefix);

  // Customers. Writes take the fake's time in ms, which the search index uses.
  const StripeCustomer* customer(const std::string& id) const;
  const StripeCustomer& put_customer(StripeCustomer customer, std::int64_t now_ms);
  /// Newest first, deleted customers excluded.
  std::vector<const StripeCustomer*> customers() const;
  /// The customers as the search index saw them at `as_of_ms`, newest first.
  std::vector<StripeCustomer> indexed_customers(std::int64_t as_of_ms) const;

  const StripeSubscription* subscription(const std::string& id) const;
  const StripeSubscription& put_subscription(StripeSubscription subscription);
  std::vector<const StripeSubscription*> subscriptions() const;  ///< newest first

  const StripeInvoice* invoice(const std::string& id) const;
  const StripeInvoice& put_invoice(StripeInvoice invoice);
  std::vector<const StripeInvoice*> invoices() const;  ///< newest first

 private:
  struct Revision {
    std::int64_t at_ms;
    StripeCustomer state;
  };
  bool id_taken(const std::string& id) const;

  Rng rng_;
  std::unordered_map<std::string, StripeCustomer> customers_;
  std::vector<std::string> customer_order_;
  std::unordered_map<std::string, std::vector<Revision>> customer_history_;
  std::unordered_map<std::string, StripeSubscription> subscriptions_;
  std::vector<std::string> subscription_order_;
  std::unordered_map<std::string, StripeInvoice> invoices_;
  std::vector<std::string> invoice_order_;
};

}  // namespace orgquake::fakes
