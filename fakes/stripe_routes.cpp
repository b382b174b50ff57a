#include "fakes/stripe_routes.hpp"

#include <charconv>
#include <initializer_list>
#include <vector>

#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http/field.hpp>
#include <fmt/format.h>

#include "fakes/request_target.hpp"
#include "fakes/stripe_search.hpp"

namespace orgquake::fakes {
namespace {

/// A Stripe API error. `store` is false for errors raised before the endpoint
/// started executing (bad parameters), whose results Stripe does not keep for
/// idempotent replay.
struct StripeError {
  http::status status;
  std::string type;
  std::string code;
  std::string message;
  std::string param;
  bool store = true;
};

StripeError invalid_param(std::string message, std::string param,
                          std::string code = "parameter_invalid_string") {
  return StripeError{http::status::bad_request, "invalid_request_error", std::move(code),
                     std::move(message),        std::move(param),        false};
}

StripeError missing_param(const std::string& param) {
  return invalid_param(fmt::format("Missing required param: {}.", param), param,
                       "parameter_missing");
}

StripeError no_such(std::string_view what, const std::string& id, std::string param,
                    http::status status = http::status::not_found) {
  return StripeError{status,
                     "invalid_request_error",
                     "resource_missing",
                     fmt::format("No such {}: '{}'", what, id),
                     std::move(param),
                     true};
}

nlohmann::json null_or(const std::string& text) {
  return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
}

Response render(const StripeError& e, std::uint64_t seq) {
  Response response = json_response(e.status, {{"error",
                                                {{"type", e.type},
                                                 {"code", null_or(e.code)},
                                                 {"message", e.message},
                                                 {"param", null_or(e.param)}}}});
  response.set("Request-Id", fmt::format("req_{:014d}", seq));
  return response;
}

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const std::size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  return out;
}

/// The parameters of a request: the query for GET and DELETE, the body
/// (after any query) for POST.
std::string params_text(const Request& request) {
  const std::string_view query = query_of(request.target());
  if (request.method() != http::verb::post) return std::string(query);
  if (query.empty()) return request.body();
  return std::string(query) + "&" + request.body();
}

enum class Endpoint {
  none,
  customers_create,
  customers_list,
  customers_search,
  customers_retrieve,
  customers_update,
  customers_delete,
  subscriptions_create,
  subscriptions_list,
  subscriptions_retrieve,
  subscriptions_update,
  subscriptions_cancel,
  invoices_create,
  invoices_list,
  invoices_retrieve,
};

struct Route {
  Route(Endpoint e = Endpoint::none, std::string i = {}) : endpoint(e), id(std::move(i)) {}
  Endpoint endpoint;
  std::string id;
};

Route route(http::verb method, std::string_view path) {
  const auto seg = segments(path);
  if (seg.size() < 2 || seg.size() > 3 || seg[0] != "v1") return {};
  const std::string_view collection = seg[1];
  const bool post = method == http::verb::post;
  const bool get = method == http::verb::get;
  const bool del = method == http::verb::delete_;
  if (seg.size() == 2) {
    if (collection == "customers") {
      return {post ? Endpoint::customers_create : get ? Endpoint::customers_list : Endpoint::none};
    }
    if (collection == "subscriptions") {
      return {post  ? Endpoint::subscriptions_create
              : get ? Endpoint::subscriptions_list
                    : Endpoint::none};
    }
    if (collection == "invoices") {
      return {post ? Endpoint::invoices_create : get ? Endpoint::invoices_list : Endpoint::none};
    }
    return {};
  }
  std::string id(seg[2]);
  if (collection == "customers") {
    if (id == "search") return {get ? Endpoint::customers_search : Endpoint::none};
    if (get) return {Endpoint::customers_retrieve, id};
    if (post) return {Endpoint::customers_update, id};
    if (del) return {Endpoint::customers_delete, id};
  }
  if (collection == "subscriptions") {
    if (get) return {Endpoint::subscriptions_retrieve, id};
    if (post) return {Endpoint::subscriptions_update, id};
    if (del) return {Endpoint::subscriptions_cancel, id};
  }
  if (collection == "invoices" && get) return {Endpoint::invoices_retrieve, id};
  return {};
}

// ---- parameter reading ------------------------------------------------------

void allow_only(const FormNode& params, std::initializer_list<std::string_view> allowed) {
  for (const auto& [name, node] : params.children()) {
    bool ok = name == "expand";
    for (const std::string_view a : allowed) ok = ok || name == a;
    if (!ok) {
      throw invalid_param(fmt::format("Received unknown parameter: {}", name), name,
                          "parameter_unknown");
    }
  }
}

std::optional<std::string> string_param(const FormNode& params, const std::string& name) {
  const FormNode* node = params.find(name);
  if (node == nullptr) return std::nullopt;
  if (!node->is_leaf()) {
    throw invalid_param(fmt::format("Invalid string: {} must be a string, not a hash", name), name);
  }
  return node->value();
}

std::int64_t int_value(const std::string& text, const std::string& param) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    throw invalid_param(fmt::format("Invalid integer: {}", text), param,
                        "parameter_invalid_integer");
  }
  return value;
}

