// ome.cpp — the OvenMediaEngine REST API emulation below /ome (/v1/vhosts/..., actions as
// POST /v1/...:action, /v1/stats/current/...) and OvenStudio's signed URL endpoint below
// /ovenstudio. In-memory data that the actions change: a created pull stream appears in the list,
// a duplicate push or record id answers 409.
#include "sandbox.hpp"
#include "sandbox_internal.hpp"

namespace weft::sandbox {

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

Response err(int status, const std::string& message) {
  return provider_error(Provider::kOme, status, message);
}

Response ok(int status, const std::string& message, const Var& response) {
  ObjectPtr o = new Object;
  o->set("statusCode", status);
  o->set("message", message);
  o->set("response", response);
  return json_response(status, o);
}

ArrayPtr names(const ObjectPtr& o) {
  ArrayPtr out = new Array;
  if (o)
    for (const auto& [k, v] : *o) out->add(k);
  return out;
}

ObjectPtr track(int id, const std::string& type) {
  ObjectPtr t = new Object;
  t->set("id", id);
  t->set("type", type);
  ObjectPtr info = new Object;
  if (type == "Video") {
    info->set("codec", "H264");
    info->set("width", 1280);
    info->set("height", 720);
    info->set("framerate", 30.0);
    info->set("bitrate", "2500000");
  } else {
    info->set("codec", "AAC");
    info->set("samplerate", 48000);
    info->set("channel", 2);
    info->set("bitrate", "128000");
  }
  t->set(type == "Video" ? "video" : "audio", info);
  return t;
}

ObjectPtr make_stream(const std::string& name, const std::string& source_type, const std::string& from,
                      const Var& properties) {
  ObjectPtr s = new Object;
  s->set("name", name);
  ObjectPtr input = new Object;
  input->set("agent", source_type == "Pull" ? "OvenMediaEngine" : "OBS");
  input->set("from", from);
  input->set("sourceType", source_type);
  input->set("createdTime", iso8601(now_epoch_s()));
  ArrayPtr tracks = new Array;
  tracks->add(track(0, "Video"));
  tracks->add(track(1, "Audio"));
  input->set("tracks", tracks);
  s->set("input", input);
  ArrayPtr outputs = new Array;
  ObjectPtr out = new Object;
  out->set("name", name);
  out->set("tracks", tracks);
  outputs->add(out);
  s->set("outputs", outputs);
  if (!properties.isEmpty()) s->set("properties", properties);
  return s;
}

ObjectPtr stream_stats(const std::string& created) {
  ObjectPtr st = new Object;
  ObjectPtr conns = new Object;
  for (const char* k : {"file", "hlsv3", "llhls", "ovt", "push", "srt", "thumbnail", "webrtc"})
    conns->set(k, 0);
  conns->set("webrtc", 2);
  conns->set("llhls", 1);
  st->set("connections", conns);
  st->set("createdTime", created);
  st->set("lastUpdatedTime", iso8601(now_epoch_s()));
  st->set("lastRecvTime", iso8601(now_epoch_s()));
  st->set("lastSentTime", iso8601(now_epoch_s()));
  st->set("lastThroughputIn", 2628000);
  st->set("lastThroughputOut", 7884000);
  st->set("maxTotalConnections", 3);
  st->set("maxTotalConnectionTime", iso8601(now_epoch_s()));
  st->set("totalBytesIn", 32850000);
  st->set("totalBytesOut", 98550000);
  st->set("totalConnections", 3);
  return st;
}

// Sums stream stats into one object (app or vhost level).
ObjectPtr sum_stats(const std::vector<ObjectPtr>& parts, const std::string& created) {
  ObjectPtr total = stream_stats(created);
  for (const char* k : {"lastThroughputIn", "lastThroughputOut", "maxTotalConnections", "totalBytesIn",
                        "totalBytesOut", "totalConnections"})
    total->set(k, 0);
  auto conns = total->getObject("connections");
  for (const auto& [k, v] : *conns) conns->set(k, 0);
  for (const auto& p : parts) {
    for (const char* k : {"lastThroughputIn", "lastThroughputOut", "maxTotalConnections", "totalBytesIn",
                          "totalBytesOut", "totalConnections"})
      total->set(k, total->getValue<std::int64_t>(k) + p->getValue<std::int64_t>(k));
    for (const auto& [k, v] : *p->getObject("connections"))
      conns->set(k, conns->getValue<std::int64_t>(k) + v.convert<std::int64_t>());
  }
  return total;
}

ObjectPtr vhosts(State& st) { return st.ome->getObject("vhosts"); }

std::vector<ObjectPtr> app_stream_stats(const ObjectPtr& app) {
  std::vector<ObjectPtr> out;
  for (const auto& [name, v] : *app->getObject("streams")) {
    auto s = v.extract<ObjectPtr>();
    out.push_back(stream_stats(s->getObject("input")->getValue<std::string>("createdTime")));
  }
  return out;
}

Response stats(State& st, const std::vector<std::string>& s) {
  // v1 stats current vhosts {vh} [apps {app} [streams {s}]]
  const auto n = s.size();
  if (n < 5 || s[2] != "current" || s[3] != "vhosts") return err(404, "Could not find the resource");
  auto vh = vhosts(st)->getObject(s[4]);
  if (!vh) return err(404, "Could not find the virtual host: [" + s[4] + "]");
  const std::string created = st.ome->getValue<std::string>("startedTime");
  if (n == 5) {
    std::vector<ObjectPtr> all;
    for (const auto& [name, v] : *vh->getObject("apps")) {
      auto part = app_stream_stats(v.extract<ObjectPtr>());
      all.insert(all.end(), part.begin(), part.end());
    }
    return ok(200, "OK", sum_stats(all, created));
  }
  if (n < 7 || s[5] != "apps") return err(404, "Could not find the resource");
  auto app = vh->getObject("apps")->getObject(s[6]);
  if (!app) return err(404, "Could not find the application: [" + s[4] + "/" + s[6] + "]");
  if (n == 7) return ok(200, "OK", sum_stats(app_stream_stats(app), created));
  if (n != 9 || s[7] != "streams") return err(404, "Could not find the resource");
  auto stream = app->getObject("streams")->getObject(s[8]);
  if (!stream) return err(404, "Could not find the stream: [" + s[4] + "/" + s[6] + "/" + s[8] + "]");
  return ok(200, "OK", stream_stats(stream->getObject("input")->getValue<std::string>("createdTime")));
}

std::string str(const ObjectPtr& o, const std::string& k) {
  if (!o || !o->has(k) || !o->get(k).isString()) return {};
  return o->getValue<std::string>(k);
}

// Filters a push/record table by an optional {"id": …} body.
Response list_table(const ObjectPtr& table, const ObjectPtr& body) {
  ArrayPtr out = new Array;
  std::string id = str(body, "id");
  for (const auto& [k, v] : *table)
    if (id.empty() || k == id) out->add(v);
  if (!id.empty() && out->size() == 0) return err(404, "Could not find the id: " + id);
  return ok(200, "OK", out);
}

Response app_action(State& st, const ObjectPtr& app, const std::string& vh, const std::string& app_name,
                    const std::string& action, const Request& req, bool& mutated) {
  auto body = req.json_object();
  if (!body && !req.body.empty()) return err(400, "Could not parse json context");
  auto pushes = app->getObject("pushes");
  auto records = app->getObject("records");
  if (action == "pushes") return list_table(pushes, body);
  if (action == "records") return list_table(records, body);
  std::string id = str(body, "id");
  if (action == "stopPush" || action == "stopRecord") {
    auto table = action == "stopPush" ? pushes : records;
    if (id.empty()) return err(400, "id is required");
    if (!table->has(id)) return err(404, "Could not find the id: " + id);
    auto item = table->getObject(id);
    table->remove(id);
    item->set("state", "stopped");
    mutated = true;
    return ok(200, "OK", item);
  }
  if (action == "startPush" || action == "startRecord") {
    bool push = action == "startPush";
    if (id.empty()) return err(400, "id is required");
    ObjectPtr stream = body->getObject("stream");
    std::string sname = str(stream, "name");
    if (sname.empty()) return err(400, "stream.name is required");
    std::string protocol = str(body, "protocol");
    if (push) {
      if (protocol != "rtmp" && protocol != "srt" && protocol != "mpegts")
        return err(400, "protocol must be rtmp, srt or mpegts");
      if (str(body, "url").empty()) return err(400, "url is required");
    }
    auto table = push ? pushes : records;
    if (table->has(id)) return err(409, "Duplicate ID already exists");
    if (!app->getObject("streams")->has(sname))
      return err(404, "Could not find the stream: [" + vh + "/" + app_name + "/" + sname + "]");
    ObjectPtr item = clone_object(body);
    item->set("vhost", vh);
    item->set("app", app_name);
    item->set("state", push ? "pushing" : "recording");
    item->set("createdTime", iso8601(now_epoch_s()));
    item->set("startTime", iso8601(now_epoch_s()));
    item->set("sentBytes", 0);
    item->set("sentTime", 0);
    if (!push) {
      item->set("filePath", "/recordings/" + vh + "/" + app_name + "/" + sname + "_" + id + ".ts");
      item->set("infoPath", "/recordings/" + vh + "/" + app_name + "/" + sname + "_" + id + ".xml");
      item->set("sequence", 0);
    }
    table->set(id, item);
    mutated = true;
    return ok(200, "OK", item);
  }
  return err(404, "Unknown action: " + action);
}

}  // namespace

