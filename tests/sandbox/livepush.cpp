// livepush.cpp — the Livepush emulation below /livepush: id/oauth2/authorize,
// tokens/oauth2/access_token (GET with query parameters, token_type "access_token"),
// octopus/streams/... and squid/account/this. Livepush publishes no error format; the sandbox
// answers {statusCode, error, message} and documents it.
#include "sandbox_internal.hpp"

namespace weft::sandbox {

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

constexpr std::int64_t kLivepushRefreshLifetimeS = 31536000;

Response err(int status, const std::string& message, const std::string& name) {
  return provider_error(Provider::kLivepush, status, message, name);
}

Response token_error(int status, const std::string& error, const std::string& description) {
  ObjectPtr o = new Object;
  o->set("error", error);
  o->set("error_description", description);
  return json_response(status, o);
}

std::string param(const std::map<std::string, std::string>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? std::string() : it->second;
}

ObjectPtr make_stream(State& st, const std::string& name, const std::string& category) {
  ObjectPtr s = new Object;
  s->set("id", "st_" + std::to_string(st.next_id++));
  ObjectPtr meta = new Object;
  meta->set("name", name);
  meta->set("category", category);
  s->set("metadata", meta);
  s->set("createdAt", iso8601(now_epoch_s()));
  s->set("isDisabled", false);
  ObjectPtr config = new Object;
  config->set("ingestUrl", "rtmp://ingest.livepush.io/live");
  config->set("streamKey", "lp_key_" + std::to_string(st.next_id++));
  s->set("config", config);
  s->set("destinations", ArrayPtr(new Array));
  s->set("zone", "eu-central");
  return s;
}

ObjectPtr destination(const std::string& id, const std::string& app, const std::string& label,
                      bool disabled) {
  ObjectPtr d = new Object;
  d->set("id", id);
  d->set("appName", app);
  d->set("label", label);
  d->set("rtmpBase", "rtmp://a.rtmp." + app + ".com/live2");
  d->set("oauth", true);
  d->set("updatedAt", iso8601(now_epoch_s()));
  d->set("isPinned", false);
  d->set("isDisabled", disabled);
  return d;
}

ObjectPtr find_by_id(const ArrayPtr& arr, const std::string& id) {
  for (const auto& v : *arr) {
    auto o = v.extract<ObjectPtr>();
    if (o->getValue<std::string>("id") == id) return o;
  }
  return {};
}

Response token(State& st, const Request& req) {
  // GET with query parameters, as Livepush documents (PROVIDERS.md); anything else is refused the
  // way a server without that route answers, so a manifest that POSTs fails here as it would there.
  if (req.method != "GET") {
    Response r = token_error(405, "invalid_request",
                             "the token endpoint takes GET with query parameters, not " + req.method);
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  const auto& p = req.query;
  if (param(p, "client_id") != kClientId || param(p, "client_secret") != kClientSecret)
    return token_error(401, "invalid_client", "client authentication failed");
  const TokenStore::Grant* g = nullptr;
  const std::string grant_type = param(p, "grant_type");
  if (grant_type == "authorization_code") {
    st.counters["livepush.token.authorization_code"]++;
    std::string why;
    g = st.livepush_tokens.exchange_code(param(p, "code"), kClientId, param(p, "redirect_uri"),
                                         st.token_lifetime_s, kLivepushRefreshLifetimeS, why);
    if (g == nullptr) return token_error(400, "invalid_grant", why);
  } else if (grant_type == "refresh_token") {
    st.counters["livepush.token.refresh_token"]++;
    auto out = st.livepush_tokens.refresh(param(p, "refresh_token"), kClientId, st.token_lifetime_s,
                                          kLivepushRefreshLifetimeS);
    if (out.grant == nullptr) return token_error(400, out.error, out.description);
    g = out.grant;
  } else {
    return token_error(400, "unsupported_grant_type",
                       "grant_type must be authorization_code or refresh_token");
  }
  ObjectPtr o = new Object;
  o->set("access_token", g->access_token);
  o->set("refresh_token", g->refresh_token);
  o->set("token_type", "access_token");
  o->set("expires_in", g->access_expires - now_epoch_s());
  return json_response(200, o);
}

Response authorize(State& st, const Request& req) {
  std::string redirect_uri = param(req.query, "redirect_uri");
  if (param(req.query, "client_id") != kClientId || redirect_uri.empty() ||
      param(req.query, "response_type") != "code") {
    Response r;
    r.status = 400;
    r.content_type = "text/plain";
    r.body =
        "Bad authorization request: client_id must be sandbox-client, response_type=code, redirect_uri set";
    return r;
  }
  std::vector<std::pair<std::string, std::string>> params;
  if (st.deny_next_authorize) {
    st.deny_next_authorize = false;
    params.emplace_back("error", "access_denied");
  } else {
    // Livepush separates scopes with commas; a space-separated list is one unknown scope there.
    std::string scope = param(req.query, "scope");
    if (scope.find_first_of(" +") != std::string::npos) {
      Response r;
      r.status = 400;
      r.content_type = "text/plain";
      r.body = "Bad authorization request: scope must be comma-separated (got '" + scope + "')";
      return r;
    }
    params.emplace_back("code", st.livepush_tokens.issue_code(kClientId, redirect_uri, scope));
  }
  if (req.query.count("state")) params.emplace_back("state", param(req.query, "state"));
  return redirect(append_query(redirect_uri, params));
}

Response api(State& st, const Request& req, bool& mutated) {
  std::string tok = bearer_token(req);
  switch (st.livepush_tokens.check_access(tok)) {
    case TokenStore::AccessCheck::kValid:
      break;
    case TokenStore::AccessCheck::kExpired:
      return err(401, "Access token expired", "Unauthorized");
    case TokenStore::AccessCheck::kInvalid:
      return err(401, "Invalid access token", "Unauthorized");
  }
  st.counters["livepush.api"]++;
  const auto& s = req.segments;  // s[0] is "octopus" or "squid"
  const auto n = s.size();
  if (s[0] == "squid") {
    if (n == 3 && s[1] == "account" && s[2] == "this" && req.method == "GET")
      return json_response(200, st.livepush->getObject("account"));
    return err(404, "Not Found", "Not Found");
  }
  if (n < 2 || s[1] != "streams") return err(404, "Not Found", "Not Found");
  auto streams = st.livepush->getArray("streams");
  if (n == 2 && req.method == "POST") {
    auto body = req.json_object();
    std::string name =
        body && body->has("name") && body->get("name").isString() ? body->getValue<std::string>("name") : "";
    std::string category = body && body->has("category") && body->get("category").isString()
                               ? body->getValue<std::string>("category")
                               : "";
    if (name.empty()) return err(400, "\"name\" is required", "Bad Request");
    if (category != "simulcast" && category != "schedule")
      return err(400, "\"category\" must be one of [simulcast, schedule]", "Bad Request");
    auto created = make_stream(st, name, category);
    streams->add(created);
    mutated = true;
    return json_response(201, created);
  }
  if (n == 3 && s[2] == "mine" && req.method == "GET") return json_response(200, streams);
  if (n == 4 && s[2] == "me" && s[3] == "destinations" && req.method == "GET")
    return json_response(200, st.livepush->getArray("destinations"));
  if (n == 4 && s[2] == "me" && s[3] == "recordings" && req.method == "GET")
    return json_response(200, st.livepush->getArray("recordings"));
  if (n == 3 && req.method == "GET") {
    auto stream = find_by_id(streams, s[2]);
    if (!stream) return err(404, "Stream not found", "Not Found");
    ObjectPtr wrapped = new Object;  // Livepush wraps single streams in {data} (unverified)
    wrapped->set("data", stream);
    return json_response(200, wrapped);
  }
  if (n == 6 && s[3] == "destinations" && (s[5] == "enable" || s[5] == "disable") && req.method == "PUT") {
    if (!find_by_id(streams, s[2])) return err(404, "Stream not found", "Not Found");
    auto dest = find_by_id(st.livepush->getArray("destinations"), s[4]);
    if (!dest) return err(404, "Destination not found", "Not Found");
    dest->set("isDisabled", s[5] == "disable");
    dest->set("updatedAt", iso8601(now_epoch_s()));
    mutated = true;
    return json_response(200, dest);
  }
  return err(404, "Not Found", "Not Found");
}

}  // namespace

void seed_livepush(State& st) {
  st.livepush = new Object;
  ObjectPtr account = new Object;
  account->set("id", "us_sandbox");
  account->set("username", "sandbox");
  account->set("name", "Sandbox User");
  account->set("email", "sandbox@example.com");
  account->set("avatar", "https://example.com/avatar.png");
  account->set("ns", "sandbox");
  account->set("isDisabled", false);
  account->set("createdAt", "2024-01-01T00:00:00.000Z");
  st.livepush->set("account", account);
  ArrayPtr streams = new Array;
  streams->add(make_stream(st, "Sandbox simulcast", "simulcast"));
  st.livepush->set("streams", streams);
  ArrayPtr dests = new Array;
  dests->add(destination("pb_youtube1", "youtube", "Sandbox YouTube", false));
  dests->add(destination("pb_twitch1", "twitch", "Sandbox Twitch", true));
  st.livepush->set("destinations", dests);
  ArrayPtr recs = new Array;
  ObjectPtr rec = new Object;
  rec->set("id", "rc_1");
  rec->set("user", "us_sandbox");
  rec->set("stream", streams->getObject(0)->getValue<std::string>("id"));
  rec->set("streamKey", streams->getObject(0)->getObject("config")->getValue<std::string>("streamKey"));
  rec->set("time", 3600);
  rec->set("updatedAt", "2024-02-01T00:00:00.000Z");
  recs->add(rec);
  st.livepush->set("recordings", recs);
}

Response handle_livepush(State& st, const Request& req, bool& mutated) {
  const auto& s = req.segments;
  if (s.size() == 3 && s[0] == "id" && s[1] == "oauth2" && s[2] == "authorize" && req.method == "GET") {
    mutated = true;
    return authorize(st, req);
  }
  if (s.size() == 3 && s[0] == "tokens" && s[1] == "oauth2" && s[2] == "access_token") {
    mutated = true;
    return token(st, req);
  }
  if (!s.empty() && (s[0] == "octopus" || s[0] == "squid")) return api(st, req, mutated);
  return err(404, "Not Found", "Not Found");
}

// /_control/livepush/...: expire-tokens, revoke-all. Streams are created with POST /streams.
Response control_livepush(State& st, const Request& req) {
  const auto& s = req.segments;
  if (s.size() == 1 && s[0] == "expire-tokens") {
    st.livepush_tokens.expire_all_access();
    return json_response(200, Var(ObjectPtr(new Object)));
  }
  if (s.size() == 1 && s[0] == "revoke-all") {
    st.livepush_tokens.revoke_all();
    return json_response(200, Var(ObjectPtr(new Object)));
  }
  return json_response(404, Var(std::string("unknown control endpoint")));
}

}  // namespace weft::sandbox
