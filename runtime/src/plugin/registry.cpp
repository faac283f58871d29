#include "plugin/registry.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string_view>
#include <utility>

#include "core/log.hpp"
#include "plugin/host_table.hpp"
#include "schema/schema.hpp"

namespace weft::plugin {

namespace {

constexpr std::string_view kManifestSchema = "connector-manifest.schema.json";
constexpr std::size_t kMaxExcerpt = 300;
// A table must reach at least to the end of invoke, the last member of ABI 1.0.
constexpr std::size_t kMinTableSize = offsetof(weft_connector, invoke) + sizeof(weft_connector::invoke);

// Closes the library when the last holder lets go (a refused file, or the last run of an unloaded
// connector).
struct Library {
  void* handle = nullptr;
  explicit Library(void* h) : handle(h) {}
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  ~Library() {
    if (handle != nullptr) dlclose(handle);
  }
};

std::string excerpt(std::string_view text) {
  if (text.size() <= kMaxExcerpt) return std::string(text);
  return std::string(text.substr(0, kMaxExcerpt)) + "…";
}

// Takes a connector-filled buffer into a string and frees it with the host allocator.
std::string take(weft_buf& buf) {
  std::string text = buf.ptr == nullptr ? std::string() : std::string(buf.ptr, buf.len);
  internal::free_buffer(&buf);
  return text;
}

bool has_elf_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  if (!in.read(magic, sizeof magic)) return false;
  return magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F';
}

// An error object {code, message, retry_after_ms?} from a connector (or the host, when the SDK
// wrapped a host error as code "host_error").
struct ConnectorError {
  std::string code;
  std::string message;
  std::optional<Poco::Int64> retry_after_ms;
};

ConnectorError read_error(std::string_view text) {
  ConnectorError e{"connector_error", "", std::nullopt};
  auto doc = json::parse(text);
  if (!doc || !json::is_object(*doc)) {
    e.message = text.empty() ? "the connector reported an error without a message"
                             : "the connector reported an unreadable error: " + excerpt(text);
    return e;
  }
  e.code = json::get_string(*doc, "code", "connector_error");
  e.message = json::get_string(*doc, "message", "(no message)");
  Json retry = json::get(*doc, "retry_after_ms");
  if (retry.isNumeric()) {
    try {
      e.retry_after_ms = retry.convert<Poco::Int64>();
    } catch (...) {
    }
  }
  if (e.code == "host_error") {
    auto inner = json::parse(e.message);
    if (inner && json::is_object(*inner)) {
      e.code = json::get_string(*inner, "code", e.code);
      e.message = json::get_string(*inner, "message", e.message);
    }
  }
  return e;
}

Code map_code(const std::string& code, bool has_retry) {
  static const std::pair<std::string_view, Code> kAliases[] = {
      {"invalid_input", Code::kInvalidArgument},  {"bad_request", Code::kInvalidArgument},
      {"unauthorized", Code::kUnauthenticated},   {"forbidden", Code::kPermissionDenied},
      {"timeout", Code::kDeadlineExceeded},       {"needs_reauth", Code::kFailedPrecondition},
      {"http_status", Code::kFailedPrecondition}, {"out_of_memory", Code::kResourceExhausted},
  };
  for (auto [name, c] : kAliases) {
    if (code == name) return c;
  }
  for (int i = static_cast<int>(Code::kInvalidArgument); i <= static_cast<int>(Code::kInternal); ++i) {
    if (code == code_name(static_cast<Code>(i))) return static_cast<Code>(i);
  }
  return has_retry ? Code::kUnavailable : Code::kInternal;
}

Status refuse(const std::string& path, const std::string& reason) {
  return Status(Code::kFailedPrecondition, path + ": " + reason);
}

}  // namespace

struct Registry::Counters {
  std::atomic<int> unloaded{0};
};

struct Registry::Loaded {
  // A schema compiled on its first use. Every schema is compiled once at load, so a bad one is
  // refused there, and then dropped: a daemon keeps compiled only the schemas of the operations
  // its runs call (four connectors' compiled schemas are about 300 KB).
  class LazySchema {
   public:
    explicit LazySchema(const std::string& text) : text_(text) {}
    std::vector<SchemaIssue> validate(const Json& doc) const {
      std::call_once(once_, [this] {
        auto s = schema::Schema::compile_text(text_);
        if (s) {
          compiled_.emplace(std::move(*s));
        } else {
          error_ = s.status().message();
        }
      });
      if (!compiled_) return {{"", "the schema did not compile: " + error_}};
      return compiled_->validate(doc);
    }

