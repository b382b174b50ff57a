#include "bench/lookup_worker_pool.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <boost/fiber/all.hpp>
#include <fmt/format.h>

#include "bench/bench_environment.hpp"
#include "core/error.hpp"
#include "migrator/io/reactor.hpp"

namespace orgquake::bench {

// One worker thread and what the benchmark thread and it share, under `mutex`.
struct LookupWorkerPool::Worker {
  int index = 0;
  std::vector<int> client_ids;  ///< the pool-wide ids of this thread's clients
  std::thread thread;

  std::mutex mutex;
  std::condition_variable changed;
  bool ready = false;
  std::string setup_error;
  bool stop = false;
  std::uint64_t posted = 0, finished = 0;  ///< round generations
  std::vector<std::int64_t> lookups;       ///< per local client, for the posted round
  Round result;
};

LookupWorkerPool::LookupWorkerPool(const BenchEnvironment& env, int clients, int threads)
    : clients_(clients) {
  for (int t = 0; t < threads; ++t) {
    auto worker = std::make_unique<Worker>();
    worker->index = t;
    for (int id = t; id < clients; id += threads) worker->client_ids.push_back(id);
    workers_.push_back(std::move(worker));
  }
  for (auto& worker : workers_) {
    worker->thread = std::thread([this, &env, w = worker.get()] { run_worker(*w, env); });
  }
  std::string error;
  for (auto& worker : workers_) {
    std::unique_lock lock(worker->mutex);
    worker->changed.wait(lock, [&] { return worker->ready; });
    if (!worker->setup_error.empty() && error.empty()) error = worker->setup_error;
  }
  if (!error.empty()) {
    shut_down();
    throw EnvironmentError(fmt::format("concurrent benchmark clients: {}", error));
  }
}

LookupWorkerPool::~LookupWorkerPool() {
  shut_down();
}

void LookupWorkerPool::shut_down() {
  for (auto& worker : workers_) {
    {
      std::lock_guard lock(worker->mutex);
      worker->stop = true;
    }
    worker->changed.notify_all();
  }
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
}

LookupWorkerPool::Round LookupWorkerPool::run_round(int active, std::int64_t lookups) {
  active = std::max(1, std::min(active, clients_));
  for (auto& worker : workers_) {
    std::lock_guard lock(worker->mutex);
    worker->lookups.assign(worker->client_ids.size(), 0);
    for (std::size_t local = 0; local < worker->client_ids.size(); ++local) {
      const std::int64_t id = worker->client_ids[local];
      if (id >= active) continue;
      // An even share, the remainder going to the first clients.
      worker->lookups[local] = lookups / active + (id < lookups % active ? 1 : 0);
    }
    worker->result = {};
    ++worker->posted;
  }
  for (auto& worker : workers_) worker->changed.notify_all();
  Round round;
  for (auto& worker : workers_) {
    std::unique_lock lock(worker->mutex);
    worker->changed.wait(lock, [&] { return worker->finished == worker->posted; });
    auto& r = worker->result;
    round.latency_us.insert(round.latency_us.end(), r.latency_us.begin(), r.latency_us.end());
    round.errors += r.errors;
    if (round.first_error.empty()) round.first_error = r.first_error;
  }
  return round;
}

void LookupWorkerPool::run_worker(Worker& worker, const BenchEnvironment& env) {
  // Everything made here lives on this thread: the reactor waits on these
  // sockets, and the HTTP clients are per thread by design.
  struct FiberClient {
    std::unique_ptr<BenchEnvironment::Client> connections;
    std::unique_ptr<migrator::MigratorContext> context;
  };
  std::vector<FiberClient> clients(worker.client_ids.size());
  std::string setup_error;
  try {
    // Created from the pinned benchmark thread: spread over every CPU again.
    env.all_cpus().apply_to_this_thread();
    io::use_reactor_scheduler();
    std::vector<boost::fibers::fiber> connecting;
    for (std::size_t local = 0; local < clients.size(); ++local) {
      connecting.emplace_back([&, local] {
        try {
          auto& c = clients[local];
          c.connections = env.connect();
          c.context = std::make_unique<migrator::MigratorContext>(
              c.connections->context(1000 + worker.client_ids[local]));
        } catch (const std::exception& e) {
          if (setup_error.empty()) setup_error = e.what();
        }
      });
    }
    for (auto& f : connecting) f.join();
  } catch (const std::exception& e) {
    setup_error = e.what();
  }
  {
    std::lock_guard lock(worker.mutex);
    worker.ready = true;
    worker.setup_error = setup_error;
  }
  worker.changed.notify_all();
  if (!setup_error.empty()) return;

  const auto migrator = migrator::make_reference_migrator();
  const auto& pool_users = env.lookup_pool();
  const migrator::LookupOptions options{migrator::LoadStrategy::joined, true};
  std::uint64_t seen = 0;
  for (;;) {
    std::vector<std::int64_t> lookups;
    {
      // No fiber of this thread is alive between rounds, so blocking the
      // thread here holds nothing up.
      std::unique_lock lock(worker.mutex);
      worker.changed.wait(lock, [&] { return worker.stop || worker.posted != seen; });
      if (worker.stop) break;
      seen = worker.posted;
      lookups = worker.lookups;
    }
    Round result;
    std::vector<boost::fibers::fiber> fibers;
    for (std::size_t local = 0; local < clients.size(); ++local) {
      if (lookups[local] == 0) continue;
      fibers.emplace_back([&, local] {
        auto& ctx = *clients[local].context;
        const auto& user = pool_users[worker.client_ids[local] % pool_users.size()];
        for (std::int64_t k = 0; k < lookups[local]; ++k) {
          const auto start = std::chrono::steady_clock::now();
          try {
            migrator->get_user_verified(ctx, user, options);
            result.latency_us.push_back(
                std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                    .count());
          } catch (const std::exception& e) {
            ++result.errors;
            if (result.first_error.empty()) result.first_error = e.what();
          }
        }
      });
    }
    for (auto& f : fibers) f.join();
    {
      std::lock_guard lock(worker.mutex);
      worker.result = std::move(result);
      worker.finished = seen;
    }
    worker.changed.notify_all();
  }
}

}  // namespace orgquake::bench
