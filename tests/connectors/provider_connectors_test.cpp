// The restream, livepush and ovenmediaengine connectors as built .so files, loaded with dlopen,
// driven over real HTTP against the in-process provider sandbox: every action's happy path, the
// provider's error turned into an error quoting it with its HTTP status, and the polling triggers.
// Built twice: through the plugin Registry (WEFT_VIA_REGISTRY: the real loader, its schema checks,
// error mapping and Registry::poll for triggers) and through a bare dlopen host.
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <set>
#include <sstream>
#include <vector>

#include "connector_host.hpp"
#include "sandbox.hpp"

namespace weft::test {
namespace {

using ObjectPtr = Poco::JSON::Object::Ptr;
using ArrayPtr = Poco::JSON::Array::Ptr;

class ProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(box_.start(error)) << error;
  }

  // A raw HTTP call to the sandbox (OAuth dance and control endpoints).
  std::pair<int, std::string> http(const std::string& method, const std::string& path,
                                   const std::string& body = "",
                                   const std::string& content_type = "application/json",
                                   std::string* location = nullptr) {
    Poco::Net::HTTPClientSession s("127.0.0.1", box_.port());
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!body.empty() || method == "POST") {
      req.setContentType(content_type);
      req.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    s.sendRequest(req) << body;
    Poco::Net::HTTPResponse resp;
    std::string out;
    Poco::StreamCopier::copyToString(s.receiveResponse(resp), out);
    if (location != nullptr) *location = resp.get("Location", "");
    return {resp.getStatus(), out};
  }

  std::string code_from(const std::string& authorize_path) {
    std::string loc;
    EXPECT_EQ(http("GET", authorize_path, "", "", &loc).first, 302);
    for (const auto& [k, v] : Poco::URI(loc).getQueryParameters())
      if (k == "code") return v;
    return {};
  }

  std::string restream_token() {
    std::string code = code_from(
        "/restream/login?response_type=code&client_id=sandbox-client&redirect_uri=http://127.0.0.1:9/cb");
    auto [status, body] =
        http("POST", "/restream/oauth/token",
             "grant_type=authorization_code&client_id=sandbox-client&client_secret=sandbox-secret"
             "&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&code=" +
                 code,
             "application/x-www-form-urlencoded");
    EXPECT_EQ(status, 200) << body;
    return Poco::JSON::Parser().parse(body).extract<ObjectPtr>()->getValue<std::string>("access_token");
  }

  std::string livepush_token() {
    std::string code = code_from(
        "/livepush/id/oauth2/authorize?client_id=sandbox-client&response_type=code"
        "&redirect_uri=http://127.0.0.1:9/cb&scope=streams.read,streams.create");
    auto [status, body] = http("GET",
                               "/livepush/tokens/oauth2/access_token?grant_type=authorization_code"
                               "&client_id=sandbox-client&client_secret=sandbox-secret"
                               "&redirect_uri=http://127.0.0.1:9/cb&code=" +
                                   code);
    EXPECT_EQ(status, 200) << body;
    return Poco::JSON::Parser().parse(body).extract<ObjectPtr>()->getValue<std::string>("access_token");
  }

  // Every operation of `inputs`, with the sandbox answering 503 in the provider's error format,
  // fails with code unavailable and a message quoting the provider with the status.
  void expect_every_operation_quotes(ConnectorHost& host, const std::string& provider,
                                     const std::vector<std::pair<std::string, std::string>>& inputs) {
    ASSERT_EQ(http("POST", "/_control/faults", R"({"fail_rate":1})").first, 200);
    std::set<std::string> covered;
    for (const auto& [op, input] : inputs) {
      auto r = host.invoke(op, input);
      EXPECT_FALSE(r.ok) << op;
      EXPECT_EQ(r.code, "unavailable") << op << ": " << r.json;
      EXPECT_THAT(r.message, ::testing::HasSubstr(provider + " answered HTTP 503: Service Unavailable"))
          << op;
      covered.insert(op);
    }
    for (const char* kind : {"actions", "triggers"}) {
      if (!host.manifest->has(kind)) continue;
      for (const auto& [name, spec] : *host.manifest->getObject(kind))
        // sign_url is computed locally; ovenstudio_signed_url quotes OvenStudio (tested on its own).
        EXPECT_TRUE(covered.count(name) || name == "sign_url" || name == "ovenstudio_signed_url")
            << name << " has no error-path case";
    }
  }