   private:
    const std::string& text_;  // the operation's ActionInfo text, which lives beside this
    mutable std::once_flag once_;
    mutable std::optional<schema::Schema> compiled_;
    mutable std::string error_;
  };
  // The last few input texts that fitted an operation's input schema. A step whose `with:` holds
  // no expression sends the same input on every run; its text is looked up here and valijson is
  // skipped (it was about 2% of the daemon's CPU per webhook run). Only fits are remembered, so an
  // input that does not fit is always checked and reported in full. The text is what the connector
  // receives, so two inputs with the same text are the same input to it.
  class FitMemo {
   public:
    static constexpr std::size_t kSlots = 8;
    static constexpr std::size_t kMaxText = 4096;  // longer inputs are checked every time

    bool fits(std::string_view text) const {
      if (text.size() > kMaxText) return false;
      const std::size_t h = std::hash<std::string_view>{}(text);
      std::shared_lock lock(mu_);
      for (const Slot& s : slots_) {
        if (s.hash == h && s.text == text) return true;
      }
      return false;
    }
    void remember(std::string_view text) const {
      if (text.size() > kMaxText) return;
      const std::size_t h = std::hash<std::string_view>{}(text);
      std::unique_lock lock(mu_);
      for (const Slot& s : slots_) {
        if (s.hash == h && s.text == text) return;  // another thread remembered it meanwhile
      }
      Slot& s = slots_[next_++ % kSlots];
      s.hash = h;
      s.text.assign(text);
    }

   private:
    struct Slot {
      std::size_t hash = 0;
      std::string text;  // empty: unused (no input text is empty: it is a JSON object)
    };
    mutable std::shared_mutex mu_;
    mutable std::array<Slot, kSlots> slots_{};  // guarded by mu_
    mutable std::size_t next_ = 0;              // guarded by mu_
  };
  struct Operation {
    explicit Operation(ActionInfo a) : info(std::move(a)) {}
    Operation(const Operation&) = delete;
    Operation& operator=(const Operation&) = delete;
    ActionInfo info;
    LazySchema input{info.input_schema_json};
    LazySchema output{info.output_schema_json};
    FitMemo fitted;  // action input texts known to fit `input`
  };
  // Host memory only (no pointer into the library), so it may outlive the library.
  using Ops = std::map<std::string, std::unique_ptr<Operation>, std::less<>>;

  // Declared first so it is destroyed last: the instance and the tables live in the library.
  std::unique_ptr<Library> library;
  const weft_connector* table = nullptr;
  void* instance = nullptr;
  std::shared_ptr<Ops> ops = std::make_shared<Ops>();  // actions and triggers by name
  ConnectorInfo info;
  std::shared_ptr<Counters> counters;
  mutable std::atomic<int> runs{0};          // pins (runs) holding this version
  mutable std::atomic<bool> retired{false};  // a newer version replaced it

  Loaded() = default;
  Loaded(const Loaded&) = delete;
  Loaded& operator=(const Loaded&) = delete;
  ~Loaded() {
    if (retired) {
      log::info("plugin", "connector unloaded after draining",
                {{"connector", info.id}, {"version", info.version}, {"path", info.path}});
      if (counters) ++counters->unloaded;
    }
    if (instance == nullptr || table == nullptr || table->destroy == nullptr) return;
    try {
      table->destroy(instance);
    } catch (...) {
      log::error("plugin", "connector destroy threw", {{"connector", info.id}});
    }
  }
};

// The connectors of one moment, for one run: every step resolves and calls these versions.
class Registry::Pinned final : public ActionCatalog {
 public:
  using Map = std::map<std::string, std::shared_ptr<const Loaded>, std::less<>>;
  Pinned(const Registry& registry, Map by_id) : registry_(registry), by_id_(std::move(by_id)) {
    for (const auto& [id, loaded] : by_id_) ++loaded->runs;
  }
  ~Pinned() override {
    for (const auto& [id, loaded] : by_id_) --loaded->runs;
  }
  Pinned(const Pinned&) = delete;
  Pinned& operator=(const Pinned&) = delete;