bool bool_value(const std::string& text, const std::string& param) {
  if (text == "true") return true;
  if (text == "false") return false;
  throw invalid_param(fmt::format("Invalid boolean: {}", text), param);
}

/// Optional text fields: an empty value unsets them, as in Stripe.
void read_text(const FormNode& params, const std::string& name, std::optional<std::string>& out) {
  if (auto value = string_param(params, name)) {
    out = value->empty() ? std::nullopt : std::optional<std::string>(*value);
  }
}

/// Merges metadata[...] into `metadata`: an empty value deletes a key, and
/// `metadata=` (empty) clears them all.
void merge_metadata(const FormNode& params, Metadata& metadata) {
  const FormNode* node = params.find("metadata");
  if (node == nullptr) return;
  if (node->is_leaf()) {
    if (!node->value().empty()) {
      throw invalid_param("Invalid hash: metadata must be a hash of key-value pairs", "metadata",
                          "parameter_invalid_hash");
    }
    metadata.clear();
    return;
  }
  for (const auto& [key, value] : node->children()) {
    const std::string param = fmt::format("metadata[{}]", key);
    if (!value.is_leaf()) throw invalid_param("Metadata values must be strings", param);
    if (key.size() > 40) {
      throw invalid_param("Metadata keys can have at most 40 characters", param);
    }
    if (value.value().size() > 500) {
      throw invalid_param("Metadata values can have at most 500 characters", param);
    }
    if (value.value().empty()) {
      metadata.erase(key);
    } else {
      metadata[key] = value.value();
    }
  }
  if (metadata.size() > 50) {
    throw invalid_param("Metadata can have at most 50 keys", "metadata");
  }
}

struct Page {
  std::int64_t limit = 10;
  std::optional<std::string> starting_after;
  std::optional<std::string> ending_before;
};

Page read_page(const FormNode& params) {
  Page page;
  if (auto limit = string_param(params, "limit")) {
    page.limit = int_value(*limit, "limit");
    if (page.limit < 1 || page.limit > 100) {
      throw invalid_param(
          fmt::format("Invalid limit: must be between 1 and 100, not {}", page.limit), "limit",
          "parameter_invalid_integer");
    }
  }
  page.starting_after = string_param(params, "starting_after");
  page.ending_before = string_param(params, "ending_before");
  return page;
}

