#include "fakes/stripe_state.hpp"

namespace orgquake::fakes {
namespace {

nlohmann::json optional_string(const std::optional<std::string>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json metadata_json(const Metadata& metadata) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [key, value] : metadata) json[key] = value;
  return json;
}

constexpr std::int64_t kMonthSeconds = 30LL * 24 * 60 * 60;

}  // namespace

nlohmann::json to_json(const StripeCustomer& c) {
  if (c.deleted) return {{"id", c.id}, {"object", "customer"}, {"deleted", true}};
  return {{"id", c.id},
          {"object", "customer"},
          {"address", nullptr},
          {"balance", 0},
          {"created", c.created},
          {"currency", nullptr},
          {"default_source", nullptr},
          {"delinquent", false},
          {"description", optional_string(c.description)},
          {"discount", nullptr},
          {"email", optional_string(c.email)},
          {"invoice_prefix", c.id.substr(4, 8)},
          {"invoice_settings",
           {{"custom_fields", nullptr},
            {"default_payment_method", nullptr},
            {"footer", nullptr},
            {"rendering_options", nullptr}}},
          {"livemode", false},
          {"metadata", metadata_json(c.metadata)},
          {"name", optional_string(c.name)},
          {"next_invoice_sequence", 1},
          {"phone", optional_string(c.phone)},
          {"preferred_locales", nlohmann::json::array()},
          {"shipping", nullptr},
          {"tax_exempt", "none"},
          {"test_clock", nullptr}};
}

nlohmann::json to_json(const StripeSubscription& s) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& item : s.items) {
    items.push_back({{"id", item.id},
                     {"object", "subscription_item"},
                     {"created", s.created},
                     {"metadata", nlohmann::json::object()},
                     {"price",
                      {{"id", item.price},
                       {"object", "price"},
                       {"active", true},
                       {"currency", "usd"},
                       {"livemode", false},
                       {"type", "recurring"},
                       {"recurring", {{"interval", "month"}, {"interval_count", 1}}}}},
                     {"quantity", item.quantity},
                     {"subscription", s.id}});
  }
  const std::int64_t period_start = s.created;
  return {{"id", s.id},
          {"object", "subscription"},
          {"cancel_at_period_end", s.cancel_at_period_end},
          {"canceled_at", s.canceled_at ? nlohmann::json(*s.canceled_at) : nlohmann::json(nullptr)},
          {"collection_method", "charge_automatically"},
          {"created", s.created},
          {"currency", "usd"},
          {"current_period_start", period_start},
          {"current_period_end", period_start + kMonthSeconds},
          {"customer", s.customer},
          {"description", optional_string(s.description)},
          {"items",
           {{"object", "list"},
            {"data", std::move(items)},
            {"has_more", false},
            {"total_count", s.items.size()},
            {"url", "/v1/subscription_items?subscription=" + s.id}}},
          {"livemode", false},
          {"metadata", metadata_json(s.metadata)},
          {"start_date", s.created},
          {"status", s.status}};
}

nlohmann::json to_json(const StripeInvoice& i) {
  return {{"id", i.id},
          {"object", "invoice"},
          {"amount_due", 0},
          {"amount_paid", 0},
          {"amount_remaining", 0},
          {"auto_advance", i.auto_advance},
          {"collection_method", "charge_automatically"},
          {"created", i.created},
          {"currency", "usd"},
          {"customer", i.customer},
          {"description", optional_string(i.description)},
          {"lines",
           {{"object", "list"},
            {"data", nlohmann::json::array()},
            {"has_more", false},
            {"total_count", 0},
            {"url", "/v1/invoices/" + i.id + "/lines"}}},
          {"livemode", false},
          {"metadata", metadata_json(i.metadata)},
          {"status", i.status},
          {"subscription", optional_string(i.subscription)},
          {"total", 0}};
}

bool StripeState::id_taken(const std::string& id) const {
  return customers_.count(id) != 0 || subscriptions_.count(id) != 0 || invoices_.count(id) != 0;
}