  static void expect_ok(const Invocation& r, const std::string& what) {
    EXPECT_TRUE(r.ok) << what << ": " << r.json;
  }

  sandbox::Sandbox box_{sandbox::Options{}};
};

class RestreamTest : public ProviderTest {
 protected:
  void SetUp() override {
    ProviderTest::SetUp();
    host_.settings->set("api_base", box_.url("/restream"));
    host_.auth = {"Authorization", "Bearer " + restream_token()};
  }
  ConnectorHost host_{"restream"};
};

TEST_F(RestreamTest, EveryActionAnswersFromTheApi) {
  auto profile = host_.invoke("get_profile", "{}");
  expect_ok(profile, "get_profile");
  EXPECT_EQ(profile.object()->getValue<std::string>("username"), "sandbox");
  auto channels = host_.invoke("list_channels", "{}");
  expect_ok(channels, "list_channels");
  EXPECT_EQ(channels.object()->getArray("channels")->size(), 3u);
  auto channel = host_.invoke("get_channel", R"({"channel_id":101})");
  expect_ok(channel, "get_channel");
  EXPECT_TRUE(channel.object()->getValue<bool>("active"));
  auto disabled = host_.invoke("set_channel_enabled", R"({"channel_id":"101","enabled":false})");
  expect_ok(disabled, "set_channel_enabled");
  EXPECT_FALSE(host_.invoke("get_channel", R"({"channel_id":101})").object()->getValue<bool>("active"));
  expect_ok(
      host_.invoke("update_channel_title", R"({"channel_id":102,"title":"Live now","description":"d"})"),
      "update_channel_title");
  auto meta = host_.invoke("get_channel_meta", R"({"channel_id":102})");
  expect_ok(meta, "get_channel_meta");
  EXPECT_EQ(meta.object()->getValue<std::string>("title"), "Live now");
  EXPECT_EQ(host_.invoke("list_platforms", "{}").object()->getArray("platforms")->size(), 3u);
  EXPECT_EQ(host_.invoke("list_servers", "{}").object()->getArray("servers")->size(), 3u);
  EXPECT_FALSE(host_.invoke("get_stream_key", "{}").object()->getValue<std::string>("streamKey").empty());
  auto upcoming = host_.invoke("list_upcoming_events", R"({"source":1,"scheduled":true})");
  expect_ok(upcoming, "list_upcoming_events");
  EXPECT_EQ(upcoming.object()->getArray("events")->size(), 1u);
  EXPECT_EQ(host_.invoke("list_live_events", "{}").object()->getArray("events")->size(), 0u);
  auto history = host_.invoke("list_event_history", R"({"page":2,"limit":5})");
  expect_ok(history, "list_event_history");
  EXPECT_EQ(history.object()->getArray("items")->size(), 2u);
  EXPECT_EQ(history.object()->getObject("pagination")->getValue<int>("pages_total"), 2);
  std::string id = history.object()->getArray("items")->getObject(0)->getValue<std::string>("id");
  auto event = host_.invoke("get_event", R"({"event_id":")" + id + R"("})");
  expect_ok(event, "get_event");
  EXPECT_EQ(event.object()->getValue<std::string>("status"), "finished");
  expect_ok(host_.invoke("get_event_stream_key", R"({"event_id":")" + id + R"("})"), "get_event_stream_key");
}

TEST_F(RestreamTest, RetitleChannelsChangesOnlyTheEnabledOnes) {
  auto r = host_.invoke("update_channel_titles", R"({"title":"We are live"})");
  expect_ok(r, "update_channel_titles");
  EXPECT_EQ(r.object()->getValue<int>("count"), 2);
  ASSERT_EQ(r.object()->getArray("skipped")->size(), 1u);
  EXPECT_EQ(r.object()->getArray("skipped")->getElement<int>(0), 103);  // Facebook, disabled
  for (int id : {101, 102})
    EXPECT_EQ(host_.invoke("get_channel_meta", R"({"channel_id":)" + std::to_string(id) + "}")
                  .object()
                  ->getValue<std::string>("title"),
              "We are live");
  EXPECT_NE(
      host_.invoke("get_channel_meta", R"({"channel_id":103})").object()->getValue<std::string>("title"),
      "We are live");
  auto listed = host_.invoke("update_channel_titles", R"({"title":"Only one","channel_ids":[102]})");
  expect_ok(listed, "update_channel_titles listed");
  EXPECT_EQ(listed.object()->getValue<int>("count"), 1);
  host_.auth = {"Authorization", "Bearer revoked"};
  auto unauth = host_.invoke("update_channel_titles", R"({"title":"x"})");
  EXPECT_EQ(unauth.code, "unauthenticated");
  EXPECT_THAT(unauth.message, ::testing::HasSubstr("Invalid token"));
}