/// A Stripe list object over `items` (newest first), paginated by cursor.
template <class T, class Filter>
nlohmann::json list_object(const std::vector<const T*>& items, const Page& page, Filter keep,
                           const std::string& url, std::string_view what) {
  std::vector<const T*> kept;
  for (const T* item : items) {
    if (keep(*item)) kept.push_back(item);
  }
  std::size_t begin = 0;
  std::size_t end = kept.size();
  auto index_of = [&](const std::string& id, const char* param) {
    for (std::size_t i = 0; i < kept.size(); ++i) {
      if (kept[i]->id == id) return i;
    }
    throw StripeError{http::status::bad_request,
                      "invalid_request_error",
                      "resource_missing",
                      fmt::format("No such {}: '{}'", what, id),
                      param,
                      false};
  };
  if (page.starting_after) begin = index_of(*page.starting_after, "starting_after") + 1;
  if (page.ending_before) {
    end = index_of(*page.ending_before, "ending_before");
    begin = end > static_cast<std::size_t>(page.limit) ? end - page.limit : 0;
  }
  nlohmann::json data = nlohmann::json::array();
  std::size_t i = begin;
  for (; i < end && data.size() < static_cast<std::size_t>(page.limit); ++i) {
    data.push_back(to_json(*kept[i]));
  }
  const bool has_more = page.ending_before ? begin > 0 : i < end;
  return {{"object", "list"}, {"data", std::move(data)}, {"has_more", has_more}, {"url", url}};
}

// ---- endpoints ----------------------------------------------------------------

class StripeEndpoints {
 public:
  StripeEndpoints(StripeState& state, RequestContext& ctx, std::int64_t search_lag_ms)
      : state_(state), ctx_(ctx), search_lag_ms_(search_lag_ms) {}

  nlohmann::json run(const Route& r, const FormNode& p) {
    switch (r.endpoint) {
      case Endpoint::customers_create:
        return create_customer(p);
      case Endpoint::customers_list:
        return list_customers(p);
      case Endpoint::customers_search:
        return search_customers(p);
      case Endpoint::customers_retrieve:
        return retrieve_customer(r.id, p);
      case Endpoint::customers_update:
        return update_customer(r.id, p);
      case Endpoint::customers_delete:
        return delete_customer(r.id, p);
      case Endpoint::subscriptions_create:
        return create_subscription(p);
      case Endpoint::subscriptions_list:
        return list_subscriptions(p);
      case Endpoint::subscriptions_retrieve:
        return retrieve_subscription(r.id, p);
      case Endpoint::subscriptions_update:
        return update_subscription(r.id, p);
      case Endpoint::subscriptions_cancel:
        return cancel_subscription(r.id, p);
      case Endpoint::invoices_create:
        return create_invoice(p);
      case Endpoint::invoices_list:
        return list_invoices(p);
      case Endpoint::invoices_retrieve:
        return retrieve_invoice(r.id, p);
      case Endpoint::none:
        break;
    }
    throw StripeError{http::status::not_found,
                      "invalid_request_error",
                      "",
                      "Unrecognized request URL",
                      "",
                      false};
  }

 private:
  std::int64_t now_s() const { return ctx_.now_ms / 1000; }

  nlohmann::json record(const char* kind, const char* type, const std::string& id,
                        nlohmann::json state) {
    ctx_.applied = true;
    ctx_.record(kind, type, id, state);
    return state;
  }

  nlohmann::json create_customer(const FormNode& p) {
    allow_only(p, {"email", "name", "description", "phone", "metadata"});
    StripeCustomer c;
    read_text(p, "email", c.email);
    read_text(p, "name", c.name);
    read_text(p, "description", c.description);
    read_text(p, "phone", c.phone);
    merge_metadata(p, c.metadata);
    c.id = state_.new_id("cus");
    c.created = now_s();
    const StripeCustomer& stored = state_.put_customer(std::move(c), ctx_.now_ms);
    return record("created", "customer", stored.id, to_json(stored));
  }

  const StripeCustomer& live_customer(const std::string& id) {
    const StripeCustomer* c = state_.customer(id);
    if (c == nullptr || c->deleted) throw no_such("customer", id, "id");
    return *c;
  }

  nlohmann::json retrieve_customer(const std::string& id, const FormNode& p) {
    allow_only(p, {});
    const StripeCustomer* c = state_.customer(id);
    if (c == nullptr) throw no_such("customer", id, "id");
    return to_json(*c);  // a deleted customer answers {"deleted": true}, as Stripe does
  }

