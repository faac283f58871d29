// restream.cpp — the Restream emulation: /login, /oauth/token, /oauth/revoke and the /v2 API,
// as PROVIDERS.md describes them (camelCase token twins, rotation with reuse detection, the
// {"error":{statusCode,status,code,message,name}} error body).
#include <Poco/NumberParser.h>

#include <algorithm>

#include "sandbox_internal.hpp"

namespace weft::sandbox {

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

constexpr int kDefaultHistoryLimit = 10;
constexpr int kMaxHistoryLimit = 100;

Response err(int status, const std::string& message, const std::string& name) {
  return provider_error(Provider::kRestream, status, message, name);
}

Response token_error(int status, const std::string& error, const std::string& description) {
  ObjectPtr o = new Object;
  o->set("error", error);
  o->set("error_description", description);
  return json_response(status, o);
}

std::string event_id(State& st) {
  std::string n = std::to_string(st.next_id++);
  return "00000000-0000-4000-8000-" + std::string(12 - std::min<std::size_t>(12, n.size()), '0') + n;
}

ObjectPtr make_event(State& st, const std::string& title, const std::string& status, Var scheduled,
                     Var started, Var finished) {
  ObjectPtr e = new Object;
  std::string id = event_id(st);
  e->set("id", id);
  e->set("status", status);
  e->set("title", title);
  e->set("description", "Sandbox event " + title);
  e->set("coverUrl", Var());
  e->set("isRecordOnly", false);
  e->set("scheduledFor", scheduled);
  e->set("startedAt", started);
  e->set("finishedAt", finished);
  ArrayPtr dest = new Array;
  ObjectPtr d = new Object;
  d->set("channelId", 101);
  d->set("externalUrl", "https://www.youtube.com/watch?v=sandbox" + id.substr(id.size() - 4));
  d->set("streamingPlatformId", 5);
  dest->add(d);
  e->set("destinations", dest);
  e->set("streamKey", "re_evt_" + id.substr(id.size() - 6));
  return e;
}

// The event without the sandbox-only streamKey member.
ObjectPtr public_event(const ObjectPtr& e) {
  ObjectPtr out = clone_object(e);
  out->remove("streamKey");
  return out;
}

ObjectPtr platform(int id, const std::string& name, const std::string& url) {
  ObjectPtr p = new Object;
  p->set("id", id);
  p->set("name", name);
  p->set("url", url);
  ObjectPtr img = new Object;
  img->set("png", "https://restream.io/img/api/platforms/platform-" + std::to_string(id) + ".png");
  img->set("svg", "https://restream.io/img/api/platforms/platform-" + std::to_string(id) + ".svg");
  p->set("image", img);
  return p;
}

ObjectPtr server(int id, const std::string& name, const std::string& host, const std::string& lat,
                 const std::string& lon) {
  ObjectPtr s = new Object;
  s->set("id", id);
  s->set("name", name);
  s->set("url", host);
  s->set("rtmpUrl", "rtmp://" + host + "/live");
  s->set("latitude", lat);
  s->set("longitude", lon);
  return s;
}

ObjectPtr channel(int id, int platform_id, const std::string& name, bool enabled) {
  ObjectPtr c = new Object;
  c->set("id", id);
  c->set("streamingPlatformId", platform_id);
  c->set("embedUrl", "https://embed.example.com/" + std::to_string(id));
  c->set("url", "https://example.com/channel/" + std::to_string(id));
  c->set("identifier", "sandbox-" + std::to_string(id));
  c->set("displayName", name);
  c->set("enabled", enabled);
  return c;
}

ArrayPtr events(State& st) { return st.restream->getArray("events"); }

ObjectPtr find_event(State& st, const std::string& id) {
  for (const auto& v : *events(st)) {
    auto e = v.extract<ObjectPtr>();
    if (e->getValue<std::string>("id") == id) return e;
  }
  return {};
}

ObjectPtr find_channel(State& st, const std::string& id) {
  for (const auto& v : *st.restream->getArray("channels")) {
    auto c = v.extract<ObjectPtr>();
    if (std::to_string(c->getValue<int>("id")) == id) return c;
  }
  return {};
}

ArrayPtr events_with_status(State& st, const std::string& status) {
  ArrayPtr out = new Array;
  for (const auto& v : *events(st)) {
    auto e = v.extract<ObjectPtr>();
    if (e->getValue<std::string>("status") == status) out->add(public_event(e));
  }
  return out;
}

std::optional<int> parse_int(const std::map<std::string, std::string>& q, const std::string& key,
                             int fallback) {
  auto it = q.find(key);
  if (it == q.end()) return fallback;
  int v = 0;
  if (!Poco::NumberParser::tryParse(it->second, v)) return std::nullopt;
  return v;
}

Response token_response(const TokenStore::Grant& g) {
  ObjectPtr o = new Object;
  std::int64_t now = now_epoch_s();
  o->set("access_token", g.access_token);
  o->set("expires", g.access_expires);
  o->set("expires_in", g.access_expires - now);
  o->set("refresh_token", g.refresh_token);
  o->set("scope", g.scope);
  o->set("token_type", "Bearer");
  o->set("accessToken", g.access_token);
  o->set("accessTokenExpiresIn", g.access_expires - now);
  o->set("accessTokenExpiresAt", iso8601(g.access_expires));
  o->set("accessTokenExpiresEpoch", g.access_expires);
  o->set("refreshToken", g.refresh_token);
  o->set("refreshTokenExpiresIn", g.refresh_expires - now);
  o->set("refreshTokenExpiresAt", iso8601(g.refresh_expires));
  o->set("refreshTokenExpiresEpoch", g.refresh_expires);
  ArrayPtr scopes = new Array;
  std::size_t start = 0;
  while (start < g.scope.size()) {
    auto sp = g.scope.find(' ', start);
    std::string s = g.scope.substr(start, sp == std::string::npos ? std::string::npos : sp - start);
    if (!s.empty()) scopes->add(s);
    if (sp == std::string::npos) break;
    start = sp + 1;
  }
  o->set("scopeJson", scopes);
  o->set("tokenType", "Bearer");
  return json_response(200, o);
}

Response login(State& st, const Request& req) {
  auto get = [&](const char* k) {
    auto it = req.query.find(k);
    return it == req.query.end() ? std::string() : it->second;
  };
  std::string redirect_uri = get("redirect_uri");
  if (get("client_id") != kClientId || redirect_uri.empty() || get("response_type") != "code") {
    Response r;
    r.status = 400;
    r.content_type = "text/plain";
    r.body =
        "Bad authorization request: client_id must be sandbox-client, response_type=code, redirect_uri set";
    return r;
  }
  if (st.deny_next_authorize) {
    st.deny_next_authorize = false;
    return redirect(redirect_uri);  // Restream's denial: back with no parameters
  }
  std::string scope =
      get("scope").empty() ? "profile.read channels.read channels.write stream.read" : get("scope");
  std::string code = st.restream_tokens.issue_code(kClientId, redirect_uri, scope);
  std::vector<std::pair<std::string, std::string>> params{{"code", code}};
  if (req.query.count("state")) params.emplace_back("state", get("state"));
  return redirect(append_query(redirect_uri, params));
}

Response token(State& st, const Request& req) {
  if (req.method != "POST") return token_error(405, "invalid_request", "use POST");
  auto form = req.form();
  std::string id, secret;
  if (!basic_credentials(req, id, secret)) {
    id = form["client_id"];
    secret = form["client_secret"];
  }
  if (id != kClientId || secret != kClientSecret)
    return token_error(401, "invalid_client", "client authentication failed");
  const std::string grant_type = form["grant_type"];
  if (grant_type == "authorization_code") {
    st.counters["restream.token.authorization_code"]++;
    std::string why;
    const auto* g = st.restream_tokens.exchange_code(form["code"], id, form["redirect_uri"],
                                                     st.token_lifetime_s, kRestreamRefreshLifetimeS, why);
    if (g == nullptr) return token_error(400, "invalid_grant", why);
    return token_response(*g);
  }
  if (grant_type == "refresh_token") {
    st.counters["restream.token.refresh_token"]++;
    auto out =
        st.restream_tokens.refresh(form["refresh_token"], id, st.token_lifetime_s, kRestreamRefreshLifetimeS);
    if (out.grant == nullptr) return token_error(400, out.error, out.description);
    return token_response(*out.grant);
  }
  return token_error(400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token");
}

Response revoke(State& st, const Request& req) {
  st.counters["restream.revoke"]++;
  st.restream_tokens.revoke(req.form()["token"]);
  return empty_response(200);
}

// GET|PATCH /v2/... with a valid access token (platform/all and server/all are public).
Response api(State& st, const Request& req, bool& mutated) {
  const auto& s = req.segments;  // s[0] == "v2"
  const auto n = s.size();
  if (n == 3 && s[2] == "all" && req.method == "GET") {
    if (s[1] == "platform") return json_response(200, st.restream->getArray("platforms"));
    if (s[1] == "server") return json_response(200, st.restream->getArray("servers"));
  }
  std::string tok = bearer_token(req);
  switch (st.restream_tokens.check_access(tok)) {
    case TokenStore::AccessCheck::kValid:
      break;
    case TokenStore::AccessCheck::kExpired:
      return err(401, "Invalid token: access token expired", "invalid_token");
    case TokenStore::AccessCheck::kInvalid:
      return err(401,
                 tok.empty() ? "Invalid token: no access token" : "Invalid token: access token is invalid",
                 "invalid_token");
  }
  st.counters["restream.api"]++;
  if (n < 3 || s[1] != "user") return err(404, "Not Found", "NotFoundError");
  const std::string& what = s[2];
  if (n == 3 && what == "profile" && req.method == "GET")
    return json_response(200, st.restream->getObject("profile"));
  if (n == 3 && what == "streamKey" && req.method == "GET")
    return json_response(200, st.restream->getObject("streamKey"));
  if (what == "channel" && n == 4 && s[3] == "all" && req.method == "GET")
    return json_response(200, st.restream->getArray("channels"));
  if (what == "channel" && n == 4) {
    auto c = find_channel(st, s[3]);
    if (!c) return err(404, "Channel not found", "NotFoundError");
    if (req.method == "GET") {
      ObjectPtr out = clone_object(c);
      out->set("active", c->getValue<bool>("enabled"));
      out->remove("enabled");
      return json_response(200, out);
    }
    if (req.method == "PATCH") {
      auto body = req.json_object();
      if (!body || !body->has("active") || !body->get("active").isBoolean())
        return err(400, "Validation failed: \"active\" must be a boolean", "BadRequestError");
      c->set("enabled", body->getValue<bool>("active"));
      mutated = true;
      return empty_response(200);
    }
  }
  if (what == "channel-meta" && n == 4) {
    if (!find_channel(st, s[3])) return err(404, "Channel not found", "NotFoundError");
    auto meta = st.restream->getObject("channelMeta");
    if (req.method == "GET") {
      ObjectPtr m = meta->getObject(s[3]);
      return json_response(200, m ? m : ObjectPtr(new Object));
    }
    if (req.method == "PATCH") {
      auto body = req.json_object();
      if (!body || !body->has("title") || !body->get("title").isString() ||
          body->getValue<std::string>("title").empty())
        return err(400, "Validation failed: \"title\" is required", "BadRequestError");
      ObjectPtr m = new Object;
      m->set("title", body->getValue<std::string>("title"));
      if (body->has("description")) m->set("description", body->get("description"));
      meta->set(s[3], m);
      mutated = true;
      return empty_response(200);
    }
  }
  if (what == "events" && n >= 4 && req.method == "GET") {
    if (n == 4 && s[3] == "upcoming") {
      auto src = req.query.find("source");
      if (src != req.query.end() && src->second != "1" && src->second != "2" && src->second != "3")
        return err(400, "Validation failed: \"source\" must be one of [1, 2, 3]", "BadRequestError");
      ArrayPtr all = events_with_status(st, "upcoming");
      auto sched = req.query.find("scheduled");
      if (sched == req.query.end() || sched->second != "true") return json_response(200, all);
      ArrayPtr out = new Array;
      for (const auto& v : *all)
        if (!v.extract<ObjectPtr>()->get("scheduledFor").isEmpty()) out->add(v);
      return json_response(200, out);
    }
    if (n == 4 && s[3] == "in-progress") return json_response(200, events_with_status(st, "in-progress"));
    if (n == 4 && s[3] == "history") {
      auto page = parse_int(req.query, "page", 1);
      auto limit = parse_int(req.query, "limit", kDefaultHistoryLimit);
      if (!page || *page < 1)
        return err(400, "Validation failed: \"page\" must be a positive integer", "BadRequestError");
      if (!limit || *limit < 1 || *limit > kMaxHistoryLimit)
        return err(400, "Validation failed: \"limit\" must be between 1 and 100", "BadRequestError");
      std::vector<ObjectPtr> finished;
      for (const auto& v : *events(st)) {
        auto e = v.extract<ObjectPtr>();
        if (e->getValue<std::string>("status") == "finished") finished.push_back(e);
      }
      std::stable_sort(finished.begin(), finished.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
        return a->getValue<std::int64_t>("finishedAt") > b->getValue<std::int64_t>("finishedAt");
      });
      ArrayPtr items = new Array;
      std::size_t from = static_cast<std::size_t>(*page - 1) * static_cast<std::size_t>(*limit);
      for (std::size_t i = from; i < finished.size() && i < from + static_cast<std::size_t>(*limit); ++i)
        items->add(public_event(finished[i]));
      ObjectPtr pag = new Object;
      pag->set("pages_total", static_cast<int>((finished.size() + static_cast<std::size_t>(*limit) - 1) /
                                               static_cast<std::size_t>(*limit)));
      pag->set("page", *page);
      pag->set("limit", *limit);
      ObjectPtr out = new Object;
      out->set("items", items);
      out->set("pagination", pag);
      return json_response(200, out);
    }
    auto e = find_event(st, s[3]);
    if (!e) return err(404, "Event not found", "NotFoundError");
    if (n == 4) return json_response(200, public_event(e));
    if (n == 5 && s[4] == "streamKey") {
      ObjectPtr k = new Object;
      k->set("streamKey", e->getValue<std::string>("streamKey"));
      k->set("srtUrl", "srt://live.restream.io:2010?streamid=srt_" + e->getValue<std::string>("streamKey"));
      return json_response(200, k);
    }
  }
  return err(404, "Not Found", "NotFoundError");
}

}  // namespace