  const ActionInfo* find(std::string_view uses) const override {
    auto dot = uses.find('.');
    if (dot == std::string_view::npos) return nullptr;
    auto it = by_id_.find(uses.substr(0, dot));
    if (it == by_id_.end()) return nullptr;
    auto op = it->second->ops->find(uses.substr(dot + 1));
    return op == it->second->ops->end() ? nullptr : &op->second->info;
  }
  std::vector<SchemaIssue> validate_input(const ActionInfo& op, const Json& input) const override {
    auto it = by_id_.find(op.connector);
    if (it == by_id_.end()) return {{"", "no connector '" + op.connector + "' is loaded"}};
    auto found = it->second->ops->find(op.name);
    if (found == it->second->ops->end())
      return {{"", "connector '" + op.connector + "' has no operation '" + op.name + "'"}};
    return found->second->input.validate(input);
  }
  Result<Json> invoke(const ActionInfo& op, const Json& input, const InvokeContext& ctx) const override {
    auto it = by_id_.find(op.connector);
    return registry_.call_loaded(it == by_id_.end() ? nullptr : it->second.get(), op, input, ctx, false);
  }

 private:
  const Registry& registry_;
  const Map by_id_;
};

Registry::Registry(HostServices* services) : services_(services), counters_(std::make_shared<Counters>()) {}

Registry::~Registry() {
  std::unique_lock lock(mu_);
  by_id_.clear();
}

std::vector<Status> Registry::load(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<Status> refused;
  for (const auto& path : paths) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
      Status st = fs::exists(path, ec) ? load_file(path) : refuse(path, "no such file or directory");
      if (!st.ok()) refused.push_back(st);
      continue;
    }
    std::vector<std::string> files;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->path().extension() == ".so" && !it->is_directory(ec)) files.push_back(it->path().string());
    }
    if (ec) {
      refused.push_back(refuse(path, "cannot read directory: " + ec.message()));
      continue;
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      Status st = load_file(file);
      if (!st.ok()) refused.push_back(st);
    }
  }
  return refused;
}

Status Registry::load_file(const std::string& path) { return load_file(path, LoadOptions{}).status; }

LoadOutcome Registry::load_file(const std::string& path, const LoadOptions& options) {
  LoadOutcome out;
  Status st;
  try {
    st = load_one(path, options, out);
  } catch (const std::exception& e) {
    st = refuse(path, std::string("loading failed: ") + e.what());
  } catch (...) {
    st = refuse(path, "loading failed");
  }
  if (!st.ok()) {
    if (options.log_refusal) log::warn("plugin", "connector refused", {{"reason", st.message()}});
    out.previous.reset();
    out.previous_version.clear();
  }
  out.status = st;
  return out;
}