  nlohmann::json update_customer(const std::string& id, const FormNode& p) {
    allow_only(p, {"email", "name", "description", "phone", "metadata"});
    StripeCustomer c = live_customer(id);
    read_text(p, "email", c.email);
    read_text(p, "name", c.name);
    read_text(p, "description", c.description);
    read_text(p, "phone", c.phone);
    merge_metadata(p, c.metadata);
    const StripeCustomer& stored = state_.put_customer(std::move(c), ctx_.now_ms);
    return record("updated", "customer", stored.id, to_json(stored));
  }

  nlohmann::json delete_customer(const std::string& id, const FormNode& p) {
    allow_only(p, {});
    StripeCustomer c = live_customer(id);
    c.deleted = true;
    const StripeCustomer& stored = state_.put_customer(std::move(c), ctx_.now_ms);
    return record("deleted", "customer", stored.id, to_json(stored));
  }

  nlohmann::json list_customers(const FormNode& p) {
    allow_only(p, {"limit", "starting_after", "ending_before", "email"});
    const Page page = read_page(p);
    const auto email = string_param(p, "email");
    return list_object(
        state_.customers(), page,
        [&](const StripeCustomer& c) { return !email || c.email == *email; }, "/v1/customers",
        "customer");
  }

  nlohmann::json search_customers(const FormNode& p) {
    allow_only(p, {"query", "limit", "page"});
    const auto text = string_param(p, "query");
    if (!text) throw missing_param("query");
    SearchQuery query;
    try {
      query = SearchQuery::parse(*text);
    } catch (const SearchQueryError& e) {
      throw invalid_param(e.what(), "query");
    }
    std::int64_t limit = 10;
    if (auto l = string_param(p, "limit")) {
      limit = int_value(*l, "limit");
      if (limit < 1 || limit > 100) {
        throw invalid_param("Invalid limit: must be between 1 and 100", "limit",
                            "parameter_invalid_integer");
      }
    }
    std::size_t offset = 0;
    if (auto page = string_param(p, "page")) {
      if (page->rfind("page_", 0) != 0) throw invalid_param("Invalid page token", "page");
      offset = static_cast<std::size_t>(int_value(page->substr(5), "page"));
    }
    const std::int64_t lag = ctx_.search_lag_ms.value_or(search_lag_ms_);
    nlohmann::json data = nlohmann::json::array();
    std::size_t matched = 0;
    bool has_more = false;
    for (const StripeCustomer& c : state_.indexed_customers(ctx_.now_ms - lag)) {
      if (!query.matches(c)) continue;
      if (matched++ < offset) continue;
      if (data.size() == static_cast<std::size_t>(limit)) {
        has_more = true;
        break;
      }
      data.push_back(to_json(c));
    }
    const std::size_t next = offset + data.size();
    return {{"object", "search_result"},
            {"data", std::move(data)},
            {"has_more", has_more},
            {"next_page",
             has_more ? nlohmann::json(fmt::format("page_{}", next)) : nlohmann::json(nullptr)},
            {"url", "/v1/customers/search"}};
  }

  nlohmann::json create_subscription(const FormNode& p) {
    allow_only(p, {"customer", "items", "metadata", "description", "cancel_at_period_end"});
    const auto customer = string_param(p, "customer");
    if (!customer) throw missing_param("customer");
    const StripeCustomer* c = state_.customer(*customer);
    if (c == nullptr || c->deleted) {
      throw no_such("customer", *customer, "customer", http::status::bad_request);
    }
    const FormNode* items = p.find("items");
    if (items == nullptr || items->is_leaf() || items->children().empty()) {
      throw missing_param("items");
    }
    StripeSubscription s;
    s.id = state_.new_id("sub");
    for (const auto& [index, item] : items->children()) {
      const std::string base = fmt::format("items[{}]", index);
      if (item.is_leaf()) throw invalid_param("Invalid hash", base, "parameter_invalid_hash");
      allow_only(item, {"price", "quantity", "metadata"});
      const auto price = string_param(item, "price");
      if (!price || price->empty()) throw missing_param(base + "[price]");
      StripeSubscriptionItem si;
      si.id = state_.new_id("si");
      si.price = *price;
      if (auto quantity = string_param(item, "quantity")) {
        si.quantity = int_value(*quantity, base + "[quantity]");
      }
      s.items.push_back(std::move(si));
    }
    s.customer = *customer;
    s.created = now_s();
    merge_metadata(p, s.metadata);
    read_text(p, "description", s.description);
    if (auto cancel = string_param(p, "cancel_at_period_end")) {
      s.cancel_at_period_end = bool_value(*cancel, "cancel_at_period_end");
    }
    const StripeSubscription& stored = state_.put_subscription(std::move(s));
    return record("created", "subscription", stored.id, to_json(stored));
  }