TEST_F(RestreamTest, IngestServerNamesTheKeysServerWithoutTheKey) {
  auto r = host_.invoke("get_ingest_server", "{}");
  expect_ok(r, "get_ingest_server");
  EXPECT_EQ(r.object()->getValue<std::string>("srt_host"), "live.restream.io");
  EXPECT_EQ(r.object()->getValue<int>("srt_port"), 2010);
  EXPECT_EQ(r.object()->getObject("server")->getValue<std::string>("url"), "live.restream.io");
  EXPECT_EQ(r.json.find("re_sandbox_1001_key"), std::string::npos) << "the key must not be in the output";
  auto london = host_.invoke("get_ingest_server", R"({"server_id":2})");
  expect_ok(london, "get_ingest_server server_id");
  EXPECT_EQ(london.object()->getObject("server")->getValue<std::string>("url"), "london.restream.io");
  auto missing = host_.invoke("get_ingest_server", R"({"server_id":99})");
  EXPECT_EQ(missing.code, "not_found");
  EXPECT_THAT(missing.message, ::testing::HasSubstr("no ingest server with id 99"));
  auto no_event = host_.invoke("get_ingest_server", R"({"event_id":"nope"})");
  EXPECT_EQ(no_event.code, "not_found");
}

TEST_F(RestreamTest, UpcomingEventsCanBeLimitedToTomorrow) {
  const long long now = static_cast<long long>(std::time(nullptr));
  const long long tomorrow_noon = (now / 86400 + 1) * 86400 + 12 * 3600;  // UTC
  ASSERT_EQ(http("POST", "/_control/restream/events",
                 R"({"title":"Tomorrow show","scheduledFor":)" + std::to_string(tomorrow_noon) + "}")
                .first,
            201);
  ASSERT_EQ(http("POST", "/_control/restream/events",
                 R"({"title":"Next week","scheduledFor":)" + std::to_string(tomorrow_noon + 6 * 86400) + "}")
                .first,
            201);
  auto r = host_.invoke("list_upcoming_events", R"({"day_offset":1})");
  expect_ok(r, "list_upcoming_events day_offset");
  ArrayPtr events = r.object()->getArray("events");
  const long long from = (now / 86400 + 1) * 86400;
  EXPECT_EQ(r.object()->getObject("window")->getValue<long long>("from"), from);
  std::vector<std::string> titles;
  for (std::size_t i = 0; i < events->size(); ++i) {
    titles.push_back(events->getObject(i)->getValue<std::string>("title"));
    long long at = events->getObject(i)->getValue<long long>("scheduledFor");
    EXPECT_TRUE(at >= from && at < from + 86400) << titles.back() << " is not tomorrow";
  }
  EXPECT_THAT(titles, ::testing::Contains("Tomorrow show"));
  EXPECT_THAT(titles, ::testing::Not(::testing::Contains("Next week")));
  auto all = host_.invoke("list_upcoming_events", "{}");
  EXPECT_GE(all.object()->getArray("events")->size(), 4u);
  auto empty = host_.invoke("list_upcoming_events", R"({"scheduled_after":10,"scheduled_before":5})");
  EXPECT_EQ(empty.code, "invalid_argument");
  EXPECT_THAT(empty.message, ::testing::HasSubstr("time window is empty"));
}

