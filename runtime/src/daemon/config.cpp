// config.cpp — YAML → JSON (typed by YAML's plain-scalar rules) → valijson against the embedded
// schema → struct. yaml-cpp keeps marks on nodes, so a schema error's path is mapped back to the
// line:column the user has to edit.
#include "daemon/config.hpp"

#include <Poco/JSON/Parser.h>
#include <Poco/NumberParser.h>
#include <Poco/Path.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <valijson/adapters/poco_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "core/embedded.hpp"
#include "core/json.hpp"
#include "core/paths.hpp"
#include "http/ip_range.hpp"

namespace weft::daemon {
namespace {

constexpr std::size_t kMaxConfigBytes = 1024 * 1024;
constexpr int kMaxDepth = 32;
constexpr int kMaxNodes = 100000;  // aliases are expanded on conversion: bound the work

std::string where(const std::string& source, const YAML::Mark& m) {
  if (m.is_null()) return source;
  return source + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

struct Converter {
  int nodes = 0;
  Status error;

  Json convert(const YAML::Node& n, int depth, const std::string& source) {
    if (!error.ok()) return {};
    if (++nodes > kMaxNodes || depth > kMaxDepth) {
      error = Status(Code::kResourceExhausted,
                     where(source, n.Mark()) + ": config is nested too deeply or too large");
      return {};
    }
    switch (n.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return {};
      case YAML::NodeType::Sequence: {
        auto arr = json::new_array();
        for (const auto& item : n) arr->add(convert(item, depth + 1, source));
        return arr;
      }
      case YAML::NodeType::Map: {
        auto obj = json::new_object();
        for (const auto& kv : n) obj->set(kv.first.Scalar(), convert(kv.second, depth + 1, source));
        return obj;
      }
      case YAML::NodeType::Scalar:
        break;
    }
    const std::string& s = n.Scalar();
    if (n.Tag() != "?") return s;  // quoted or explicitly tagged: a string
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    if (s == "~" || s == "null" || s == "Null" || s == "NULL") return {};
    Poco::Int64 i = 0;
    if (Poco::NumberParser::tryParse64(s, i)) return i;
    double d = 0;
    if (!s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-') &&
        Poco::NumberParser::tryParseFloat(s, d))
      return d;
    return s;
  }
};

struct CompiledSchema {
  valijson::Schema schema;
  std::vector<std::string> keys;  // allowed top-level keys, for the unknown-key hint
  std::string error;
};

const CompiledSchema& config_schema() {
  static const std::unique_ptr<CompiledSchema> compiled = [] {
    auto c = std::make_unique<CompiledSchema>();
    try {
      Poco::JSON::Parser parser;
      Json doc = parser.parse(std::string(embedded::schema_text("config.schema.json")));
      valijson::adapters::PocoJsonAdapter adapter(doc);
      valijson::SchemaParser sp;
      sp.populateSchema(adapter, c->schema);
      if (auto props = json::as_object(json::get(doc, "properties"))) props->getNames(c->keys);
    } catch (const std::exception& e) {
      c->error = e.what();
    }
    return c;
  }();
  return *compiled;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Levenshtein distance, for "did you mean" on a misspelt key.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The YAML node a valijson context ("<root>", "[ssrf_guard]", "[allow]", "[0]") points at.
YAML::Node node_at(const YAML::Node& root, const std::vector<std::string>& context) {
  YAML::Node n = root;
  for (std::size_t i = 1; i < context.size(); ++i) {
    const std::string& c = context[i];
    if (c.size() < 2 || c.front() != '[') break;
    std::string key = c.substr(1, c.size() - 2);
    YAML::Node next;
    if (n.IsMap()) {
      next = n[key];
    } else if (n.IsSequence()) {
      unsigned idx = 0;
      if (!Poco::NumberParser::tryParseUnsigned(key, idx) || idx >= n.size()) break;
      next = n[idx];
    }
    if (!next.IsDefined()) break;
    n = next;
  }
  return n;
}

std::string dotted(const std::vector<std::string>& context) {
  std::string out;
  for (std::size_t i = 1; i < context.size(); ++i) {
    std::string k = context[i].substr(1, context[i].size() - 2);
    bool index = !k.empty() && std::isdigit(static_cast<unsigned char>(k[0]));
    out += index ? "[" + k + "]" : (out.empty() ? "" : ".") + k;
  }
  return out.empty() ? "config" : out;
}

std::string resolve(const std::string& p, const std::string& base) {
  if (p.empty() || p.front() == '/' || base.empty()) return p;
  Poco::Path path(base + "/");
  path.resolve(Poco::Path(p));
  return path.toString();
}

}  // namespace

std::string Config::listen_address() const {
  bool v6 = listen_host.find(':') != std::string::npos;
  return (v6 ? "[" + listen_host + "]" : listen_host) + ":" + std::to_string(listen_port);
}

Status parse_listen(std::string_view text, std::string& host, std::uint16_t& port) {
  const std::string t(text);
  const std::string hint = "expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080";
  std::string h, p;
  if (!t.empty() && t.front() == '[') {
    auto close = t.find(']');
    if (close == std::string::npos || close + 1 >= t.size() || t[close + 1] != ':')
      return {Code::kInvalidArgument, "bad listen address '" + t + "': " + hint};
    h = t.substr(1, close - 1);
    p = t.substr(close + 2);
  } else {
    auto colon = t.rfind(':');
    if (colon == std::string::npos || t.find(':') != colon)
      return {Code::kInvalidArgument, "bad listen address '" + t + "': " + hint};
    h = t.substr(0, colon);
    p = t.substr(colon + 1);
  }
  if (h.empty())
    return {Code::kInvalidArgument, "bad listen address '" + t + "': the host is empty; " + hint};
  unsigned v = 0;
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
      !Poco::NumberParser::tryParseUnsigned(p, v) || v > 65535)
    return {Code::kInvalidArgument, "bad listen address '" + t + "': the port must be a number 0-65535"};
  host = h;
  port = static_cast<std::uint16_t>(v);
  return Status::Ok();
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::string t(text);
  std::size_t digits = t.find_first_not_of("0123456789");
  std::string num = t.substr(0, digits);
  std::string unit = digits == std::string::npos ? "s" : t.substr(digits);
  Poco::UInt64 n = 0;
  if (num.empty() || num.size() > 9 || !Poco::NumberParser::tryParseUnsigned64(num, n) ||
      (unit != "ms" && unit != "s" && unit != "m"))
    return Status(Code::kInvalidArgument,
                  "bad duration '" + t + "': expected a number with ms, s or m (30s)");
  std::uint64_t scale = unit == "ms" ? 1 : unit == "s" ? 1000 : 60000;
  return std::chrono::milliseconds(static_cast<std::int64_t>(n * scale));
}

Result<Config> parse_config(std::string_view text, const std::string& source, const std::string& base_dir,
                            const std::string& default_home) {
  if (text.size() > kMaxConfigBytes)
    return Status(Code::kResourceExhausted, source + ": config is larger than 1 MiB");
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Status(Code::kInvalidArgument, where(source, e.mark) + ": YAML syntax error: " + e.msg);
  }
  if (root.IsNull() || !root.IsDefined()) root = YAML::Node(YAML::NodeType::Map);  // empty file: all defaults
  if (!root.IsMap())
    return Status(Code::kInvalidArgument, where(source, root.Mark()) +
                                              ": the config must be a mapping of keys (listen:, home:, ...)");