  nlohmann::json retrieve_subscription(const std::string& id, const FormNode& p) {
    allow_only(p, {});
    const StripeSubscription* s = state_.subscription(id);
    if (s == nullptr) throw no_such("subscription", id, "id");
    return to_json(*s);
  }

  nlohmann::json update_subscription(const std::string& id, const FormNode& p) {
    allow_only(p, {"metadata", "description", "cancel_at_period_end"});
    const StripeSubscription* found = state_.subscription(id);
    if (found == nullptr) throw no_such("subscription", id, "id");
    StripeSubscription s = *found;
    if (s.status == "canceled" && (p.find("description") || p.find("cancel_at_period_end"))) {
      throw invalid_param("A canceled subscription can only update its metadata.", "");
    }
    merge_metadata(p, s.metadata);
    read_text(p, "description", s.description);
    if (auto cancel = string_param(p, "cancel_at_period_end")) {
      s.cancel_at_period_end = bool_value(*cancel, "cancel_at_period_end");
    }
    const StripeSubscription& stored = state_.put_subscription(std::move(s));
    return record("updated", "subscription", stored.id, to_json(stored));
  }

  nlohmann::json cancel_subscription(const std::string& id, const FormNode& p) {
    allow_only(p, {});
    const StripeSubscription* found = state_.subscription(id);
    if (found == nullptr || found->status == "canceled") throw no_such("subscription", id, "id");
    StripeSubscription s = *found;
    s.status = "canceled";
    s.canceled_at = now_s();
    const StripeSubscription& stored = state_.put_subscription(std::move(s));
    return record("updated", "subscription", stored.id, to_json(stored));
  }

  nlohmann::json list_subscriptions(const FormNode& p) {
    allow_only(p, {"customer", "status", "limit", "starting_after", "ending_before"});
    const Page page = read_page(p);
    const auto customer = string_param(p, "customer");
    const std::string status = string_param(p, "status").value_or("");
    return list_object(
        state_.subscriptions(), page,
        [&](const StripeSubscription& s) {
          if (customer && s.customer != *customer) return false;
          if (status.empty()) return s.status != "canceled";
          return status == "all" || s.status == status;
        },
        "/v1/subscriptions", "subscription");
  }

  nlohmann::json create_invoice(const FormNode& p) {
    allow_only(p, {"customer", "subscription", "description", "metadata", "auto_advance"});
    const auto customer = string_param(p, "customer");
    if (!customer) throw missing_param("customer");
    const StripeCustomer* c = state_.customer(*customer);
    if (c == nullptr || c->deleted) {
      throw no_such("customer", *customer, "customer", http::status::bad_request);
    }
    StripeInvoice i;
    if (auto subscription = string_param(p, "subscription")) {
      const StripeSubscription* s = state_.subscription(*subscription);
      if (s == nullptr || s->customer != *customer) {
        throw no_such("subscription", *subscription, "subscription", http::status::bad_request);
      }
      i.subscription = *subscription;
    }
    i.id = state_.new_id("in");
    i.customer = *customer;
    i.created = now_s();
    read_text(p, "description", i.description);
    merge_metadata(p, i.metadata);
    if (auto advance = string_param(p, "auto_advance")) {
      i.auto_advance = bool_value(*advance, "auto_advance");
    }
    const StripeInvoice& stored = state_.put_invoice(std::move(i));
    return record("created", "invoice", stored.id, to_json(stored));
  }