void seed_ome(State& st) {
  st.ome = new Object;
  st.ome->set("startedTime", iso8601(now_epoch_s()));
  ObjectPtr vhs = new Object;
  ObjectPtr vh = new Object;
  ObjectPtr apps = new Object;
  for (const char* name : {"app", "live"}) {
    ObjectPtr app = new Object;
    app->set("streams", ObjectPtr(new Object));
    app->set("pushes", ObjectPtr(new Object));
    app->set("records", ObjectPtr(new Object));
    apps->set(name, app);
  }
  apps->getObject("app")->getObject("streams")->set(
      "stream", make_stream("stream", "Rtmp", "tcp://192.0.2.10:51000", Var()));
  vh->set("apps", apps);
  vhs->set("default", vh);
  st.ome->set("vhosts", vhs);
}

Response handle_ome(State& st, const Request& req, bool& mutated) {
  std::string auth = req.header("authorization");
  if (auth != "Basic " + base64(kOmeAccessToken)) {
    st.counters["ome.unauthorized"]++;
    return err(401, "Unauthorized");
  }
  st.counters["ome.api"]++;
  const auto& s = req.segments;
  const auto n = s.size();
  if (n < 2 || s[0] != "v1") return err(404, "Could not find the resource");
  if (s[1] == "stats") return req.method == "GET" ? stats(st, s) : err(405, "Method not allowed");
  if (s[1] != "vhosts") return err(404, "Could not find the resource");
  if (n == 2 && req.method == "GET") return ok(200, "OK", names(vhosts(st)));
  auto vh = vhosts(st)->getObject(s[2]);
  if (!vh) return err(404, "Could not find the virtual host: [" + s[2] + "]");
  if (n == 3 && req.method == "GET") {
    ObjectPtr info = new Object;
    info->set("name", s[2]);
    ObjectPtr host = new Object;
    ArrayPtr hnames = new Array;
    hnames->add("*");
    host->set("names", hnames);
    info->set("host", host);
    return ok(200, "OK", info);
  }
  if (n < 4 || s[3] != "apps") return err(404, "Could not find the resource");
  auto apps = vh->getObject("apps");
  if (n == 4 && req.method == "GET") return ok(200, "OK", names(apps));
  std::string app_seg = s[4];
  std::string action;
  if (auto colon = app_seg.find(':'); colon != std::string::npos) {
    action = app_seg.substr(colon + 1);
    app_seg = app_seg.substr(0, colon);
  }
  auto app = apps->getObject(app_seg);
  if (!app) return err(404, "Could not find the application: [" + s[2] + "/" + app_seg + "]");
  if (!action.empty()) {
    if (n != 5 || req.method != "POST") return err(405, "Method not allowed");
    return app_action(st, app, s[2], app_seg, action, req, mutated);
  }
  if (n == 5 && req.method == "GET") {
    ObjectPtr info = new Object;
    info->set("name", app_seg);
    info->set("type", "live");
    info->set("dynamic", false);
    return ok(200, "OK", info);
  }
  if (n < 6 || s[5] != "streams") return err(404, "Could not find the resource");
  auto streams = app->getObject("streams");
  if (n == 6 && req.method == "GET") return ok(200, "OK", names(streams));
  if (n == 6 && req.method == "POST") {
    auto body = req.json_object();
    if (!body) return err(400, "Could not parse json context");
    std::string name = str(body, "name");
    auto urls = body->getArray("urls");
    if (name.empty()) return err(400, "name is required");
    if (!urls || urls->size() == 0) return err(400, "urls is required");
    if (streams->has(name))
      return err(409,
                 "Could not create the stream: [" + s[2] + "/" + app_seg + "/" + name + "] already exists");
    auto created = make_stream(name, "Pull", urls->getElement<std::string>(0), body->get("properties"));
    streams->set(name, created);
    mutated = true;
    return ok(201, "Created", created);
  }
  if (n == 7) {
    auto stream = streams->getObject(s[6]);
    if (!stream) return err(404, "Could not find the stream: [" + s[2] + "/" + app_seg + "/" + s[6] + "]");
    if (req.method == "GET") return ok(200, "OK", stream);
    if (req.method == "DELETE") {
      streams->remove(s[6]);
      mutated = true;
      return ok(200, "OK", Var());
    }
    return err(405, "Method not allowed");
  }
  return err(404, "Could not find the resource");
}