  const CompiledSchema& schema = config_schema();
  if (!schema.error.empty()) return Status(Code::kInternal, "config schema does not load: " + schema.error);

  // Unknown top-level keys get their own message: it is the most common typo and deserves the list.
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    if (std::find(schema.keys.begin(), schema.keys.end(), key) != schema.keys.end()) continue;
    std::string hint;
    for (const auto& k : schema.keys)
      if (edit_distance(key, k) <= 2) hint = "; did you mean '" + k + "'?";
    return Status(Code::kInvalidArgument, where(source, kv.first.Mark()) + ": unknown key '" + key + "'" +
                                              hint + " (allowed: " + join(schema.keys) + ")");
  }

  Converter conv;
  Json doc;
  try {
    doc = conv.convert(root, 0, source);
  } catch (const YAML::Exception& e) {
    return Status(Code::kInvalidArgument, where(source, e.mark) + ": " + e.msg);
  }
  if (!conv.error.ok()) return conv.error;

  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::PocoJsonAdapter target(doc);
  if (!validator.validate(schema.schema, target, &results)) {
    // The deepest error is the most specific one ("ssrf_guard.enabled" rather than "ssrf_guard").
    valijson::ValidationResults::Error err, best;
    while (results.popError(err))
      if (err.context.size() > best.context.size()) best = err;
    YAML::Node at = node_at(root, best.context);
    std::string value = at.IsScalar() ? " (got '" + at.Scalar() + "')" : "";
    return Status(Code::kInvalidArgument,
                  where(source, at.Mark()) + ": " + dotted(best.context) + value + ": " + best.description);
  }