TEST_F(RestreamTest, EveryOperationQuotesRestreamsErrorBody) {
  expect_every_operation_quotes(host_, "Restream",
                                {{"get_profile", "{}"},
                                 {"list_channels", "{}"},
                                 {"get_channel", R"({"channel_id":101})"},
                                 {"set_channel_enabled", R"({"channel_id":101,"enabled":true})"},
                                 {"get_channel_meta", R"({"channel_id":101})"},
                                 {"update_channel_title", R"({"channel_id":101,"title":"t"})"},
                                 {"update_channel_titles", R"({"title":"t"})"},
                                 {"list_platforms", "{}"},
                                 {"list_servers", "{}"},
                                 {"get_stream_key", "{}"},
                                 {"get_ingest_server", "{}"},
                                 {"list_upcoming_events", "{}"},
                                 {"list_live_events", "{}"},
                                 {"list_event_history", R"({"page":1})"},
                                 {"get_event", R"({"event_id":"e"})"},
                                 {"get_event_stream_key", R"({"event_id":"e"})"},
                                 {"event_started", R"({"params":{},"cursor":null})"},
                                 {"event_finished", R"({"params":{},"cursor":null})"}});
}

TEST_F(RestreamTest, ProviderErrorsAreQuotedWithTheirStatus) {
  auto missing = host_.invoke("get_channel", R"({"channel_id":"999"})");
  EXPECT_FALSE(missing.ok);
  EXPECT_EQ(missing.code, "not_found");
  EXPECT_THAT(missing.message,
              ::testing::HasSubstr("Restream answered HTTP 404: Channel not found (NotFoundError)"));
  host_.auth = {"Authorization", "Bearer revoked"};
  auto unauth = host_.invoke("get_profile", "{}");
  EXPECT_EQ(unauth.code, "unauthenticated");
  EXPECT_THAT(unauth.message,
              ::testing::HasSubstr(
                  "Restream answered HTTP 401: Invalid token: access token is invalid (invalid_token)"));
}

TEST_F(RestreamTest, PathParametersAreEncoded) {
  auto r = host_.invoke("get_event", R"({"event_id":"../user/profile"})");
  EXPECT_FALSE(r.ok);  // not the profile: the id stays one segment
  EXPECT_NE(host_.requests.back().find("/v2/user/events/..%2Fuser%2Fprofile"), std::string::npos)
      << host_.requests.back();
}

TEST_F(RestreamTest, EventTriggersFireOnceEach) {
  auto created = http("POST", "/_control/restream/events", R"({"title":"Launch"})");
  std::string id =
      Poco::JSON::Parser().parse(created.second).extract<ObjectPtr>()->getValue<std::string>("id");
  auto poll = [&](const std::string& trigger, const std::string& cursor) {
    auto r = host_.invoke(trigger, R"({"params":{},"cursor":)" + cursor + "}");
    EXPECT_TRUE(r.ok) << r.json;
    return r.object();
  };
  auto first = poll("event_started", "null");
  EXPECT_EQ(first->getArray("items")->size(), 0u);
  ASSERT_EQ(http("POST", "/_control/restream/events/" + id + "/start").first, 200);
  std::ostringstream c1;
  Poco::JSON::Stringifier::condense(first->get("cursor"), c1);
  auto started = poll("event_started", c1.str());
  ASSERT_EQ(started->getArray("items")->size(), 1u);
  EXPECT_EQ(started->getArray("items")->getObject(0)->getValue<std::string>("id"), id);
  std::ostringstream c2;
  Poco::JSON::Stringifier::condense(started->get("cursor"), c2);
  EXPECT_EQ(poll("event_started", c2.str())->getArray("items")->size(), 0u);

  auto fin0 = poll("event_finished", "null");
  EXPECT_EQ(fin0->getArray("items")->size(), 0u);
  ASSERT_EQ(http("POST", "/_control/restream/events/" + id + "/finish").first, 200);
  std::ostringstream c3;
  Poco::JSON::Stringifier::condense(fin0->get("cursor"), c3);
  auto finished = poll("event_finished", c3.str());
  ASSERT_EQ(finished->getArray("items")->size(), 1u);
  EXPECT_EQ(finished->getArray("items")->getObject(0)->getValue<std::string>("status"), "finished");
}

