// weft-sandbox: serves the provider emulations until SIGTERM or SIGINT. See README.md.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "sandbox.hpp"

namespace {
constexpr const char* kUsage =
    "usage: weft-sandbox [--port N] [--state-file F] [--token-lifetime S] [--rate-limit-burst N]\n"
    "                    [--retry-after-format seconds|date|past-date|garbage] [--retry-after-seconds S] "
    "[--slow-ms N]\n"
    "                    [--fail-rate P]\n";
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    }
  }
  std::string error;
  auto options = weft::sandbox::parse_options(args, error);
  if (!options) {
    std::cerr << "weft-sandbox: " << error << "\n" << kUsage;
    return 2;
  }
  // Block the signals before any server thread starts so only sigwait below sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  weft::sandbox::Sandbox sandbox(*options);
  if (!sandbox.start(error)) {
    std::cerr << "weft-sandbox: " << error << "\n";
    return 1;
  }
  std::cout << "weft-sandbox listening on " << sandbox.url() << std::endl;
  int sig = 0;
  sigwait(&set, &sig);
  sandbox.stop();
  return 0;
}
