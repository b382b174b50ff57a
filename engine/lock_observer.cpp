#include "engine/lock_observer.hpp"

#include <algorithm>
#include <cctype>
#include <random>
#include <sstream>

#include <fmt/format.h>

#include "core/error.hpp"
#include "services/redis_connection.hpp"
#include "worker/worker_protocol.hpp"

namespace orgquake::engine {

using std::chrono::milliseconds;

namespace {

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

/// The commands that change a lock key, and where their keys are: every
/// argument (DEL, UNLINK) or the first.
enum class Keys { none, first, all, whole_database };

Keys keys_of(const std::string& command) {
  static const std::map<std::string, Keys> writes = {{"set", Keys::first},
                                                     {"setnx", Keys::first},
                                                     {"setex", Keys::first},
                                                     {"psetex", Keys::first},
                                                     {"getset", Keys::first},
                                                     {"getdel", Keys::first},
                                                     {"getex", Keys::first},
                                                     {"expire", Keys::first},
                                                     {"pexpire", Keys::first},
                                                     {"expireat", Keys::first},
                                                     {"pexpireat", Keys::first},
                                                     {"persist", Keys::first},
                                                     {"del", Keys::all},
                                                     {"unlink", Keys::all},
                                                     {"flushdb", Keys::whole_database},
                                                     {"flushall", Keys::whole_database}};
  const auto it = writes.find(command);
  return it == writes.end() ? Keys::none : it->second;
}

bool starts_a_script(const std::string& command) {
  return command == "eval" || command == "evalsha" || command == "eval_ro" ||
         command == "evalsha_ro" || command == "fcall" || command == "fcall_ro";
}

std::string random_fence() {
  std::random_device device;
  return fmt::format("orgquake-lock-observer-fence-{:08x}{:08x}", device(), device());
}

}  // namespace

std::map<std::string, std::string> parse_client_list(const std::string& client_list) {
  std::map<std::string, std::string> names;
  std::istringstream lines(client_list);
  std::string line;
  while (std::getline(lines, line)) {
    std::string address, name;
    std::istringstream fields(line);
    std::string field;
    while (fields >> field) {
      if (field.rfind("addr=", 0) == 0) address = field.substr(5);
      if (field.rfind("name=", 0) == 0) name = field.substr(5);
    }
    if (!address.empty() && !name.empty()) names[address] = name;
  }
  return names;
}

void LockCommandFilter::know_names(const std::map<std::string, std::string>& name_of_address) {
  for (const auto& [address, name] : name_of_address) names_[address] = name;
}

history::Event LockCommandFilter::event_of(const services::MonitorLine& line,
                                           const std::string& key, std::int64_t time_ns,
                                           bool by_script) const {
  history::Event event;
  event.type = history::EventType::redis;
  event.time_ns = time_ns;
  event.kind = lowercase(line.args.front());
  event.user = key.substr(std::min(key.size(), key_prefix_.size()));
  const std::string& caller = by_script ? script_caller_ : line.source;
  event.value = {{"conn", caller}, {"args", line.args}, {"server_us", line.server_time_us}};
  if (const auto name = names_.find(caller); name != names_.end()) {
    if (const auto named = worker::parse_connection_name(name->second)) {
      event.value["worker"] = named->first;
      event.value["client"] = named->second;
    }
  }
  if (by_script) event.value["script"] = script_args_;
  return event;
}

std::vector<history::Event> LockCommandFilter::take(const services::MonitorLine& line,
                                                    std::int64_t time_ns) {
  std::vector<history::Event> events;
  const std::string command = lowercase(line.args.front());
  const bool by_script = line.source == "lua";
  if (!by_script) {
    script_caller_.clear();
    script_args_.clear();
    if (starts_a_script(command)) {
      script_caller_ = line.source;
      script_args_.assign(line.args.begin() + 1, line.args.end());
      return events;
    }
    if (command == "client" && line.args.size() >= 3 && lowercase(line.args[1]) == "setname") {
      names_[line.source] = line.args[2];
      return events;
    }
  }
  switch (keys_of(command)) {
    case Keys::none:
      break;
    case Keys::first:
      if (line.args.size() >= 2 && line.args[1].starts_with(key_prefix_)) {
        events.push_back(event_of(line, line.args[1], time_ns, by_script));
      }
      break;
    case Keys::all:
      for (std::size_t i = 1; i < line.args.size(); ++i) {
        if (line.args[i].starts_with(key_prefix_)) {
          events.push_back(event_of(line, line.args[i], time_ns, by_script));
        }
      }
      break;
    case Keys::whole_database:
      events.push_back(event_of(line, key_prefix_, time_ns, by_script));  // user ""
      break;
  }
  return events;
}

LockObserver::LockObserver(services::RedisUrl url, std::string key_prefix,
                           std::chrono::steady_clock::time_point trial_start)
    : url_(std::move(url)),
      key_prefix_(std::move(key_prefix)),
      fence_(random_fence()),
      trial_start_(trial_start) {
  thread_ = std::thread([this] { watch(); });
  await_stream(milliseconds(1000));
}

LockObserver::~LockObserver() {
  stop_now_ = true;
  if (thread_.joinable()) thread_.join();
}

std::int64_t LockObserver::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                              trial_start_)
      .count();
}