// More than a history page (50) finishing between two polls: every one fires once, oldest first,
// and the pages are followed only back to the events seen before (not the whole history).
TEST_F(RestreamTest, EventFinishedFollowsHistoryPagesBetweenPolls) {
  auto poll = [&](const std::string& cursor) {
    auto r = host_.invoke("event_finished", R"({"params":{},"cursor":)" + cursor + "}");
    EXPECT_TRUE(r.ok) << r.json;
    return r.object();
  };
  auto cursor_of = [](const ObjectPtr& o) {
    std::ostringstream c;
    Poco::JSON::Stringifier::condense(o->get("cursor"), c);
    return c.str();
  };
  auto first = poll("null");
  ASSERT_EQ(first->getArray("items")->size(), 0u);

  auto added = http("POST", "/_control/restream/finished-events", R"({"count":130,"title":"Finale"})");
  ASSERT_EQ(added.first, 201) << added.second;
  auto ids = Poco::JSON::Parser().parse(added.second).extract<ObjectPtr>()->getArray("ids");
  ASSERT_EQ(ids->size(), 130u);
  const std::size_t history_calls_before = static_cast<std::size_t>(
      std::count_if(host_.requests.begin(), host_.requests.end(),
                    [](const std::string& r) { return r.find("/events/history") != std::string::npos; }));

  auto second = poll(cursor_of(first));
  auto items = second->getArray("items");
  ASSERT_EQ(items->size(), 130u);
  std::set<std::string> fired;
  for (const auto& v : *items) fired.insert(v.extract<ObjectPtr>()->getValue<std::string>("id"));
  EXPECT_EQ(fired.size(), 130u);  // each once
  for (const auto& id : *ids)
    EXPECT_TRUE(fired.count(id.convert<std::string>())) << id.convert<std::string>();
  const std::size_t history_calls =
      static_cast<std::size_t>(std::count_if(
          host_.requests.begin(), host_.requests.end(),
          [](const std::string& r) { return r.find("/events/history") != std::string::npos; })) -
      history_calls_before;
  EXPECT_EQ(history_calls, 3u);  // 130 new + 7 older ones: pages 1..3 of 50, page 3 reaches the older

  // Nothing new: nothing fires; one more finish fires once.
  auto third = poll(cursor_of(second));
  EXPECT_EQ(third->getArray("items")->size(), 0u) << third->getArray("items")->size();
  ASSERT_EQ(http("POST", "/_control/restream/finished-events", R"({"count":1,"title":"Encore"})").first, 201);
  auto fourth = poll(cursor_of(third));
  ASSERT_EQ(fourth->getArray("items")->size(), 1u);
  EXPECT_EQ(fourth->getArray("items")->getObject(0)->getValue<std::string>("title"), "Encore 1");
}

// The page walk is bounded: 20 pages of 50 at most, even when the history never reaches older
// events (here 1200 finished in the same second as the cursor's newest).
TEST_F(RestreamTest, EventFinishedPageWalkIsBounded) {
  ASSERT_EQ(http("POST", "/_control/restream/finished-events", R"({"count":1})").first, 201);
  auto first = host_.invoke("event_finished", R"({"params":{},"cursor":null})");
  ASSERT_TRUE(first.ok) << first.json;
  ASSERT_EQ(http("POST", "/_control/restream/finished-events", R"({"count":1200})").first, 201);
  std::ostringstream c;
  Poco::JSON::Stringifier::condense(first.object()->get("cursor"), c);
  const std::size_t before = host_.requests.size();
  auto second = host_.invoke("event_finished", R"({"params":{},"cursor":)" + c.str() + "}");
  ASSERT_TRUE(second.ok) << second.json;
  EXPECT_EQ(host_.requests.size() - before, 20u);
  // The 1000 newest of the history; the one seen before may be among them (same second).
  EXPECT_GE(second.object()->getArray("items")->size(), 999u);
  EXPECT_LE(second.object()->getArray("items")->size(), 1000u);
}

class LivepushTest : public ProviderTest {
 protected:
  void SetUp() override {
    ProviderTest::SetUp();
    host_.settings->set("api_base", box_.url("/livepush/octopus"));
    host_.settings->set("accounts_base", box_.url("/livepush/squid"));
    host_.auth = {"Authorization", "Bearer " + livepush_token()};
  }
  ConnectorHost host_{"livepush"};
};