// POST /ovenstudio/v1/apis/aws/cf/signedUrl with a Bearer token; the stream name may be nested
// ({"stream":{"stream_name"}}) or flat ({"stream_name"}) since the docs show both.
Response handle_ovenstudio(State& st, const Request& req, bool& mutated) {
  const auto& s = req.segments;
  bool route =
      s.size() == 5 && s[0] == "v1" && s[1] == "apis" && s[2] == "aws" && s[3] == "cf" && s[4] == "signedUrl";
  if (!route) return provider_error(Provider::kOvenStudio, 404, "Not Found");
  if (req.method != "POST") return provider_error(Provider::kOvenStudio, 405, "Method Not Allowed");
  if (bearer_token(req) != kOvenStudioToken)
    return provider_error(Provider::kOvenStudio, 401, "Invalid REST API access token");
  st.counters["ovenstudio.api"]++;
  if (!st.ome->optValue<bool>("awsSignedUrlEnabled", true))
    return provider_error(Provider::kOvenStudio, 400,
                          "AWS Signed URL is not enabled. Enable it in Settings first.");
  auto body = req.json_object();
  if (!body) return provider_error(Provider::kOvenStudio, 400, "Invalid JSON body");
  std::string name = str(body->getObject("stream"), "stream_name");
  if (name.empty()) name = str(body, "stream_name");
  std::string less = str(body->getObject("policy"), "date_less_than");
  if (less.empty()) less = str(body, "date_less_than");
  if (name.empty() || name.find('/') != std::string::npos)
    return provider_error(Provider::kOvenStudio, 400, "Invalid value: stream_name");
  if (less.size() != 20 || less[4] != '-' || less[10] != 'T' || less[19] != 'Z' ||
      less > "2038-01-19T03:14:07Z")
    return provider_error(Provider::kOvenStudio, 400, "Invalid value: date_less_than");
  std::string url = "https://d111111abcdef8.cloudfront.net/app/" + url_encode(name) +
                    "/playlist.m3u8?Expires=" + less + "&Signature=sandbox-signature&Key-Pair-Id=KSANDBOX";
  ObjectPtr resp = new Object;
  resp->set("url", url);
  (void)mutated;
  return ok(200, "OK", resp);
}