  Config cfg;
  auto mark_of = [&](const char* key) { return where(source, root[key].Mark()); };
  if (root["listen"]) {
    Status s = parse_listen(root["listen"].Scalar(), cfg.listen_host, cfg.listen_port);
    if (!s.ok()) return s.with_context(mark_of("listen"));
  }
  cfg.home = root["home"] ? resolve(root["home"].Scalar(), base_dir) : default_home;
  if (root["connectors"])
    for (const auto& d : root["connectors"]) cfg.connectors.push_back(resolve(d.Scalar(), base_dir));
  if (root["workflows"]) cfg.workflows = resolve(root["workflows"].Scalar(), base_dir);
  if (root["workers"]) cfg.workers = root["workers"].as<int>();
  cfg.admin_token_file = root["admin_token_file"] ? resolve(root["admin_token_file"].Scalar(), base_dir)
                                                  : cfg.home + "/admin.token";
  if (root["log_format"])
    cfg.log_format = root["log_format"].Scalar() == "json" ? log::Format::kJson : log::Format::kText;
  if (root["drain_timeout"]) {
    auto d = parse_duration(root["drain_timeout"].Scalar());
    if (!d) return d.status().with_context(mark_of("drain_timeout"));
    cfg.drain_timeout = *d;
  }
  if (root["max_body_bytes"]) cfg.max_body_bytes = root["max_body_bytes"].as<std::size_t>();
  if (auto g = root["ssrf_guard"]) {
    if (g["enabled"])
      cfg.ssrf_guard.enabled = json::get(json::get(doc, "ssrf_guard"), "enabled").convert<bool>();
    if (g["allow"])
      for (const auto& c : g["allow"]) {
        if (auto r = http::IpRange::parse(c.Scalar()); !r)
          return Status(Code::kInvalidArgument,
                        where(source, c.Mark()) + ": ssrf_guard.allow: " + r.status().message());
        cfg.ssrf_guard.allow.push_back(c.Scalar());
      }
  }
  if (root["public_url"]) {
    cfg.public_url = root["public_url"].Scalar();
    while (!cfg.public_url.empty() && cfg.public_url.back() == '/') cfg.public_url.pop_back();
  }
  return cfg;
}

Result<Config> load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kNotFound, "cannot read config " + path + ": no such file or not readable");
  std::string text;
  text.resize(kMaxConfigBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  std::string base = Poco::Path(path).makeAbsolute().parent().toString();
  return parse_config(text, path, base, paths::default_home());
}

}  // namespace weft::daemon
