// probe.hpp — tries connector files in child processes before the daemon dlopens them, so an
// entry point that aborts, crashes or hangs costs a refusal line instead of the daemon.
//
//   plugin::ProbeOptions po{.command = {weft_binary, "__probe-connector"}};
//   std::vector<Status> r = plugin::probe_files({{copy, "/conn/x.so"}}, po);  // one per file
//
// The child is the weft binary itself (`weft __probe-connector FILE`), started with posix_spawn
// (no fork of the multithreaded daemon): it loads FILE into an empty registry — dlopen, entry
// point, ABI, manifest and schemas, create() — and exits 0 when all of it holds. A non-zero exit
// is the loader's own refusal; a signal or the timeout is reported as such.
#pragma once

#include <chrono>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/status.hpp"

namespace weft::plugin {

// The child side: loads file, prints "probe-ok <id> <version>" or "probe-refused: <reason>" on
// out; returns the process exit status (0 or 1).
int probe_main(const std::string& file, std::ostream& out);

struct ProbeOptions {
  std::vector<std::string> command;  // argv before the file; empty: no probing (everything passes)
  std::chrono::milliseconds timeout{5000};
  std::string scratch_dir;  // where the children's output goes (a private directory)
};

// One file to probe: the image to load and the name to report it by.
struct ProbeFile {
  std::string image;
  std::string name;
};

// Probes every file in parallel, each bounded by options.timeout. One Status per file in order:
// Ok, or failed_precondition "<name>: <reason>", e.g. "connector init crashed (signal 6 SIGABRT);
// refused" or "connector init did not return within 5 s; refused".
std::vector<Status> probe_files(const std::vector<ProbeFile>& files, const ProbeOptions& options);

}  // namespace weft::plugin