// /_control/ome/...: vhosts/{vh}/apps/{app}/streams/{s}/publish|unpublish (an encoder connects
// or leaves); ovenstudio {"aws_signed_url_enabled": bool}.
Response control_ome(State& st, const Request& req) {
  const auto& s = req.segments;
  if (s.size() == 1 && s[0] == "ovenstudio") {
    auto body = req.json_object();
    st.ome->set("awsSignedUrlEnabled", body ? body->optValue<bool>("aws_signed_url_enabled", true) : true);
    return json_response(200, Var(ObjectPtr(new Object)));
  }
  if (s.size() == 7 && s[0] == "vhosts" && s[2] == "apps" && s[4] == "streams" &&
      (s[6] == "publish" || s[6] == "unpublish")) {
    auto vh = vhosts(st)->getObject(s[1]);
    auto app = vh ? vh->getObject("apps")->getObject(s[3]) : ObjectPtr();
    if (!app) return json_response(404, Var(std::string("no such vhost/app")));
    auto streams = app->getObject("streams");
    if (s[6] == "publish") {
      auto created = make_stream(s[5], "Rtmp", "tcp://192.0.2.20:52000", Var());
      streams->set(s[5], created);
      return json_response(200, created);
    }
    streams->remove(s[5]);
    return json_response(200, Var(ObjectPtr(new Object)));
  }
  return json_response(404, Var(std::string("unknown control endpoint")));
}

}  // namespace weft::sandbox