void seed_restream(State& st) {
  st.restream = new Object;
  ObjectPtr profile = new Object;
  profile->set("id", 1001);
  profile->set("username", "sandbox");
  profile->set("email", "sandbox@example.com");
  st.restream->set("profile", profile);
  ArrayPtr channels = new Array;
  channels->add(channel(101, 5, "Sandbox on YouTube", true));
  channels->add(channel(102, 1, "Sandbox on Twitch", true));
  channels->add(channel(103, 37, "Sandbox on Facebook", false));
  st.restream->set("channels", channels);
  ObjectPtr meta = new Object;
  for (const char* id : {"101", "102", "103"}) {
    ObjectPtr m = new Object;
    m->set("title", std::string("Sandbox stream on channel ") + id);
    meta->set(id, m);
  }
  st.restream->set("channelMeta", meta);
  ArrayPtr platforms = new Array;
  platforms->add(platform(1, "Twitch", "https://twitch.tv"));
  platforms->add(platform(5, "YouTube", "https://youtube.com"));
  platforms->add(platform(37, "Facebook", "https://facebook.com"));
  st.restream->set("platforms", platforms);
  ArrayPtr servers = new Array;
  servers->add(server(1, "Autodetect", "live.restream.io", "0", "0"));
  servers->add(server(2, "EU-West (London, GB)", "london.restream.io", "51.5073509", "-0.1277583"));
  servers->add(server(3, "US-East (New York, US)", "ny.restream.io", "40.7127837", "-74.0059413"));
  st.restream->set("servers", servers);
  ObjectPtr key = new Object;
  key->set("streamKey", "re_sandbox_1001_key");
  key->set("srtUrl", "srt://live.restream.io:2010?streamid=srt_re_sandbox_1001_key");
  st.restream->set("streamKey", key);
  ArrayPtr evs = new Array;
  st.restream->set("events", evs);
  const std::int64_t now = now_epoch_s();
  evs->add(make_event(st, "Weekly show", "upcoming", now + 86400, Var(), Var()));
  evs->add(make_event(st, "Unscheduled jam", "upcoming", Var(), Var(), Var()));
  constexpr int kFinished = 7;
  for (int i = 0; i < kFinished; ++i) {
    std::int64_t end = now - 86400 * (i + 1);
    evs->add(make_event(st, "Past show " + std::to_string(i + 1), "finished", end - 7200, end - 3600, end));
  }
}

