// restream.cpp — the Restream connector: profile, channels, titles, stream keys and events over
// the /v2 API, and polling triggers for events that start or finish. The host adds the OAuth2
// bearer token; URLs come from the `api_base` setting so a connection can point elsewhere.
#include "restream_api.hpp"

namespace {

// The generated manifest.inc is a string literal; cppcheck does not see it.
// cppcheck-suppress internalAstError
const char kManifest[] =
#include "manifest.inc"
    ;

using namespace weft::connectors;  // NOLINT(google-build-using-namespace): this file is the connector
using weft::sdk::Call;

class Restream : public weft::sdk::Connector {
 public:
  explicit Restream(std::string_view /*settings*/) {
    on("get_profile", [](Call& c, std::string_view) { return stringify(get(c, "/v2/user/profile")); });
    on("list_channels",
       [](Call& c, std::string_view) { return wrap("channels", get(c, "/v2/user/channel/all")); });
    on("get_channel", [](Call& c, std::string_view in) {
      return stringify(
          get(c, "/v2/user/channel/" + url_segment(get_string(parse_object(in, "input"), "channel_id"))));
    });
    on("set_channel_enabled", [](Call& c, std::string_view in) {
      ObjectPtr i = parse_object(in, "input");
      ObjectPtr body = new Object;
      body->set("active", i->getValue<bool>("enabled"));
      call(c, "PATCH", "/v2/user/channel/" + url_segment(get_string(i, "channel_id")), body);
      ObjectPtr out = new Object;
      out->set("channel_id", i->get("channel_id"));
      out->set("enabled", i->getValue<bool>("enabled"));
      return stringify(out);
    });
    on("get_channel_meta", [](Call& c, std::string_view in) {
      return stringify(get(
          c, "/v2/user/channel-meta/" + url_segment(get_string(parse_object(in, "input"), "channel_id"))));
    });
    on("update_channel_title", [](Call& c, std::string_view in) {
      ObjectPtr i = parse_object(in, "input");
      ObjectPtr body = new Object;
      body->set("title", get_string(i, "title"));
      std::string description = get_string(i, "description", false);
      if (i->has("description")) body->set("description", description);
      call(c, "PATCH", "/v2/user/channel-meta/" + url_segment(get_string(i, "channel_id")), body);
      ObjectPtr out = new Object;
      out->set("channel_id", i->get("channel_id"));
      out->set("title", get_string(i, "title"));
      if (i->has("description")) out->set("description", description);
      return stringify(out);
    });
    on("list_platforms",
       [](Call& c, std::string_view) { return wrap("platforms", get(c, "/v2/platform/all")); });
    on("list_servers", [](Call& c, std::string_view) { return wrap("servers", get(c, "/v2/server/all")); });
    on("get_stream_key", [](Call& c, std::string_view) { return stringify(get(c, "/v2/user/streamKey")); });
    on("update_channel_titles", [](Call& c, std::string_view in) { return update_channel_titles(c, in); });
    on("get_ingest_server", [](Call& c, std::string_view in) { return ingest_server(c, in); });
    on("list_upcoming_events", [](Call& c, std::string_view in) {
      ObjectPtr i = parse_object(in, "input");
      std::vector<std::pair<std::string, std::string>> q;
      if (i->has("source")) q.emplace_back("source", i->get("source").convert<std::string>());
      bool windowed = i->has("day_offset") || i->has("scheduled_after") || i->has("scheduled_before");
      // A time window only matches scheduled events, so ask Restream for those alone.
      if (i->has("scheduled") || windowed)
        q.emplace_back("scheduled", i->optValue<bool>("scheduled", true) ? "true" : "false");
      ArrayPtr events = list_of(get(c, "/v2/user/events/upcoming", q));
      ObjectPtr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      if (!windowed) {
        out->set("events", events);
        return stringify(out);
      }
      restream::Window w = restream::window_of(i, Poco::Timestamp().epochTime());
      out->set("events", restream::scheduled_within(events, w));
      ObjectPtr window = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      window->set("from", w.from);
      window->set("to", w.to);
      out->set("window", window);
      return stringify(out);
    });
    on("list_live_events",
       [](Call& c, std::string_view) { return wrap("events", get(c, "/v2/user/events/in-progress")); });
    on("list_event_history", [](Call& c, std::string_view in) {
      ObjectPtr i = parse_object(in, "input");
      return stringify(
          history_page(c, i->optValue<int>("page", 1), i->optValue<int>("limit", kDefaultLimit)));
    });
    on("get_event", [](Call& c, std::string_view in) {
      return stringify(
          get(c, "/v2/user/events/" + url_segment(get_string(parse_object(in, "input"), "event_id"))));
    });
    on("get_event_stream_key", [](Call& c, std::string_view in) {
      return stringify(get(c, "/v2/user/events/" +
                                  url_segment(get_string(parse_object(in, "input"), "event_id")) +
                                  "/streamKey"));
    });
    on("event_started", [](Call& c, std::string_view in) {
      auto [params, cursor] = trigger_input(in);
      return poll_output(poll_new(events_by_id(list_of(get(c, "/v2/user/events/in-progress"))), cursor,
                                  params->optValue<bool>("include_existing", false)));
    });
    on("event_finished", [](Call& c, std::string_view in) {
      auto [params, cursor] = trigger_input(in);
      // History is newest first. More than one page may have finished since the last poll: follow
      // the pages until one reaches events that finished before the newest one already seen (the
      // cursor's finished_at), the last page, or kTriggerMaxPages. The first poll (no cursor)
      // reads one page: it only records what exists.
      ObjectPtr prev = as_object(cursor);
      const bool have_mark = prev && prev->has("finished_at");
      const long long mark = have_mark ? epoch_of(prev->get("finished_at")) : 0;
      std::vector<std::pair<std::string, Var>> ids;
      long long newest = mark;
      for (int page = 1; page <= kTriggerMaxPages; ++page) {
        Var reply = history_page(c, page, kTriggerPageSize);
        ArrayPtr items = list_of(reply);
        bool reached_older = false;
        for (const auto& v : *items) {
          const ObjectPtr e = as_object(v);
          const long long at = e ? epoch_of(e->get("finishedAt")) : -1;
          if (at >= 0 && at > newest) newest = at;
          if (at >= 0 && at < mark) reached_older = true;
        }
        auto page_ids = events_by_id(items);
        ids.insert(ids.end(), page_ids.begin(), page_ids.end());
        if (!have_mark || reached_older || items->size() < static_cast<std::size_t>(kTriggerPageSize)) break;
        ObjectPtr pagination = as_object(as_object(reply) ? as_object(reply)->get("pagination") : Var());
        if (pagination && pagination->optValue<int>("pages_total", page + 1) <= page) break;
      }
      // Emit oldest first so runs follow the order events finished.
      std::reverse(ids.begin(), ids.end());
      PollResult r = poll_new(ids, cursor, params->optValue<bool>("include_existing", false));
      r.cursor->set("finished_at", newest);
      return poll_output(r);
    });
  }

