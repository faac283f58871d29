// ovenmediaengine.cpp — the OvenMediaEngine connector: the REST API (vhosts, apps, streams, push,
// recording, stats), SignedPolicy URLs computed locally, OvenStudio's signed LLHLS URL, and a
// polling trigger for streams that start. The host adds `Authorization: Basic base64(token)`.
#include <Poco/Timestamp.h>

#include "ome_api.hpp"
#include "signed_policy.hpp"

namespace {

// The generated manifest.inc is a string literal; cppcheck does not see it.
// cppcheck-suppress internalAstError
const char kManifest[] =
#include "manifest.inc"
    ;

using namespace weft::connectors;  // NOLINT(google-build-using-namespace): this file is the connector
using weft::sdk::Call;
using weft::sdk::Error;

struct Where {
  std::string vhost, app;
};

Where where(const ObjectPtr& in) {
  Where w{get_string(in, "vhost", false), get_string(in, "app", false)};
  if (w.vhost.empty()) w.vhost = "default";
  if (w.app.empty()) w.app = "app";
  return w;
}

std::string app_path(const Where& w) {
  return "/v1/vhosts/" + url_segment(w.vhost) + "/apps/" + url_segment(w.app);
}

// Calls the OME API and returns the `response` member of {statusCode, message, response}.
Var ome(Call& c, const std::string& method, const std::string& path, const Var& body = Var()) {
  HttpRequest r;
  r.method = method;
  r.url = base_url(settings(c), "api_base") + path;
  if (!body.isEmpty()) {
    r.json = body;
    r.has_json = true;
  }
  HttpReply reply = send(c, r);
  check(reply, "OvenMediaEngine", ome::error_message);
  Var v = json_body(reply, "OvenMediaEngine");
  ObjectPtr o = as_object(v);
  return o && o->has("response") ? o->get("response") : v;
}

std::string wrap(const std::string& key, const Var& list) {
  ObjectPtr o = new Object;
  o->set(key, list_of(list, {"response"}));
  return stringify(o);
}

// OME answers some creations with a one-element list; the element either way.
Var first_of(const Var& v) {
  ArrayPtr a = as_array(v);
  if (a && a->size() > 0) {
    Var e = a->get(0);
    ObjectPtr o = as_object(e);
    return o && o->has("response") ? o->get("response") : e;
  }
  return v;
}

ObjectPtr stream_ref(const ObjectPtr& in, ObjectPtr body) {
  ObjectPtr stream = new Object;
  stream->set("name", get_string(in, "stream_name"));
  if (ArrayPtr variants = as_array(in->get("variant_names"))) stream->set("variantNames", variants);
  body->set("stream", stream);
  return body;
}

std::string stopped(Call& c, std::string_view input, const std::string& action) {
  ObjectPtr in = parse_object(input, "input");
  ObjectPtr body = new Object;
  body->set("id", get_string(in, "id"));
  ome(c, "POST", app_path(where(in)) + ":" + action, body);
  ObjectPtr out = new Object;
  out->set("stopped", true);
  out->set("id", get_string(in, "id"));
  return stringify(out);
}

std::string listed(Call& c, std::string_view input, const std::string& action, const std::string& key) {
  ObjectPtr in = parse_object(input, "input");
  ObjectPtr body = new Object;
  if (!get_string(in, "id", false).empty()) body->set("id", get_string(in, "id"));
  return wrap(key, ome(c, "POST", app_path(where(in)) + ":" + action, body));
}

std::string sign_url(Call& c, std::string_view input) {
  ObjectPtr in = parse_object(input, "input");
  ome::Policy p;
  if (in->has("url_expire")) {
    p.url_expire_ms = in->getValue<std::int64_t>("url_expire");
  } else if (in->has("expires_in_seconds")) {
    p.url_expire_ms = Poco::Timestamp().epochMicroseconds() / 1000 +
                      in->getValue<std::int64_t>("expires_in_seconds") * 1000;
  } else {
    throw Error("invalid_argument", "give url_expire (epoch milliseconds) or expires_in_seconds");
  }
  if (in->has("url_activate")) p.url_activate_ms = in->getValue<std::int64_t>("url_activate");
  if (in->has("stream_expire")) p.stream_expire_ms = in->getValue<std::int64_t>("stream_expire");
  if (!get_string(in, "allow_ip", false).empty()) p.allow_ip = get_string(in, "allow_ip");
  std::string secret = get_string(in, "secret", false);
  if (secret.empty()) secret = get_string(settings(c), "signed_policy_secret", false);
  if (secret.empty())
    throw Error("failed_precondition",
                "no SignedPolicy secret: set the connection's signed_policy_secret setting "
                "(Server.xml <SignedPolicy><SecretKey>) or pass `secret`");
  std::string policy_key = get_string(in, "policy_query_key", false);
  std::string signature_key = get_string(in, "signature_query_key", false);
  ome::Signed s;
  try {
    s = ome::sign(get_string(in, "url"), secret, p, policy_key.empty() ? "policy" : policy_key,
                  signature_key.empty() ? "signature" : signature_key);
  } catch (const std::invalid_argument& e) {
    throw Error("invalid_argument", e.what());
  }
  ObjectPtr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  out->set("url", s.url);
  out->set("policy", s.policy);
  out->set("signature", s.signature);
  out->set("policy_json", s.policy_json);
  out->set("url_expire", p.url_expire_ms);
  return stringify(out);
}

std::string ovenstudio_signed_url(Call& c, std::string_view input) {
  ObjectPtr in = parse_object(input, "input");
  ObjectPtr st = settings(c);
  std::string token = get_string(st, "ovenstudio_token", false);
  if (token.empty())
    throw Error("failed_precondition",
                "setting 'ovenstudio_token' is not set; create a REST API token in OvenStudio "
                "(Settings -> REST API) and store it with --set ovenstudio_token=…");
  ObjectPtr body = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  std::string less = get_string(in, "date_less_than", false);
  if (less.empty()) {
    if (!in->has("valid_for_seconds"))
      throw Error("invalid_argument", "give date_less_than (yyyy-mm-ddThh:mm:ssZ) or valid_for_seconds");
    less = ome::utc_after(Poco::Timestamp().epochTime(), in->getValue<std::int64_t>("valid_for_seconds"));
  }
  std::string greater = get_string(in, "date_greater_than", false);
  if (get_string(st, "ovenstudio_body_style", false) == "flat") {
    body->set("stream_name", get_string(in, "stream_name"));
    body->set("date_less_than", less);
    if (!greater.empty()) body->set("date_greater_than", greater);
  } else {
    ObjectPtr stream = new Object;
    stream->set("stream_name", get_string(in, "stream_name"));
    ObjectPtr policy = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    policy->set("date_less_than", less);
    if (!greater.empty()) policy->set("date_greater_than", greater);
    body->set("stream", stream);
    body->set("policy", policy);
  }
  HttpRequest r;
  r.method = "POST";
  r.url = base_url(st, "ovenstudio_base") + "/v1/apis/aws/cf/signedUrl";
  r.headers["Authorization"] = "Bearer " + token;
  r.json = body;
  r.has_json = true;
  r.auth = false;  // the OME token must not go to OvenStudio; this call carries its own
  HttpReply reply = send(c, r);
  check(reply, "OvenStudio", ome::error_message);
  std::string url = ome::signed_url_of(reply.body);
  if (url.empty())
    throw Error("provider_error", "OvenStudio answered HTTP " + std::to_string(reply.status) +
                                      " without a signed URL: " + reply.body.substr(0, 200));
  ObjectPtr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  out->set("url", url);
  out->set("date_less_than", less);
  return stringify(out);
}

// Streams that appeared since the last poll. The cursor is the set of live stream names, so a
// stream that stops and starts again fires again, and the cursor never grows past what is live.
std::string stream_started(Call& c, std::string_view input) {
  auto [params, cursor] = trigger_input(input);
  Where w = where(params);
  ArrayPtr live = list_of(ome(c, "GET", app_path(w) + "/streams"), {"response"});
  std::set<std::string> before;
  bool first = true;
  if (ObjectPtr cur = as_object(cursor)) {
    if (ArrayPtr names = as_array(cur->get("live"))) {
      first = false;
      for (const auto& v : *names) before.insert(v.convert<std::string>());
    }
  }
  bool emit = !first || params->optValue<bool>("include_existing", false);
  ArrayPtr items = new Array;
  ArrayPtr now = new Array;
  for (const auto& v : *live) {
    std::string name = v.convert<std::string>();
    now->add(name);
    if (emit && !before.count(name)) {
      ObjectPtr item = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      item->set("vhost", w.vhost);
      item->set("app", w.app);
      item->set("name", name);
      items->add(item);
    }
  }
  ObjectPtr next = new Object;
  next->set("live", now);
  return poll_output({items, next});
}

class OvenMediaEngine : public weft::sdk::Connector {
 public:
  explicit OvenMediaEngine(std::string_view /*settings*/) {
    on("list_vhosts", [](Call& c, std::string_view) { return wrap("vhosts", ome(c, "GET", "/v1/vhosts")); });
    on("list_apps", [](Call& c, std::string_view in) {
      return wrap("apps", ome(c, "GET",
                              "/v1/vhosts/" + url_segment(where(parse_object(in, "input")).vhost) + "/apps"));
    });
    on("list_streams", [](Call& c, std::string_view in) {
      return wrap("streams", ome(c, "GET", app_path(where(parse_object(in, "input"))) + "/streams"));
    });
    on("get_stream", [](Call& c, std::string_view in) {
      ObjectPtr i = parse_object(in, "input");
      return stringify(
          ome(c, "GET", app_path(where(i)) + "/streams/" + url_segment(get_string(i, "stream"))));
    });
    on("create_pull_stream", [](Call& c, std::string_view in) {
      ObjectPtr i = parse_object(in, "input");
      ObjectPtr body = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      body->set("name", get_string(i, "name"));
      ArrayPtr urls = as_array(i->get("urls"));
      if (!urls || urls->size() == 0)
        throw Error("invalid_argument", "input field 'urls' needs at least one URL");
      body->set("urls", urls);
      if (i->has("properties")) body->set("properties", i->get("properties"));
      return stringify(first_of(ome(c, "POST", app_path(where(i)) + "/streams", body)));
    });
    on("delete_stream", [](Call& c, std::string_view in) {
      ObjectPtr i = parse_object(in, "input");
      ome(c, "DELETE", app_path(where(i)) + "/streams/" + url_segment(get_string(i, "stream")));
      ObjectPtr out = new Object;
      out->set("deleted", true);
      out->set("stream", get_string(i, "stream"));
      return stringify(out);
    });
    on("start_push", [](Call& c, std::string_view in) {
      ObjectPtr i = parse_object(in, "input");
      ObjectPtr body = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      body->set("id", get_string(i, "id"));
      stream_ref(i, body);
      body->set("protocol", get_string(i, "protocol"));
      body->set("url", get_string(i, "url"));
      if (!get_string(i, "stream_key", false).empty()) body->set("streamKey", get_string(i, "stream_key"));
      return stringify(first_of(ome(c, "POST", app_path(where(i)) + ":startPush", body)));
    });
    on("stop_push", [](Call& c, std::string_view in) { return stopped(c, in, "stopPush"); });
    on("list_pushes", [](Call& c, std::string_view in) { return listed(c, in, "pushes", "pushes"); });
    on("start_record", [](Call& c, std::string_view in) {
      ObjectPtr i = parse_object(in, "input");
      ObjectPtr body = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      body->set("id", get_string(i, "id"));
      stream_ref(i, body);
      if (i->has("interval")) body->set("interval", i->get("interval"));
      if (i->has("schedule")) body->set("schedule", i->get("schedule"));
      if (i->has("segmentation_rule")) body->set("segmentationRule", i->get("segmentation_rule"));
      return stringify(first_of(ome(c, "POST", app_path(where(i)) + ":startRecord", body)));
    });
    on("stop_record", [](Call& c, std::string_view in) { return stopped(c, in, "stopRecord"); });
    on("list_records", [](Call& c, std::string_view in) { return listed(c, in, "records", "records"); });
    on("get_stats", [](Call& c, std::string_view in) {
      ObjectPtr i = parse_object(in, "input");
      std::string vhost = get_string(i, "vhost", false);
      std::string path = "/v1/stats/current/vhosts/" + url_segment(vhost.empty() ? "default" : vhost);
      std::string app = get_string(i, "app", false);
      std::string stream = get_string(i, "stream", false);
      if (!stream.empty() && app.empty())
        throw Error("invalid_argument", "get_stats: 'stream' needs 'app' as well");
      if (!app.empty()) path += "/apps/" + url_segment(app);
      if (!stream.empty()) path += "/streams/" + url_segment(stream);
      return stringify(ome(c, "GET", path));
    });
    on("sign_url", sign_url);
    on("ovenstudio_signed_url", ovenstudio_signed_url);
    on("stream_started", stream_started);
  }
};

}  // namespace

WEFT_CONNECTOR(OvenMediaEngine, kManifest)