Status Registry::load_one(const std::string& path, const LoadOptions& options, LoadOutcome& out) {
  const std::string& image = options.image.empty() ? path : options.image;
  if (!has_elf_magic(image)) return refuse(path, "not a shared library");

  void* handle = dlopen(image.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return refuse(path, std::string("cannot load: ") + (why != nullptr ? why : "dlopen failed"));
  }
  auto loaded = std::make_shared<Loaded>();
  loaded->library = std::make_unique<Library>(handle);
  loaded->counters = counters_;

  dlerror();
  void* sym = dlsym(handle, WEFT_ENTRY_SYMBOL);
  if (sym == nullptr) return refuse(path, "missing symbol " WEFT_ENTRY_SYMBOL);
  auto entry = reinterpret_cast<weft_connector_entry_fn>(sym);

  const weft_connector* table = nullptr;
  try {
    table = entry(internal::host_table());
  } catch (const std::exception& e) {
    return refuse(path, std::string("entry point threw: ") + e.what());
  } catch (...) {
    return refuse(path, "entry point threw");
  }
  if (table == nullptr) return refuse(path, "entry point returned no connector table");
  if (table->abi_major != WEFT_ABI_MAJOR) {
    return refuse(path, "ABI major " + std::to_string(table->abi_major) + ", host supports " +
                            std::to_string(WEFT_ABI_MAJOR));
  }
  if (table->abi_minor > WEFT_ABI_MINOR) {
    return refuse(path, "ABI minor " + std::to_string(table->abi_minor) + " is newer than the host's " +
                            std::to_string(WEFT_ABI_MAJOR) + "." + std::to_string(WEFT_ABI_MINOR) +
                            "; upgrade weft or build against its connector_abi.h");
  }
  if (table->struct_size < kMinTableSize) {
    return refuse(path, "connector table is " + std::to_string(table->struct_size) + " bytes, ABI " +
                            std::to_string(WEFT_ABI_MAJOR) + ".0 needs at least " +
                            std::to_string(kMinTableSize));
  }
  if (table->manifest_json == nullptr || table->create == nullptr || table->destroy == nullptr ||
      table->invoke == nullptr) {
    return refuse(path, "connector table lacks the manifest or a create/destroy/invoke function");
  }
  loaded->table = table;

  // The manifest.
  auto manifest = json::parse(std::string_view(table->manifest_json, table->manifest_len));
  if (!manifest) {
    // json::parse says "invalid JSON: JSON Exception: <reason>"; the line already says what.
    std::string reason = manifest.status().message();
    for (std::string_view noise : {"invalid JSON: ", "JSON Exception: "}) {
      if (reason.rfind(noise, 0) == 0) reason.erase(0, noise.size());
    }
    return refuse(path, "invalid manifest JSON: " + reason);
  }
  auto issues = schema::validate_embedded(kManifestSchema, *manifest);
  if (!issues) return refuse(path, issues.status().message());
  if (!issues->empty()) return refuse(path, "manifest breaks schema " + schema::describe(*issues));

  ConnectorInfo& info = loaded->info;
  info.manifest_json.assign(table->manifest_json, table->manifest_len);
  info.rate_limit = json::get(*manifest, "rate_limit");
  info.path = path;
  info.id = json::get_string(*manifest, "id");
  info.version = json::get_string(*manifest, "version");
  info.name = json::get_string(*manifest, "name");
  info.description = json::get_string(*manifest, "description");
  info.auth = json::get(*manifest, "auth");
  info.auth_kind = json::get_string(info.auth, "kind");
  info.settings =
      json::is_object(json::get(*manifest, "settings")) ? json::get(*manifest, "settings") : json::object();
  auto defaults = json::new_object();
  for (const auto& [name, spec] : *json::as_object(info.settings)) {
    auto spec_obj = json::as_object(spec);
    if (!spec_obj.isNull() && spec_obj->has("default")) defaults->set(name, spec_obj->get("default"));
  }
  info.settings_defaults = defaults;

  // An id already loaded: refused, or (options.replace) replaced by another version or by the same
  // file changed.
  auto conflict = [&](const Loaded& old) -> Status {
    const bool kept = std::find(options.keep.begin(), options.keep.end(), info.id) != options.keep.end();
    if (!options.replace || kept)
      return refuse(path,
                    "duplicate connector id '" + info.id + "' (already loaded from " + old.info.path + ")");
    if (old.info.path != path && old.info.version == info.version)
      return refuse(path, "connector '" + info.id + "' " + info.version + " is already loaded from " +
                              old.info.path + "; a new version needs a new version number");
    return Status::Ok();
  };
  {
    std::shared_lock lock(mu_);
    if (auto it = by_id_.find(info.id); it != by_id_.end()) WEFT_RETURN_IF_ERROR(conflict(*it->second));
  }

  // Every operation's schemas compiled, so a connector with a bad one is refused now; the compiled
  // forms are dropped and compiled again on first use (LazySchema).
  for (OperationKind kind : {OperationKind::kAction, OperationKind::kTrigger}) {
    const bool is_action = kind == OperationKind::kAction;
    const char* noun = is_action ? "action" : "trigger";
    auto ops = json::as_object(json::get(*manifest, is_action ? "actions" : "triggers"));
    if (ops.isNull()) continue;
    for (const auto& [name, spec] : *ops) {
      if (loaded->ops->count(name) != 0) {
        return refuse(path, "action and trigger both named '" + name + "'; operation names must be unique");
      }
      auto input = schema::Schema::compile(json::get(spec, "input"));
      if (!input)
        return refuse(path,
                      std::string(noun) + " " + name + " input schema invalid: " + input.status().message());
      auto output = schema::Schema::compile(json::get(spec, "output"));
      if (!output) {
        return refuse(
            path, std::string(noun) + " " + name + " output schema invalid: " + output.status().message());
      }
      ActionInfo a;
      a.connector = info.id;
      a.name = name;
      a.uses = info.id + "." + name;
      a.kind = kind;
      a.title = json::get_string(spec, "title");
      a.description = json::get_string(spec, "description");
      a.input_schema_json = json::stringify(json::get(spec, "input"));
      a.output_schema_json = json::stringify(json::get(spec, "output"));
      Json requires_connection = json::get(spec, "requires_connection");
      a.requires_connection = requires_connection.isBoolean() ? requires_connection.extract<bool>() : true;
      a.connector_version = info.version;
      a.auth_kind = info.auth_kind;
      Json interval = json::get(spec, "default_interval_seconds");
      if (interval.isInteger()) a.default_interval_seconds = interval.convert<int>();
      loaded->ops->emplace(name, std::make_unique<Loaded::Operation>(std::move(a)));
    }
  }
  for (const auto& [name, op] : *loaded->ops) {
    (op->info.kind == OperationKind::kAction ? info.actions : info.triggers).push_back(&op->info);
  }

  // One instance, with the manifest's defaults.
  std::string settings_text = json::stringify(info.settings_defaults);
  weft_buf error{nullptr, 0};
  weft_status created = WEFT_ERROR;
  void* instance = nullptr;
  try {
    created = table->create(settings_text.data(), settings_text.size(), &instance, &error);
  } catch (const std::exception& e) {
    internal::free_buffer(&error);
    return refuse(path, std::string("create threw: ") + e.what());
  } catch (...) {
    internal::free_buffer(&error);
    return refuse(path, "create threw");
  }
  if (created != WEFT_OK) return refuse(path, "create failed: " + read_error(take(error)).message);
  internal::free_buffer(&error);
  loaded->instance = instance;

  out.id = info.id;
  out.version = info.version;
  std::unique_lock lock(mu_);
  if (auto it = by_id_.find(info.id); it != by_id_.end()) {  // checked again: another load may have won
    WEFT_RETURN_IF_ERROR(conflict(*it->second));
    const std::shared_ptr<const Loaded>& old = it->second;
    out.previous_version = old->info.version;
    out.draining_runs = old->runs.load();
    old->retired = true;
    retired_ops_.push_back(old->ops);
    std::erase_if(draining_, [](const std::weak_ptr<const Loaded>& w) { return w.expired(); });
    draining_.push_back(old);
    out.previous = old;  // the caller's reference; the old version unloads when it and the runs let go
    it->second = std::move(loaded);
  } else {
    by_id_.emplace(info.id, std::move(loaded));
  }
  log::debug("plugin", "connector loaded",
             {{"connector", info.id}, {"version", info.version}, {"path", path}});
  return Status::Ok();
}