 private:
  static constexpr int kDefaultLimit = 10;
  static constexpr int kTriggerPageSize = 50;
  static constexpr int kTriggerMaxPages = 20;  // 1000 events finished between two polls

  // An epoch-seconds time (a number or a numeric string); -1 when it is neither.
  static long long epoch_of(const Var& v) {
    try {
      if (v.isEmpty()) return -1;
      if (v.isNumeric()) return v.convert<long long>();
      const std::string s = v.convert<std::string>();
      if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return -1;
      return std::stoll(s);
    } catch (...) {
      return -1;
    }
  }

  static Var call(Call& c, const std::string& method, const std::string& path, const Var& body = Var(),
                  const std::vector<std::pair<std::string, std::string>>& query = {}) {
    HttpRequest r;
    r.method = method;
    r.url = base_url(settings(c), "api_base") + path;
    r.query = query;
    if (!body.isEmpty()) {
      r.json = body;
      r.has_json = true;
    }
    HttpReply reply = send(c, r);
    check(reply, "Restream", restream::error_message);
    return json_body(reply, "Restream");
  }
  static Var get(Call& c, const std::string& path,
                 const std::vector<std::pair<std::string, std::string>>& q = {}) {
    return call(c, "GET", path, Var(), q);
  }
  static std::string wrap(const std::string& key, const Var& list) {
    ObjectPtr o = new Object;
    o->set(key, list_of(list));
    return stringify(o);
  }
  static Var history_page(Call& c, int page, int limit) {
    return get(c, "/v2/user/events/history",
               {{"page", std::to_string(page)}, {"limit", std::to_string(limit)}});
  }
  // Retitles every channel that is enabled (or every one, or the listed ones). Stops at the first
  // refusal, naming how many were already retitled, since Restream has no batch call to undo.
  static std::string update_channel_titles(Call& c, std::string_view input) {
    ObjectPtr i = parse_object(input, "input");
    std::string title = get_string(i, "title");
    bool only_enabled = i->optValue<bool>("only_enabled", true);
    std::set<std::string> wanted;
    if (ArrayPtr ids = as_array(i->get("channel_ids")))
      for (const auto& v : *ids) wanted.insert(v.convert<std::string>());
    ArrayPtr channels = list_of(get(c, "/v2/user/channel/all"));
    ArrayPtr updated = new Array;
    ArrayPtr skipped = new Array;
    for (const auto& v : *channels) {
      ObjectPtr ch = as_object(v);
      if (!ch || !ch->has("id")) continue;
      std::string id = ch->get("id").convert<std::string>();
      bool enabled = ch->optValue<bool>("enabled", ch->optValue<bool>("active", false));
      if ((only_enabled && !enabled) || (!wanted.empty() && !wanted.count(id))) {
        skipped->add(ch->get("id"));
        continue;
      }
      ObjectPtr body = new Object;
      body->set("title", title);
      if (i->has("description")) body->set("description", get_string(i, "description", false));
      try {
        call(c, "PATCH", "/v2/user/channel-meta/" + url_segment(id), body);
      } catch (const weft::sdk::Error& e) {
        throw weft::sdk::Error(e.code(),
                               std::string(e.what()) + " (channel " + id + "; " +
                                   std::to_string(updated->size()) + " channel(s) were already retitled)",
                               e.retry_after_ms());
      }
      ObjectPtr done = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      done->set("channel_id", ch->get("id"));
      if (ch->has("displayName")) done->set("displayName", ch->get("displayName"));
      if (ch->has("streamingPlatformId")) done->set("streamingPlatformId", ch->get("streamingPlatformId"));
      done->set("title", title);
      updated->add(done);
    }
    ObjectPtr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("updated", updated);
    out->set("skipped", skipped);
    out->set("count", static_cast<int>(updated->size()));
    return stringify(out);
  }

