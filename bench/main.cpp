// orgquake_bench: every benchmark of orgquake in one Google Benchmark
// program, against embedded PostgreSQL and Redis and in-process fake Stripe
// and LiteLLM servers (real I/O, wall-clock time).
//
//   orgquake_bench [--quick] [Google Benchmark flags]
//   orgquake_bench --quick --benchmark_out=bench.json --benchmark_out_format=json
//
// `orgquake bench` runs it and reads its JSON. --quick is ours (fewer and
// shorter repetitions, a smaller world); every other flag is Google
// Benchmark's and overrides the defaults set here.
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "bench/bench_environment.hpp"
#include "bench/bench_settings.hpp"
#include "bench/registration.hpp"
#include "core/interrupt.hpp"
#include "services/services.hpp"

using namespace orgquake;

int main(int argc, char** argv) {
  bool quick = false;
  std::vector<std::string> passed;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--quick") {
      quick = true;
    } else {
      passed.emplace_back(argv[i]);
    }
  }
  const auto settings = bench::BenchSettings::for_mode(quick);
  // Defaults first: a flag given on the command line comes later and wins.
  // Random interleaving spreads each benchmark's repetitions over the whole
  // run, so a floor and the lookups divided by it see the same machine.
  std::vector<std::string> args = {
      argv[0],
      fmt::format("--benchmark_repetitions={}", settings.repetitions),
      fmt::format("--benchmark_min_time={}", settings.min_time_s),
      "--benchmark_enable_random_interleaving=true",
  };
  args.insert(args.end(), passed.begin(), passed.end());
  std::vector<char*> arg_pointers;
  for (auto& a : args) arg_pointers.push_back(a.data());
  int arg_count = static_cast<int>(arg_pointers.size());
  benchmark::Initialize(&arg_count, arg_pointers.data());
  if (benchmark::ReportUnrecognizedArguments(arg_count, arg_pointers.data())) return 2;

  install_interrupt_handlers();
  try {
    // The servers live as long as the thread that started them: this one.
    auto services = services::Services::start({});
    bench::BenchEnvironment::Options options;
    // One spare repetition's worth, for Google Benchmark's own bookkeeping.
    options.unmigrated_users = (settings.repetitions + 1) * settings.migrations_per_repetition;
    auto env = bench::BenchEnvironment::build(*services, options);

    benchmark::AddCustomContext("mode", quick ? "quick" : "full");
    benchmark::AddCustomContext("postgres_version", env->postgres_version());
    benchmark::AddCustomContext("world_users", std::to_string(env->world().users.size()));
    benchmark::AddCustomContext("cpu_pinning", env->pinning_description());
    bench::register_floor_benchmarks(*env);
    bench::register_lookup_benchmarks(*env);
    bench::register_concurrent_lookup_benchmarks(*env);
    bench::register_migrate_benchmarks(*env, settings);

    benchmark::RunSpecifiedBenchmarks();
    // The registered benchmarks hold connections into the environment.
    benchmark::ClearRegisteredBenchmarks();
    benchmark::Shutdown();
    env.reset();
    services->stop();
    if (const int signal = pending_interrupt()) {
      fmt::print(stderr, "orgquake_bench: interrupted (signal {}); servers stopped\n", signal);
      return 2;
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "orgquake_bench: {}\n", e.what());
    return 2;
  }
}
