#include "workflow/expression.hpp"

#include <gtest/gtest.h>

#include <string>

namespace weft::workflow::expr {
namespace {

Json context() {
  auto ctx = json::parse(R"({
    "inputs": {"name": "Ada", "count": 3, "on": true},
    "trigger": {"body": {"title": "Hello", "tags": ["a", "B"], "channel_id": 42, "empty": ""}},
    "steps": {"profile": {"output": {"user": {"id": 7, "name": "ada"}, "list": [10, 20]}, "status": "succeeded"}},
    "env": {"HOME": "/home/ada"}
  })");
  return *ctx;
}

std::string render(const std::string& text) {
  auto t = Template::parse(text);
  if (!t) return "PARSE: " + t.status().message();
  auto v = t->render(context());
  if (!v) return "EVAL: " + v.status().message();
  return json::stringify(*v);
}

TEST(Expression, WholeValueKeepsItsJsonType) {
  EXPECT_EQ(render("${{ trigger.body.channel_id }}"), "42");
  EXPECT_EQ(render("${{ inputs.on }}"), "true");
  EXPECT_EQ(render("${{ steps.profile.output.user }}"), R"({"id":7,"name":"ada"})");
  EXPECT_EQ(render("${{ trigger.body.tags }}"), R"(["a","B"])");
}

TEST(Expression, InterpolatesIntoStrings) {
  EXPECT_EQ(render("Live now: ${{ trigger.body.title }} (${{ inputs.count }})"), "\"Live now: Hello (3)\"");
  EXPECT_EQ(render("no expression"), R"("no expression")");
  EXPECT_EQ(render("x${{ trigger.nothing }}y"), R"("xy")");
}

TEST(Expression, PathsWithBracketsAndIndexes) {
  EXPECT_EQ(render("${{ steps['profile'].output.list[1] }}"), "20");
  EXPECT_EQ(render("${{ steps.profile.output['user']['name'] }}"), R"("ada")");
  EXPECT_EQ(render("${{ steps.profile.output.list[5] }}"), "null");
}

TEST(Expression, MissingPathsAreNullNotErrors) {
  EXPECT_EQ(render("${{ trigger.body.nope.deeper }}"), "null");
  EXPECT_EQ(render("${{ steps.ghost.output.x }}"), "null");
}

TEST(Expression, OperatorsFollowGithubRules) {
  EXPECT_EQ(render("${{ trigger.body.title != '' }}"), "true");
  EXPECT_EQ(render("${{ trigger.body.empty != '' }}"), "false");
  EXPECT_EQ(render("${{ trigger.body.title == 'HELLO' }}"), "true");  // case-insensitive
  EXPECT_EQ(render("${{ inputs.count >= 3 && inputs.count < 4 }}"), "true");
  EXPECT_EQ(render("${{ !inputs.on || false }}"), "false");
  EXPECT_EQ(render("${{ (1 == 2) || 'fallback' }}"), R"("fallback")");
  EXPECT_EQ(render("${{ '3' == 3 }}"), "true");
  EXPECT_EQ(render("${{ null == 0 }}"), "true");
  EXPECT_EQ(render("${{ 'it''s' }}"), R"("it's")");
  EXPECT_EQ(render("${{ -1.5 < 0 }}"), "true");
}

TEST(Expression, Functions) {
  EXPECT_EQ(render("${{ contains(trigger.body.title, 'ELL') }}"), "true");
  EXPECT_EQ(render("${{ contains(trigger.body.tags, 'b') }}"), "true");
  EXPECT_EQ(render("${{ startsWith(env.HOME, '/HOME') }}"), "true");
  EXPECT_EQ(render("${{ endsWith(env.HOME, 'ada') }}"), "true");
  EXPECT_EQ(render("${{ format('{0} has {1} {{items}}', inputs.name, inputs.count) }}"),
            R"("Ada has 3 {items}")");
  EXPECT_EQ(render("${{ fromJSON('{\"a\":[1,2]}').a[1] }}"), "2");
  EXPECT_EQ(render("${{ length(trigger.body.tags) }}"), "2");
  EXPECT_EQ(render("${{ fromJSON(toJSON(steps.profile.output.user)).name }}"), R"("ada")");
  EXPECT_EQ(render("${{ toJSON(inputs.count) }}"), R"("3")");
  EXPECT_EQ(render("${{ length('abcd') }}"), "4");
  EXPECT_EQ(render("${{ length(steps.profile.output.list) == 2 }}"), "true");
  EXPECT_EQ(render("${{ startsWith('Hello', 'he') && !endsWith('Hello', 'x') }}"), "true");
  EXPECT_EQ(render("${{ contains(steps.profile.output.list, 20) }}"), "true");
  EXPECT_EQ(render("${{ contains(steps.profile.output.list, 30) }}"), "false");
}

TEST(Expression, EveryComparisonOperator) {
  EXPECT_EQ(render("${{ 2 < 3 }}"), "true");
  EXPECT_EQ(render("${{ 3 < 3 }}"), "false");
  EXPECT_EQ(render("${{ 3 <= 3 }}"), "true");
  EXPECT_EQ(render("${{ 4 <= 3 }}"), "false");
  EXPECT_EQ(render("${{ 4 > 3 }}"), "true");
  EXPECT_EQ(render("${{ 3 > 3 }}"), "false");
  EXPECT_EQ(render("${{ 3 >= 3 }}"), "true");
  EXPECT_EQ(render("${{ 2 >= 3 }}"), "false");
  EXPECT_EQ(render("${{ 1 == 1 }}"), "true");
  EXPECT_EQ(render("${{ 1 != 1 }}"), "false");
  EXPECT_EQ(render("${{ !(1 == 1) }}"), "false");
  EXPECT_EQ(render("${{ true && 'x' }}"), R"("x")");  // && and || give an operand, not a boolean
  EXPECT_EQ(render("${{ '' || 0 }}"), "0");
  EXPECT_EQ(render("${{ inputs.count > 2 && inputs.name == 'ada' || false }}"), "true");
}

TEST(Expression, OnlyAWholeValueKeepsItsType) {
  EXPECT_EQ(render("${{ inputs.count }}"), "3");
  EXPECT_EQ(render("${{inputs.count}}"), "3");
  EXPECT_EQ(render(" ${{ inputs.count }}"), R"(" 3")");
  EXPECT_EQ(render("${{ inputs.count }}${{ inputs.count }}"), R"("33")");
  EXPECT_EQ(render("${{ steps.profile.output.nothing }}"), "null");
  EXPECT_EQ(render("n=${{ steps.profile.output.user }}"), R"("n={\"id\":7,\"name\":\"ada\"}")");
}

TEST(Expression, ParseErrorsNameThePosition) {
  EXPECT_EQ(render("title: ${{ trigger.body.title"),
            "PARSE: unbalanced '${{' at character 8: no closing '}}'");
  EXPECT_NE(render("${{ trigger.body. }}").find("expected a name after '.'"), std::string::npos);
  EXPECT_NE(render("${{ nope.x }}").find("unknown name 'nope'"), std::string::npos);
  EXPECT_NE(render("${{ shout('x') }}").find("unknown function 'shout'"), std::string::npos);
  EXPECT_NE(render("${{ \"x\" }}").find("single quotes"), std::string::npos);
  EXPECT_NE(render("${{ 'open }}").find("unbalanced"), std::string::npos);
  EXPECT_NE(render("${{ }}").find("empty expression"), std::string::npos);
  EXPECT_NE(render("${{ contains('a') }}").find("takes 2"), std::string::npos);
}

TEST(Expression, SyntaxErrorsNameTheCharacter) {
  // Characters count from 1 at the start of the whole value, so an editor's column is value column + n - 1.
  EXPECT_EQ(render("${{ inputs.count > }}"), "PARSE: unexpected 'end of expression' at character 20");
  EXPECT_EQ(render("ab ${{ 1 + 2 }}"), "PARSE: unexpected character '+' at character 10");
  EXPECT_EQ(render("${{ (1 == 2 }}"), "PARSE: expected ')' at character 13");
}

TEST(Expression, DeepNestingIsRefusedNotRecursedInto) {
  const std::string deep = "${{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  EXPECT_NE(render(deep).find("nested deeper than"), std::string::npos);
  const std::string nots = "${{ " + std::string(5000, '!') + "true }}";
  EXPECT_NE(render(nots).find("nested deeper than"), std::string::npos);
}

TEST(Expression, BadFromJsonIsAnEvaluationError) {
  EXPECT_NE(render("${{ fromJSON('{') }}").find("EVAL: fromJSON()"), std::string::npos);
}

TEST(Expression, ReportsWhatItReads) {
  auto t = Template::parse("${{ steps.a.output.x }} ${{ inputs['n'] }} ${{ env.HOME }}");
  ASSERT_TRUE(t.ok());
  auto refs = t->references();
  ASSERT_EQ(refs.size(), 3U);
  EXPECT_EQ(refs[0].root, "steps");
  EXPECT_EQ(refs[0].name, "a");
  EXPECT_EQ(refs[1].root, "inputs");
  EXPECT_EQ(refs[1].name, "n");
  EXPECT_EQ(refs[2].name, "HOME");
}

TEST(Expression, BareConditions) {
  auto t = Template::parse_bare("inputs.count > 2");
  ASSERT_TRUE(t.ok());
  auto v = t->render(context());
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(truthy(*v));
}

}  // namespace
}  // namespace weft::workflow::expr
