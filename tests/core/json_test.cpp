#include <gtest/gtest.h>

#include <Poco/JSON/Stringifier.h>

#include <functional>
#include <random>
#include <sstream>
#include <string>

#include "core/json.hpp"

namespace weft {
namespace {

TEST(Json, ParsesAndKeepsInsertionOrderWhenStringified) {
  auto doc = json::parse(R"({"b":1,"a":[true,null,"x"]})");
  ASSERT_TRUE(doc.ok()) << doc.status().to_string();
  EXPECT_EQ(json::get_string(json::object({{"k", std::string("v")}}), "k"), "v");
  Json o = json::object({{"z", 1}, {"a", 2}});
  EXPECT_EQ(json::stringify(o), R"({"z":1,"a":2})");
}

std::string poco_condense(const Json& v) {
  std::ostringstream out;
  Poco::JSON::Stringifier::condense(v, out);
  return out.str();
}

// json::stringify writes the common cases itself; whatever it writes must be exactly what Poco's
// Stringifier writes for the same value, including the cases it hands back to Poco.
TEST(Json, StringifyWritesExactlyWhatPocoWrites) {
  auto nested = json::new_object();
  nested->set("b", 1);
  nested->set("a", std::string("x"));
  auto arr = json::new_array();
  arr->add(Json());
  arr->add(true);
  arr->add(false);
  arr->add(-7);
  arr->add(Poco::Int64{-9223372036854775807LL - 1});
  arr->add(Poco::UInt64{18446744073709551615ULL});
  arr->add(0.5);
  arr->add(1e21);
  arr->add(1e-7);
  arr->add(-0.0);
  arr->add(3.14159265358979);
  arr->add(std::string("plain ascii / slash"));
  arr->add(std::string("quote \" backslash \\ newline \n tab \t ctl \x01 del \x7f"));
  arr->add(std::string("unicode \xc3\xa9 and a lone \xff byte"));
  arr->add(std::string());
  arr->add('c');
  arr->add(Json(nested));
  arr->add(Json(json::new_array()));
  arr->add(Json(json::new_object()));
  // Insertion order kept, in small objects and in ones big enough for the binary search.
  auto big = json::new_object();
  for (int i = 40; i > 0; --i) big->set("key" + std::to_string(i * 7 % 41), i);
  big->set("needs \"escaping\"", Json(arr));
  std::vector<Json> cases = {Json(),  Json(true),         Json(42),           Json(std::string("s")),
                             Json(nested), Json(arr),     Json(big),          json::object({{"z", 1}, {"a", 2}}),
                             Json(Poco::JSON::Object()),  Json(1.25)};
  // Parsed objects do not keep insertion order (they are sorted maps): the same holds for them.
  auto parsed = json::parse(R"({"z":[1,2.5,{"y":null,"b":"\u00e9"}],"a":{"k":"v","c":true},"m":-3})");
  ASSERT_TRUE(parsed.ok());
  cases.push_back(*parsed);
  // Objects inside objects, deeper than the writer keeps name lists inline, each with members
  // before and after the nested one (the outer lists must survive the inner objects' writing).
  Json deep = json::object({{"leaf", 0}});
  for (int level = 1; level <= 12; ++level) {
    deep = json::object({{"z" + std::to_string(level), level}, {"inner", deep}, {"a", std::string("after")}});
  }
  cases.push_back(deep);
  for (const auto& c : cases) EXPECT_EQ(json::stringify(c), poco_condense(c));
  EXPECT_EQ(json::stringify(json::object({{"z", 1}, {"a", 2}, {"m", 3}})), R"({"z":1,"a":2,"m":3})");

  // And for random documents: random keys and strings over all byte values, random nesting.
  std::mt19937 rng(12345);
  std::function<Json(int)> random_value = [&](int depth) -> Json {
    auto str = [&] {
      std::string s(rng() % 12, ' ');
      for (auto& ch : s) ch = static_cast<char>(rng() % 4 == 0 ? rng() % 256 : 'a' + rng() % 26);
      return s;
    };
    switch (depth > 3 ? rng() % 5 : rng() % 7) {
      case 0: return Json();
      case 1: return Json(rng() % 2 == 0);
      case 2: return Json(static_cast<int>(rng() % 2000000001u) - 1000000000);  // no overflow
      case 3: return Json(static_cast<double>(rng()) / 1000.0);
      case 4: return Json(str());
      case 5: {
        auto o = json::new_object();
        for (unsigned i = rng() % 12; i > 0; --i) o->set(str(), random_value(depth + 1));
        return Json(o);
      }
      default: {
        auto a = json::new_array();
        for (unsigned i = rng() % 6; i > 0; --i) a->add(random_value(depth + 1));
        return Json(a);
      }
    }
  };
  for (int i = 0; i < 500; ++i) {
    Json v = random_value(0);
    ASSERT_EQ(json::stringify(v), poco_condense(v)) << "case " << i;
  }
}

TEST(Json, RefusesTenThousandLevelsOfNestingWithoutCrashing) {
  std::string deep(10000, '[');
  deep += std::string(10000, ']');
  auto doc = json::parse(deep);
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), Code::kResourceExhausted);
}

TEST(Json, BracketsInsideStringsDoNotCountAsNesting) {
  std::string text = "{\"s\":\"" + std::string(2000, '[') + "\"}";
  EXPECT_TRUE(json::parse(text).ok());
}

TEST(Json, SyntaxErrorIsInvalidArgument) {
  auto doc = json::parse("{\"a\":");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace weft

#include "support/test_support.hpp"

namespace weft {
namespace {
TEST(TestSupport, LocalServerAnswersAndCountsAndWeftBinaryRuns) {
  test::LocalServer server([](Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp) {
    resp.setContentType("application/json");
    resp.send() << R"({"ok":true})";
  });
  EXPECT_GT(server.port(), 0);
  auto r = test::run_weft({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("weft"), std::string::npos);
  auto bad = test::run_weft({"nosuch"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown command"), std::string::npos);
}
}  // namespace
}  // namespace weft