std::vector<DrainingConnector> Registry::draining() const {
  std::shared_lock lock(mu_);
  std::vector<DrainingConnector> out;
  for (const auto& w : draining_) {
    if (auto l = w.lock()) out.push_back({l->info.id, l->info.version, l->info.path, l->runs.load()});
  }
  return out;
}

int Registry::unloaded_after_draining() const { return counters_->unloaded.load(); }

std::shared_ptr<const ActionCatalog> Registry::pin() const {
  std::shared_lock lock(mu_);
  return std::make_shared<const Pinned>(*this, Pinned::Map(by_id_.begin(), by_id_.end()));
}

std::vector<std::shared_ptr<const ConnectorInfo>> Registry::connectors() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<const ConnectorInfo>> out;
  out.reserve(by_id_.size());
  // Aliasing: the ConnectorInfo keeps its whole Loaded (library included) alive.
  for (const auto& [id, loaded] : by_id_) out.emplace_back(loaded, &loaded->info);
  return out;
}

std::shared_ptr<const ConnectorInfo> Registry::connector(std::string_view id) const {
  std::shared_lock lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return nullptr;
  return {it->second, &it->second->info};
}

const ActionInfo* Registry::find(std::string_view uses) const {
  auto dot = uses.find('.');
  if (dot == std::string_view::npos) return nullptr;
  std::shared_lock lock(mu_);
  auto it = by_id_.find(uses.substr(0, dot));
  if (it == by_id_.end()) return nullptr;
  auto op = it->second->ops->find(uses.substr(dot + 1));
  return op == it->second->ops->end() ? nullptr : &op->second->info;
}