bool LockObserver::await_stream(milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return streaming_ || stop_now_.load(); }) &&
         streaming_;
}

void LockObserver::add(history::Event event) {
  std::lock_guard lock(mutex_);
  events_.push_back(std::move(event));
}

void LockObserver::mark(std::string_view kind, nlohmann::json value) {
  history::Event event;
  event.type = history::EventType::redis;
  event.time_ns = now_ns();
  event.kind = std::string(kind);
  event.value = std::move(value);
  add(std::move(event));
}

void LockObserver::redis_stopped() {
  mark(redis_down, nlohmann::json::object());
}

void LockObserver::redis_about_to_start() {
  mark(redis_starting, nlohmann::json::object());
}

void LockObserver::watch() {
  LockCommandFilter filter(key_prefix_);
  const std::int64_t trial_start_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(trial_start_.time_since_epoch()).count();
  std::string first_failure;
  while (!stop_now_) {
    std::optional<services::RedisMonitor> monitor;
    try {
      monitor.emplace(services::RedisMonitor::connect(url_, milliseconds(1000)));
      // Names given before the stream began; later ones arrive in it.
      filter.know_names(
          parse_client_list(services::RedisConnection::connect(url_, milliseconds(1000))
                                .command_status({"CLIENT", "LIST"})));
    } catch (const std::exception& e) {
      if (first_failure.empty()) first_failure = e.what();
      if (stopping_) break;  // Redis is down at the end: nothing more to see
      // Redis restarts within milliseconds of the harness starting it; a
      // short pause keeps the unseen gap short.
      std::this_thread::sleep_for(milliseconds(2));
      continue;
    }
    mark(ever_streamed_ ? redis_monitor_regained : redis_monitor_started, nlohmann::json::object());
    {
      std::lock_guard lock(mutex_);
      streaming_ = true;
      ever_streamed_ = true;
    }
    changed_.notify_all();
    std::int64_t last_line_ns = now_ns();
    try {
      while (!stop_now_) {
        const auto text = monitor->next_line(milliseconds(20));
        if (!text) continue;
        const auto line = services::parse_monitor_line(*text);
        if (!line) continue;
        // Redis's stamps can lag (a cached time); the stream's order is
        // the order Redis ran the commands in, so times never go back.
        last_line_ns =
            std::max(last_line_ns, monitor->monotonic_ns(line->server_time_us) - trial_start_ns);
        if (line->args.size() == 2 && line->args[1] == fence_ &&
            lowercase(line->args[0]) == "echo") {
          std::lock_guard lock(mutex_);
          streaming_ = false;
          stop_now_ = true;
          break;
        }
        for (auto& event : filter.take(*line, last_line_ns)) add(std::move(event));
      }
    } catch (const EnvironmentError& e) {
      history::Event lost;
      lost.type = history::EventType::redis;
      // What Redis ran after the last line read may never have been sent.
      lost.time_ns = last_line_ns;
      lost.kind = std::string(redis_monitor_lost);
      lost.value = {{"why", e.what()}, {"noticed_ns", now_ns()}};
      add(std::move(lost));
      std::lock_guard lock(mutex_);
      streaming_ = false;
    }
    changed_.notify_all();
  }
  if (!ever_streamed_) {
    mark(redis_monitor_unavailable,
         {{"why", first_failure.empty() ? "the trial ended first" : first_failure}});
  }
  changed_.notify_all();
}

std::vector<history::Event> LockObserver::finish() {
  if (thread_.joinable()) {
    stopping_ = true;
    bool fenced = false;
    if (await_stream(milliseconds(0))) {
      try {
        services::RedisConnection::connect(url_, milliseconds(1000))
            .command_status({"ECHO", fence_});
        fenced = true;
      } catch (const std::exception&) {
        // Redis went away: the stream ends with it.
      }
    }
    if (fenced) {
      std::unique_lock lock(mutex_);
      // The fence normally arrives within a millisecond; a stream that
      // stalls this long is ended as lost.
      changed_.wait_for(lock, milliseconds(3000), [&] { return stop_now_.load(); });
    }
    stop_now_ = true;
    thread_.join();
  }
  std::lock_guard lock(mutex_);
  return std::move(events_);
}

}  // namespace orgquake::engine