std::string StripeState::new_id(std::string_view prefix) {
  static constexpr char alphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  for (;;) {
    std::string id(prefix);
    id.push_back('_');
    for (int i = 0; i < 14; ++i) id.push_back(alphabet[rng_.below(62)]);
    if (!id_taken(id)) return id;
  }
}

const StripeCustomer* StripeState::customer(const std::string& id) const {
  const auto it = customers_.find(id);
  return it == customers_.end() ? nullptr : &it->second;
}

const StripeCustomer& StripeState::put_customer(StripeCustomer customer, std::int64_t now_ms) {
  const std::string id = customer.id;
  auto [it, inserted] = customers_.insert_or_assign(id, std::move(customer));
  if (inserted) customer_order_.push_back(id);
  auto& revisions = customer_history_[id];
  revisions.push_back(Revision{now_ms, it->second});
  // Forget revisions no lagging search can reach any more: those followed by
  // a newer one that is itself older than the retention window.
  const std::int64_t horizon = now_ms - kSearchHistoryRetentionMs;
  std::size_t drop = 0;
  while (drop + 1 < revisions.size() && revisions[drop + 1].at_ms <= horizon) ++drop;
  if (drop > 0)
    revisions.erase(revisions.begin(), revisions.begin() + static_cast<std::ptrdiff_t>(drop));
  return it->second;
}

std::vector<const StripeCustomer*> StripeState::customers() const {
  std::vector<const StripeCustomer*> out;
  for (auto it = customer_order_.rbegin(); it != customer_order_.rend(); ++it) {
    const StripeCustomer& c = customers_.at(*it);
    if (!c.deleted) out.push_back(&c);
  }
  return out;
}

std::vector<StripeCustomer> StripeState::indexed_customers(std::int64_t as_of_ms) const {
  std::vector<StripeCustomer> out;
  for (auto it = customer_order_.rbegin(); it != customer_order_.rend(); ++it) {
    const auto& revisions = customer_history_.at(*it);
    // The newest revision the index had caught up with at as_of_ms.
    const Revision* seen = nullptr;
    for (const Revision& revision : revisions) {
      if (revision.at_ms <= as_of_ms) seen = &revision;
    }
    if (seen != nullptr && !seen->state.deleted) out.push_back(seen->state);
  }
  return out;
}

const StripeSubscription* StripeState::subscription(const std::string& id) const {
  const auto it = subscriptions_.find(id);
  return it == subscriptions_.end() ? nullptr : &it->second;
}

const StripeSubscription& StripeState::put_subscription(StripeSubscription subscription) {
  const std::string id = subscription.id;
  auto [it, inserted] = subscriptions_.insert_or_assign(id, std::move(subscription));
  if (inserted) subscription_order_.push_back(id);
  return it->second;
}

std::vector<const StripeSubscription*> StripeState::subscriptions() const {
  std::vector<const StripeSubscription*> out;
  for (auto it = subscription_order_.rbegin(); it != subscription_order_.rend(); ++it) {
    out.push_back(&subscriptions_.at(*it));
  }
  return out;
}

const StripeInvoice* StripeState::invoice(const std::string& id) const {
  const auto it = invoices_.find(id);
  return it == invoices_.end() ? nullptr : &it->second;
}

const StripeInvoice& StripeState::put_invoice(StripeInvoice invoice) {
  const std::string id = invoice.id;
  auto [it, inserted] = invoices_.insert_or_assign(id, std::move(invoice));
  if (inserted) invoice_order_.push_back(id);
  return it->second;
}

std::vector<const StripeInvoice*> StripeState::invoices() const {
  std::vector<const StripeInvoice*> out;
  for (auto it = invoice_order_.rbegin(); it != invoice_order_.rend(); ++it) {
    out.push_back(&invoices_.at(*it));
  }
  return out;
}

}  // namespace orgquake::fakes