  // The server a stream key is used with, never the key itself (so it can be logged): the SRT
  // host of the account's (or an event's) key and the RTMP ingest server.
  static std::string ingest_server(Call& c, std::string_view input) {
    ObjectPtr i = parse_object(input, "input");
    std::string event_id = get_string(i, "event_id", false);
    ObjectPtr key =
        as_object(get(c, event_id.empty() ? std::string("/v2/user/streamKey")
                                          : "/v2/user/events/" + url_segment(event_id) + "/streamKey"));
    restream::HostPort srt =
        restream::host_port(key ? key->optValue<std::string>("srtUrl", "") : std::string());
    ArrayPtr servers = list_of(get(c, "/v2/server/all"));
    ObjectPtr chosen;
    std::string server_id = get_string(i, "server_id", false);
    for (const auto& v : *servers) {
      ObjectPtr s = as_object(v);
      if (!s) continue;
      std::string id = s->has("id") ? s->get("id").convert<std::string>() : std::string();
      if (!server_id.empty() ? id == server_id : s->optValue<std::string>("url", "") == srt.host) {
        chosen = s;
        break;
      }
    }
    if (!chosen && !server_id.empty())
      throw weft::sdk::Error(
          "not_found", "Restream has no ingest server with id " + server_id + " (see restream.list_servers)");
    if (!chosen && servers->size() > 0) chosen = as_object(servers->get(0));
    ObjectPtr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    out->set("event_id", event_id.empty() ? Var() : Var(event_id));
    out->set("srt_host", srt.host.empty() ? Var() : Var(srt.host));
    out->set("srt_port", srt.port > 0 ? Var(srt.port) : Var());
    out->set("rtmp_url", chosen && chosen->has("rtmpUrl") ? chosen->get("rtmpUrl") : Var());
    out->set("server", chosen ? Var(chosen) : Var());
    return stringify(out);
  }

  static std::vector<std::pair<std::string, Var>> events_by_id(const ArrayPtr& events) {
    std::vector<std::pair<std::string, Var>> out;
    for (const auto& v : *events) {
      ObjectPtr e = as_object(v);
      if (e && e->has("id")) out.emplace_back(e->get("id").convert<std::string>(), v);
    }
    return out;
  }
};

}  // namespace

WEFT_CONNECTOR(Restream, kManifest)
