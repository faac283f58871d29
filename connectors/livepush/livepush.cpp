// livepush.cpp — the Livepush connector: account, streams, destinations and recordings, and a
// polling trigger for new streams. The host adds the OAuth2 bearer token (Livepush answers
// token_type "access_token"; the manifest overrides it to Bearer). Streams calls go to the
// `api_base` setting (octopus), the account call to `accounts_base` (squid).
#include "provider_call.hpp"

namespace {

// The generated manifest.inc is a string literal; cppcheck does not see it.
// cppcheck-suppress internalAstError
const char kManifest[] =
#include "manifest.inc"
    ;

using namespace weft::connectors;  // NOLINT(google-build-using-namespace): this file is the connector
using weft::sdk::Call;

// Livepush may wrap a single object in {"data": …} (unverified); the object itself either way.
Var unwrap(const Var& v) {
  ObjectPtr o = as_object(v);
  if (o && o->size() == 1 && o->has("data") && as_object(o->get("data"))) return o->get("data");
  return v;
}

// Replaces each "{name}" in path with the encoded value.
std::string expand(std::string path, const std::vector<std::pair<std::string, std::string>>& vars) {
  for (const auto& [k, v] : vars) {
    const std::string token = "{" + k + "}";
    for (auto pos = path.find(token); pos != std::string::npos; pos = path.find(token, pos + v.size()))
      path.replace(pos, token.size(), url_segment(v));
  }
  return path;
}

class Livepush : public weft::sdk::Connector {
 public:
  explicit Livepush(std::string_view /*settings*/) {
    on("get_account", [](Call& c, std::string_view) {
      return stringify(unwrap(call(c, "accounts_base", "GET", "/account/this")));
    });
    on("list_streams", [](Call& c, std::string_view) {
      return wrap("streams", call(c, "api_base", "GET", "/streams/mine"));
    });
    on("create_stream", [](Call& c, std::string_view in) {
      ObjectPtr i = parse_object(in, "input");
      ObjectPtr body = new Object;
      body->set("category", i->optValue<std::string>("category", "simulcast"));
      body->set("name", get_string(i, "name"));
      return stringify(unwrap(call(c, "api_base", "POST", "/streams", body)));
    });
    on("get_stream", [](Call& c, std::string_view in) {
      std::string id = get_string(parse_object(in, "input"), "stream_id");
      return stringify(unwrap(call(c, "api_base", "GET", "/streams/" + url_segment(id))));
    });
    on("list_destinations", [](Call& c, std::string_view) {
      return wrap("destinations", call(c, "api_base", "GET", "/streams/me/destinations"));
    });
    on("set_destination_enabled", [](Call& c, std::string_view in) {
      ObjectPtr i = parse_object(in, "input");
      std::string sid = get_string(i, "stream_id");
      std::string did = get_string(i, "destination_id");
      bool enabled = i->getValue<bool>("enabled");
      std::string tmpl = get_string(settings(c), "destination_toggle_path", false);
      if (tmpl.empty()) tmpl = "/streams/{stream_id}/destinations/{destination_id}/{action}";
      std::string path = expand(
          tmpl, {{"stream_id", sid}, {"destination_id", did}, {"action", enabled ? "enable" : "disable"}});
      Var answer = call(c, "api_base", "PUT", path);
      ObjectPtr out = new Object;
      out->set("stream_id", sid);
      out->set("destination_id", did);
      out->set("enabled", enabled);
      Var dest = unwrap(answer);
      out->set("destination", as_object(dest) ? dest : Var());
      return stringify(out);
    });
    on("list_recordings", [](Call& c, std::string_view) {
      return wrap("recordings", call(c, "api_base", "GET", "/streams/me/recordings"));
    });
    on("stream_created", [](Call& c, std::string_view in) {
      auto [params, cursor] = trigger_input(in);
      std::vector<std::pair<std::string, Var>> ids;
      ArrayPtr streams = list_of(call(c, "api_base", "GET", "/streams/mine"));  // kept alive for the loop
      for (const auto& v : *streams) {
        ObjectPtr s = as_object(v);
        if (s && s->has("id")) ids.emplace_back(s->get("id").convert<std::string>(), v);
      }
      return poll_output(poll_new(ids, cursor, params->optValue<bool>("include_existing", false)));
    });
  }

 private:
  static Var call(Call& c, const std::string& base_key, const std::string& method, const std::string& path,
                  const Var& body = Var()) {
    HttpRequest r;
    r.method = method;
    r.url = base_url(settings(c), base_key) + path;
    if (!body.isEmpty()) {
      r.json = body;
      r.has_json = true;
    }
    HttpReply reply = send(c, r);
    check(reply, "Livepush", generic_error_message);
    return json_body(reply, "Livepush");
  }
  static std::string wrap(const std::string& key, const Var& list) {
    ObjectPtr o = new Object;
    o->set(key, list_of(list));
    return stringify(o);
  }
};

}  // namespace

WEFT_CONNECTOR(Livepush, kManifest)