  nlohmann::json retrieve_invoice(const std::string& id, const FormNode& p) {
    allow_only(p, {});
    const StripeInvoice* i = state_.invoice(id);
    if (i == nullptr) throw no_such("invoice", id, "id");
    return to_json(*i);
  }

  nlohmann::json list_invoices(const FormNode& p) {
    allow_only(p,
               {"customer", "subscription", "status", "limit", "starting_after", "ending_before"});
    const Page page = read_page(p);
    const auto customer = string_param(p, "customer");
    const auto subscription = string_param(p, "subscription");
    const auto status = string_param(p, "status");
    return list_object(
        state_.invoices(), page,
        [&](const StripeInvoice& i) {
          return (!customer || i.customer == *customer) &&
                 (!subscription || i.subscription == *subscription) &&
                 (!status || i.status == *status);
        },
        "/v1/invoices", "invoice");
  }

  StripeState& state_;
  RequestContext& ctx_;
  std::int64_t search_lag_ms_;
};

std::string masked(std::string_view key) {
  if (key.size() <= 12) return "****";
  return fmt::format("{}****{}", key.substr(0, 8), key.substr(key.size() - 4));
}

/// The key a request presents: "Bearer KEY", or Basic auth with KEY as user.
std::optional<std::string> stripe_presented_key(const Request& request) {
  const auto it = request.find(http::field::authorization);
  if (it == request.end()) return std::nullopt;
  const std::string_view value = it->value();
  if (value.substr(0, 7) == "Bearer ") return std::string(value.substr(7));
  if (value.substr(0, 6) == "Basic ") {
    const std::string_view encoded = value.substr(6);
    std::string decoded(boost::beast::detail::base64::decoded_size(encoded.size()), '\0');
    const auto [written, read] =
        boost::beast::detail::base64::decode(decoded.data(), encoded.data(), encoded.size());
    decoded.resize(written);
    return decoded.substr(0, decoded.find(':'));
  }
  return std::string(value);
}

std::string idempotency_scope(const Request& request, const std::string& secret) {
  const auto it = request.find("Idempotency-Key");
  if (it == request.end() || request.method() != http::verb::post) return {};
  return secret + '\n' + std::string(it->value());
}

}  // namespace

StripeApp::StripeApp(StripeOptions options, std::uint64_t seed)
    : options_(std::move(options)),
      state_(Rng(seed).derive("fakes.stripe.ids")),
      idempotency_(options_.idempotency_ttl_ms) {}

Response StripeApp::error(http::status status, const std::string& message) {
  const int code = static_cast<int>(status);
  const std::string type = code >= 500 ? "api_error" : "invalid_request_error";
  const std::string error_code = code == 429 ? "rate_limit" : "";
  return render(StripeError{status, type, error_code, message, "", false}, 0);
}