TEST_F(LivepushTest, EveryActionAnswersFromTheApi) {
  auto account = host_.invoke("get_account", "{}");
  expect_ok(account, "get_account");
  EXPECT_EQ(account.object()->getValue<std::string>("id"), "us_sandbox");
  EXPECT_NE(host_.requests.back().find("/livepush/squid/account/this"), std::string::npos);
  auto created = host_.invoke("create_stream", R"({"name":"Show","category":"schedule"})");
  expect_ok(created, "create_stream");
  std::string id = created.object()->getValue<std::string>("id");
  EXPECT_EQ(host_.invoke("list_streams", "{}").object()->getArray("streams")->size(), 2u);
  auto got = host_.invoke("get_stream", R"({"stream_id":")" + id + R"("})");
  expect_ok(got, "get_stream");
  EXPECT_EQ(got.object()->getValue<std::string>("id"), id);  // the {data} wrapper is gone
  EXPECT_EQ(host_.invoke("list_destinations", "{}").object()->getArray("destinations")->size(), 2u);
  auto toggled =
      host_.invoke("set_destination_enabled",
                   R"({"stream_id":")" + id + R"(","destination_id":"pb_twitch1","enabled":true})");
  expect_ok(toggled, "set_destination_enabled");
  EXPECT_FALSE(toggled.object()->getObject("destination")->getValue<bool>("isDisabled"));
  EXPECT_EQ(host_.invoke("list_recordings", "{}").object()->getArray("recordings")->size(), 1u);
}

TEST_F(LivepushTest, EveryOperationQuotesLivepushsErrorBody) {
  expect_every_operation_quotes(
      host_, "Livepush",
      {{"get_account", "{}"},
       {"list_streams", "{}"},
       {"create_stream", R"({"name":"n"})"},
       {"get_stream", R"({"stream_id":"st_1"})"},
       {"list_destinations", "{}"},
       {"set_destination_enabled", R"({"stream_id":"st_1","destination_id":"pb_1","enabled":true})"},
       {"list_recordings", "{}"},
       {"stream_created", R"({"params":{},"cursor":null})"}});
}

TEST_F(LivepushTest, ProviderErrorsAreQuotedWithTheirStatus) {
  auto r = host_.invoke("get_stream", R"({"stream_id":"st_missing"})");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.code, "not_found");
  EXPECT_THAT(r.message, ::testing::HasSubstr("Livepush answered HTTP 404: Stream not found (Not Found)"));
}

TEST_F(LivepushTest, StreamCreatedFiresOncePerNewStream) {
  auto first = host_.invoke("stream_created", R"({"params":{},"cursor":null})");
  ASSERT_TRUE(first.ok) << first.json;
  EXPECT_EQ(first.object()->getArray("items")->size(), 0u);
  expect_ok(host_.invoke("create_stream", R"({"name":"New one"})"), "create_stream");
  std::ostringstream c;
  Poco::JSON::Stringifier::condense(first.object()->get("cursor"), c);
  auto second = host_.invoke("stream_created", R"({"params":{},"cursor":)" + c.str() + "}");
  ASSERT_EQ(second.object()->getArray("items")->size(), 1u);
  EXPECT_EQ(
      second.object()->getArray("items")->getObject(0)->getObject("metadata")->getValue<std::string>("name"),
      "New one");
}

class OmeTest : public ProviderTest {
 protected:
  void SetUp() override {
    ProviderTest::SetUp();
    host_.settings->set("api_base", box_.url("/ome"));
    host_.settings->set("ovenstudio_base", box_.url("/ovenstudio"));
    host_.settings->set("ovenstudio_token", "ovenstudio-token");
    host_.auth = {"Authorization", "Basic " + sandbox::base64("ome-access-token")};
  }
  ConnectorHost host_{"ovenmediaengine"};
};