std::shared_ptr<const Registry::Loaded> Registry::find_loaded(std::string_view id) const {
  std::shared_lock lock(mu_);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

std::vector<SchemaIssue> Registry::validate_input(const ActionInfo& op, const Json& input) const {
  auto connector = find_loaded(op.connector);
  if (connector == nullptr) return {{"", "no connector '" + op.connector + "' is loaded"}};
  auto it = connector->ops->find(op.name);
  if (it == connector->ops->end())
    return {{"", "connector '" + op.connector + "' has no operation '" + op.name + "'"}};
  return it->second->input.validate(input);
}

Result<Json> Registry::invoke(const ActionInfo& op, const Json& input, const InvokeContext& ctx) const {
  return call_connector(op, input, ctx, false);
}

Result<Json> Registry::poll(const ActionInfo& op, const Json& params, const Json& cursor,
                            const InvokeContext& ctx) const {
  if (op.kind != OperationKind::kTrigger) {
    return Status(Code::kInvalidArgument, op.uses + " is an action; poll() takes a trigger");
  }
  Json input =
      json::object({{"params", params.isEmpty() ? Json(json::new_object()) : params}, {"cursor", cursor}});
  return call_connector(op, input, ctx, true);
}

Result<Json> Registry::call_connector(const ActionInfo& op, const Json& input, const InvokeContext& ctx,
                                      bool poll) const {
  auto connector = find_loaded(op.connector);  // keeps the library loaded for the whole call
  return call_loaded(connector.get(), op, input, ctx, poll);
}

Result<Json> Registry::call_loaded(const Loaded* connector, const ActionInfo& op, const Json& input,
                                   const InvokeContext& ctx, bool poll) const {
  if (connector == nullptr) return Status(Code::kNotFound, "no connector '" + op.connector + "' is loaded");
  auto found = connector->ops->find(op.name);
  if (found == connector->ops->end()) {
    return Status(Code::kNotFound, "connector '" + op.connector + "' has no operation '" + op.name + "'");
  }
  const Loaded::Operation& operation = *found->second;
  const std::string& uses = operation.info.uses;

  if (schema::nests_deeper_than(input, json::kMaxDepth)) {
    return Status(Code::kResourceExhausted,
                  uses + " input nests deeper than " + std::to_string(json::kMaxDepth) + " levels");
  }
  std::string input_text = json::stringify(input);
  // A poll's input is {params, cursor}: the trigger's input schema describes params (and the cursor
  // changes, so polls are not looked up in the memo).
  if (poll || !operation.fitted.fits(input_text)) {
    if (auto issues = operation.input.validate(poll ? json::get(input, "params") : input); !issues.empty()) {
      return Status(Code::kInvalidArgument, uses + (poll ? " params " : " input ") + schema::describe(issues));
    }
    if (!poll) operation.fitted.remember(input_text);
  }

  weft_call_ctx call{&operation.info, &ctx, services_, &connector->info.settings_defaults};
  weft_buf out{nullptr, 0};
  weft_status st = WEFT_ERROR;
  try {
    st = connector->table->invoke(connector->instance, operation.info.name.c_str(), input_text.data(),
                                  input_text.size(), &call, &out);
  } catch (const std::exception& e) {
    internal::free_buffer(&out);
    return Status(Code::kInternal,
                  uses + ": the connector let an exception cross the C boundary: " + e.what());
  } catch (...) {
    internal::free_buffer(&out);
    return Status(Code::kInternal, uses + ": the connector let an exception cross the C boundary");
  }
  std::string text = take(out);

  if (st != WEFT_OK) {
    ConnectorError e = read_error(text);
    std::string message = uses + " failed (" + e.code + "): " + e.message;
    if (e.retry_after_ms) message += " (retry after " + std::to_string(*e.retry_after_ms) + " ms)";
    return Status(map_code(e.code, e.retry_after_ms.has_value()), message);
  }
  auto output = json::parse(text);
  if (!output) {
    return Status(Code::kInternal, uses + ": the connector returned invalid JSON output (" +
                                       output.status().message() + "): " + excerpt(text));
  }
  if (poll) {
    // {items: [item...], cursor}: each item must fit the trigger's output schema.
    auto items = json::as_array(json::get(*output, "items"));
    if (!json::is_object(*output) || items.isNull() || !json::as_object(*output)->has("cursor")) {
      return Status(Code::kInternal,
                    uses + ": a poll must return {\"items\": [...], \"cursor\": ...}, got " + excerpt(text));
    }
    for (std::size_t i = 0; i < items->size(); ++i) {
      if (auto issues = operation.output.validate(items->get(i)); !issues.empty()) {
        return Status(Code::kInternal,
                      uses + " item " + std::to_string(i) + " breaks its schema " + schema::describe(issues));
      }
    }
    return std::move(*output);
  }
  if (auto issues = operation.output.validate(*output); !issues.empty()) {
    return Status(Code::kInternal, uses + " output breaks its schema " + schema::describe(issues));
  }
  return std::move(*output);
}

}  // namespace weft::plugin