std::optional<Response> StripeApp::admit(const Request& request, RequestContext& ctx) {
  const auto key = stripe_presented_key(request);
  if (!key || key->empty()) {
    return render(
        StripeError{http::status::unauthorized, "invalid_request_error", "",
                    "You did not provide an API key. You need to provide your API key in the "
                    "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                    "YOUR_SECRET_KEY').",
                    "", false},
        ctx.seq);
  }
  if (*key != options_.secret_key) {
    return render(StripeError{http::status::unauthorized, "invalid_request_error", "",
                              fmt::format("Invalid API Key provided: {}", masked(*key)), "", false},
                  ctx.seq);
  }
  const Route r = route(request.method(), path_of(request.target()));
  if (r.endpoint == Endpoint::none) {
    return render(StripeError{http::status::not_found, "invalid_request_error", "",
                              fmt::format("Unrecognized request URL ({}: {}). Please see "
                                          "https://stripe.com/docs or we can help at "
                                          "https://support.stripe.com/.",
                                          std::string(request.method_string()),
                                          std::string(path_of(request.target()))),
                              "", false},
                  ctx.seq);
  }
  if (request.method() == http::verb::post) {
    const auto type = request.find(http::field::content_type);
    if (type != request.end() && type->value().find("application/json") != std::string_view::npos) {
      return render(invalid_param("Invalid request: Stripe accepts form-encoded bodies "
                                  "(application/x-www-form-urlencoded), not JSON",
                                  ""),
                    ctx.seq);
    }
  }
  // Malformed parameters are answered by apply(); only an idempotent request
  // needs them decoded here, to compare them with the first use of its key.
  const std::string scope = idempotency_scope(request, options_.secret_key);
  if (scope.empty()) return std::nullopt;
  std::string canonical;
  try {
    canonical = canonical_form(params_text(request));
  } catch (const FormError& e) {
    return render(invalid_param(e.what(), e.param()), ctx.seq);
  }
  const std::string idem_key = scope.substr(scope.find('\n') + 1);
  if (idem_key.size() > 255) {
    return render(invalid_param("Idempotency-Key must be at most 255 characters", ""), ctx.seq);
  }
  const std::string fingerprint = fmt::format("{} {}\n{}", std::string(request.method_string()),
                                              std::string(path_of(request.target())), canonical);
  const auto result = idempotency_.begin(scope, fingerprint, ctx.now_ms);
  switch (result.outcome) {
    case IdempotencyStore::Outcome::fresh:
      return std::nullopt;
    case IdempotencyStore::Outcome::replay: {
      Response response = json_response(static_cast<http::status>(result.stored->status),
                                        nlohmann::json::parse(result.stored->body));
      response.set("Idempotent-Replayed", "true");
      response.set("Original-Request", fmt::format("req_{:014d}", ctx.seq));
      response.set("Request-Id", fmt::format("req_{:014d}", ctx.seq));
      ctx.replayed = true;
      return response;
    }
    case IdempotencyStore::Outcome::mismatch:
      return render(
          StripeError{http::status::bad_request, "idempotency_error", "",
                      fmt::format("Keys for idempotent requests can only be used with the same "
                                  "parameters they were first used with. Try using a key other "
                                  "than '{}' if you meant to execute a different request.",
                                  idem_key),
                      "", false},
          ctx.seq);
    case IdempotencyStore::Outcome::in_flight:
      return render(
          StripeError{http::status::conflict, "invalid_request_error", "idempotency_key_in_use",
                      "There is currently another in-progress request using this "
                      "Idempotent Key (that probably means you submitted twice, and the other "
                      "request is still going through): " +
                          idem_key + ". Please try again later.",
                      "", false},
          ctx.seq);
  }
  return std::nullopt;
}

Response StripeApp::apply(const Request& request, RequestContext& ctx) {
  const std::string scope = idempotency_scope(request, options_.secret_key);
  Response response;
  bool store = true;
  try {
    const Route r = route(request.method(), path_of(request.target()));
    const FormNode params = FormNode::parse(params_text(request));
    StripeEndpoints endpoints(state_, ctx, options_.search_lag_ms);
    response = json_response(http::status::ok, endpoints.run(r, params));
    response.set("Request-Id", fmt::format("req_{:014d}", ctx.seq));
  } catch (const StripeError& e) {
    response = render(e, ctx.seq);
    store = e.store;
  } catch (const FormError& e) {
    response = render(invalid_param(e.what(), e.param()), ctx.seq);
    store = false;
  }
  if (!scope.empty()) {
    if (store) {
      idempotency_.complete(
          scope, StoredResponse{static_cast<int>(response.result_int()), response.body()});
    } else {
      idempotency_.release(scope);
    }
  }
  return response;
}

void StripeApp::abandon(const Request& request, RequestContext&) {
  const std::string scope = idempotency_scope(request, options_.secret_key);
  if (!scope.empty()) idempotency_.release(scope);
}

}  // namespace orgquake::fakes
