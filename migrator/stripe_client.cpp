#include "migrator/stripe_client.hpp"

#include <boost/fiber/operations.hpp>
#include <fmt/format.h>

namespace orgquake::migrator {

StripeError::StripeError(int status, std::string type, std::string code, const std::string& message)
    : std::runtime_error(fmt::format("Stripe {} {}: {}", status, type, message)),
      status_(status),
      type_(std::move(type)),
      code_(std::move(code)) {}

std::string encode_form(const StripeForm& form) {
  std::string body;
  for (const auto& [key, value] : form) {
    if (!body.empty()) body.push_back('&');
    body += io::url_encode(key) + "=" + io::url_encode(value);
  }
  return body;
}

nlohmann::json StripeClient::get(const std::string& path) {
  return send({"GET", path, {}, ""});
}

nlohmann::json StripeClient::post(const std::string& path, const StripeForm& form,
                                  const std::string& idempotency_key) {
  return send({"POST",
               path,
               {{"Content-Type", "application/x-www-form-urlencoded"},
                {"Idempotency-Key", idempotency_key}},
               encode_form(form)});
}

nlohmann::json StripeClient::remove(const std::string& path) {
  return send({"DELETE", path, {}, ""});
}

nlohmann::json StripeClient::list_subscriptions(const std::string& customer_id) {
  return get("/v1/subscriptions?limit=100&customer=" + io::url_encode(customer_id));
}

nlohmann::json StripeClient::search_customers(const std::string& query) {
  return get("/v1/customers/search?query=" + io::url_encode(query));
}

nlohmann::json StripeClient::send(io::HttpRequest request) {
  request.headers.emplace_back("Authorization", "Bearer " + options_.secret_key);
  request.headers.emplace_back("Stripe-Version", "2024-06-20");
  auto backoff = options_.backoff;
  for (int attempt = 1;; ++attempt) {
    bool retryable = false;
    std::string failure;
    try {
      const io::HttpResponse response = http_.send(request);
      if (response.status >= 200 && response.status < 300) {
        return nlohmann::json::parse(response.body);
      }
      const auto body = nlohmann::json::parse(response.body, nullptr, false);
      const auto error =
          body.is_object() && body.contains("error") ? body["error"] : nlohmann::json::object();
      // Stripe sends null for fields that do not apply ("code": null).
      auto field = [&](const char* name, const std::string& fallback) {
        return error.is_object() && error.contains(name) && error[name].is_string()
                   ? error[name].get<std::string>()
                   : fallback;
      };
      StripeError e(response.status, field("type", "api_error"), field("code", ""),
                    field("message", response.body));
      // As the official clients: 409 (a concurrent request holds the
      // idempotency key), 429 and 5xx are worth another try with the same key.
      retryable = response.status == 409 || response.status == 429 || response.status >= 500;
      if (!retryable || attempt >= options_.max_attempts) throw e;
      failure = e.what();
    } catch (const io::HttpError& e) {
      // Safe to repeat: a GET, or a POST whose Idempotency-Key makes Stripe
      // replay the first outcome instead of applying it again.
      if (attempt >= options_.max_attempts) throw;
      failure = e.what();
    } catch (const nlohmann::json::exception& e) {
      throw StripeError(0, "api_error", "", std::string("unreadable response: ") + e.what());
    }
    boost::this_fiber::sleep_for(backoff +
                                 std::chrono::milliseconds(rng_.below(backoff.count() + 1)));
    backoff *= 2;
  }
}

}  // namespace orgquake::migrator