Response handle_restream(State& st, const Request& req, bool& mutated) {
  const auto& s = req.segments;
  if (s.size() == 1 && s[0] == "login" && req.method == "GET") {
    mutated = true;
    return login(st, req);
  }
  if (s.size() == 2 && s[0] == "oauth" && s[1] == "token") {
    mutated = true;
    return token(st, req);
  }
  if (s.size() == 2 && s[0] == "oauth" && s[1] == "revoke" && req.method == "POST") {
    mutated = true;
    return revoke(st, req);
  }
  if (!s.empty() && s[0] == "v2") return api(st, req, mutated);
  return err(404, "Not Found", "NotFoundError");
}

// /_control/restream/...: events (create, start, finish), finished-events, expire-tokens, revoke-all.
Response control_restream(State& st, const Request& req) {
  const auto& s = req.segments;  // below /_control/restream
  if (s.size() == 1 && s[0] == "expire-tokens") {
    st.restream_tokens.expire_all_access();
    return json_response(200, Var(ObjectPtr(new Object)));
  }
  if (s.size() == 1 && s[0] == "revoke-all") {
    st.restream_tokens.revoke_all();
    return json_response(200, Var(ObjectPtr(new Object)));
  }
  if (s.size() == 1 && s[0] == "events") {
    auto body = req.json_object();
    std::string title = body && body->has("title") ? body->getValue<std::string>("title") : "Sandbox event";
    Var scheduled = body && body->has("scheduledFor") ? body->get("scheduledFor") : Var(now_epoch_s() + 3600);
    auto e = make_event(st, title, "upcoming", scheduled, Var(), Var());
    events(st)->add(e);
    return json_response(201, public_event(e));
  }
  if (s.size() == 1 && s[0] == "finished-events") {  // {count, title?}: count events finished now
    auto body = req.json_object();
    const int count = body ? body->optValue<int>("count", 1) : 1;
    if (count < 1 || count > 5000) return json_response(400, Var(std::string("count: 1..5000")));
    const std::string title = body ? body->optValue<std::string>("title", "Finished show") : "Finished show";
    const std::int64_t now = now_epoch_s();
    ArrayPtr ids = new Array;
    for (int i = 0; i < count; ++i) {
      auto e = make_event(st, title + " " + std::to_string(i + 1), "finished", now - 3600, now - 1800, now);
      events(st)->add(e);
      ids->add(e->get("id"));
    }
    ObjectPtr out = new Object;
    out->set("ids", ids);
    return json_response(201, out);
  }
  if (s.size() == 3 && s[0] == "events" && (s[2] == "start" || s[2] == "finish")) {
    auto e = find_event(st, s[1]);
    if (!e) return json_response(404, Var(std::string("no such event")));
    if (s[2] == "start") {
      e->set("status", "in-progress");
      e->set("startedAt", now_epoch_s());
    } else {
      e->set("status", "finished");
      if (e->get("startedAt").isEmpty()) e->set("startedAt", now_epoch_s());
      e->set("finishedAt", now_epoch_s());
    }
    return json_response(200, public_event(e));
  }
  return json_response(404, Var(std::string("unknown control endpoint")));
}

}  // namespace weft::sandbox