TEST_F(OmeTest, EveryApiActionAnswersFromTheServer) {
  EXPECT_EQ(host_.invoke("list_vhosts", "{}").object()->getArray("vhosts")->getElement<std::string>(0),
            "default");
  EXPECT_EQ(host_.invoke("list_apps", R"({"vhost":"default"})").object()->getArray("apps")->size(), 2u);
  auto pulled =
      host_.invoke("create_pull_stream",
                   R"({"name":"cam","urls":["rtsp://192.0.2.1/cam"],"properties":{"persistent":true}})");
  expect_ok(pulled, "create_pull_stream");
  EXPECT_EQ(pulled.object()->getValue<std::string>("name"), "cam");
  EXPECT_EQ(host_.invoke("list_streams", "{}").object()->getArray("streams")->size(), 2u);
  EXPECT_EQ(host_.invoke("get_stream", R"({"stream":"cam"})")
                .object()
                ->getObject("input")
                ->getValue<std::string>("sourceType"),
            "Pull");
  auto push = host_.invoke(
      "start_push",
      R"({"id":"yt","stream_name":"stream","protocol":"rtmp","url":"rtmp://192.0.2.9/live","stream_key":"k"})");
  expect_ok(push, "start_push");
  EXPECT_EQ(push.object()->getValue<std::string>("state"), "pushing");
  EXPECT_EQ(host_.invoke("list_pushes", "{}").object()->getArray("pushes")->size(), 1u);
  expect_ok(host_.invoke("stop_push", R"({"id":"yt"})"), "stop_push");
  expect_ok(
      host_.invoke("start_record",
                   R"({"id":"r1","stream_name":"stream","interval":60000,"segmentation_rule":"continuity"})"),
      "start_record");
  EXPECT_EQ(host_.invoke("list_records", R"({"id":"r1"})").object()->getArray("records")->size(), 1u);
  expect_ok(host_.invoke("stop_record", R"({"id":"r1"})"), "stop_record");
  expect_ok(host_.invoke("get_stats", R"({"vhost":"default"})"), "get_stats vhost");
  expect_ok(host_.invoke("get_stats", R"({"app":"app"})"), "get_stats app");
  auto stats = host_.invoke("get_stats", R"({"app":"app","stream":"cam"})");
  expect_ok(stats, "get_stats stream");
  EXPECT_GT(stats.object()->getValue<std::int64_t>("totalBytesIn"), 0);
  auto deleted = host_.invoke("delete_stream", R"({"stream":"cam"})");
  expect_ok(deleted, "delete_stream");
  EXPECT_EQ(host_.invoke("list_streams", "{}").object()->getArray("streams")->size(), 1u);
}

TEST_F(OmeTest, ProviderErrorsAreQuotedWithTheirStatus) {
  const std::string push =
      R"({"id":"dup","stream_name":"stream","protocol":"srt","url":"srt://192.0.2.9:9000"})";
  expect_ok(host_.invoke("start_push", push), "start_push");
  auto dup = host_.invoke("start_push", push);
  EXPECT_EQ(dup.code, "already_exists");
  EXPECT_THAT(dup.message,
              ::testing::HasSubstr("OvenMediaEngine answered HTTP 409: Duplicate ID already exists"));
  host_.auth = {"Authorization", "Basic " + sandbox::base64("wrong")};
  EXPECT_THAT(host_.invoke("list_vhosts", "{}").message,
              ::testing::HasSubstr("OvenMediaEngine answered HTTP 401: Unauthorized"));
}

TEST_F(OmeTest, EveryOperationQuotesOvenMediaEnginesErrorBody) {
  ASSERT_EQ(http("POST", "/_control/faults", R"({"fail_rate":1})").first, 200);
  auto studio = host_.invoke("ovenstudio_signed_url", R"({"stream_name":"s","valid_for_seconds":60})");
  EXPECT_EQ(studio.code, "unavailable");
  EXPECT_THAT(studio.message, ::testing::HasSubstr("OvenStudio answered HTTP 503"));
  expect_every_operation_quotes(
      host_, "OvenMediaEngine",
      {{"list_vhosts", "{}"},
       {"list_apps", "{}"},
       {"list_streams", "{}"},
       {"get_stream", R"({"stream":"stream"})"},
       {"create_pull_stream", R"({"name":"p","urls":["rtsp://192.0.2.1/x"]})"},
       {"delete_stream", R"({"stream":"stream"})"},
       {"start_push", R"({"id":"p1","stream_name":"stream","protocol":"rtmp","url":"rtmp://192.0.2.1/app"})"},
       {"stop_push", R"({"id":"p1"})"},
       {"list_pushes", "{}"},
       {"start_record", R"({"id":"r1","stream_name":"stream"})"},
       {"stop_record", R"({"id":"r1"})"},
       {"list_records", "{}"},
       {"get_stats", "{}"},
       {"stream_started", R"({"params":{},"cursor":null})"}});
}

TEST_F(OmeTest, MissingApiBaseIsAClearSettingsError) {
  host_.settings->remove("api_base");
  auto r = host_.invoke("list_vhosts", "{}");
  EXPECT_EQ(r.code, "failed_precondition");
  EXPECT_NE(r.message.find("api_base"), std::string::npos);
}

TEST_F(OmeTest, SignUrlMatchesTheTestVectorWithTheSecretSetting) {
  host_.settings->set("signed_policy_secret", "1kU^b6");
  auto r =
      host_.invoke("sign_url", R"({"url":"ws://192.168.0.100:3333/app/stream","url_expire":1399721581})");
  expect_ok(r, "sign_url");
  EXPECT_EQ(r.object()->getValue<std::string>("signature"), "dvVdBpoxAeCPl94Kt5RoiqLI0YE");
  EXPECT_TRUE(host_.requests.empty());  // computed locally
  host_.settings->remove("signed_policy_secret");
  auto none = host_.invoke("sign_url", R"({"url":"ws://h:1/a/s","expires_in_seconds":60})");
  EXPECT_EQ(none.code, "failed_precondition");
  auto relative = host_.invoke("sign_url", R"({"url":"ws://h/a/s","expires_in_seconds":60,"secret":"k"})");
  expect_ok(relative, "sign_url relative");
  EXPECT_EQ(relative.object()->getValue<std::string>("url").rfind("ws://h:80/a/s?policy=", 0), 0u);
}

TEST_F(OmeTest, OvenStudioSignedUrlSendsItsOwnBearerToken) {
  auto r = host_.invoke("ovenstudio_signed_url",
                        R"({"stream_name":"stream","date_less_than":"2030-01-01T00:00:00Z"})");
  expect_ok(r, "ovenstudio_signed_url");
  EXPECT_EQ(r.object()->getValue<std::string>("url").rfind("https://", 0), 0u);
  EXPECT_NE(host_.requests.back().find(" noauth"), std::string::npos);
  EXPECT_EQ(host_.request_headers.back()["Authorization"], "Bearer ovenstudio-token");
  ASSERT_EQ(http("POST", "/_control/ome/ovenstudio", R"({"aws_signed_url_enabled":false})").first, 200);
  auto off = host_.invoke("ovenstudio_signed_url",
                          R"({"stream_name":"stream","date_less_than":"2030-01-01T00:00:00Z"})");
  EXPECT_EQ(off.code, "invalid_argument");
  EXPECT_NE(off.message.find("HTTP 400: AWS Signed URL is not enabled"), std::string::npos);
}

TEST_F(OmeTest, OvenStudioSignedUrlTakesAValidityWindow) {
  auto r = host_.invoke("ovenstudio_signed_url", R"({"stream_name":"stream","valid_for_seconds":3600})");
  expect_ok(r, "ovenstudio_signed_url valid_for_seconds");
  std::string until = r.object()->getValue<std::string>("date_less_than");
  EXPECT_EQ(until.size(), 20u);
  EXPECT_EQ(until.back(), 'Z');
  auto far =
      host_.invoke("ovenstudio_signed_url", R"({"stream_name":"stream","valid_for_seconds":9999999999})");
  expect_ok(far, "ovenstudio_signed_url clamped");
  EXPECT_EQ(far.object()->getValue<std::string>("date_less_than"), "2038-01-19T03:14:07Z");
  if (ConnectorHost::kViaRegistry) {  // the bare host treats a schema violation as a test bug
    auto neither = host_.invoke("ovenstudio_signed_url", R"({"stream_name":"stream"})");
    EXPECT_FALSE(neither.ok);
    EXPECT_EQ(neither.code, "invalid_argument");
  }
}

TEST_F(OmeTest, StreamStartedFiresWhenAnEncoderPublishes) {
  auto first = host_.invoke("stream_started", R"({"params":{"app":"live"},"cursor":null})");
  ASSERT_TRUE(first.ok) << first.json;
  EXPECT_EQ(first.object()->getArray("items")->size(), 0u);
  ASSERT_EQ(http("POST", "/_control/ome/vhosts/default/apps/live/streams/cam1/publish").first, 200);
  std::ostringstream c;
  Poco::JSON::Stringifier::condense(first.object()->get("cursor"), c);
  auto second = host_.invoke("stream_started", R"({"params":{"app":"live"},"cursor":)" + c.str() + "}");
  ASSERT_EQ(second.object()->getArray("items")->size(), 1u);
  EXPECT_EQ(second.object()->getArray("items")->getObject(0)->getValue<std::string>("name"), "cam1");
  std::ostringstream c2;
  Poco::JSON::Stringifier::condense(second.object()->get("cursor"), c2);
  EXPECT_EQ(host_.invoke("stream_started", R"({"params":{"app":"live"},"cursor":)" + c2.str() + "}")
                .object()
                ->getArray("items")
                ->size(),
            0u);
}

}  // namespace
}  // namespace weft::test
