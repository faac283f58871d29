#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fake_catalog.hpp"
#include "support/test_support.hpp"
#include "workflow/workflow.hpp"

namespace weft::workflow {
namespace {

std::string problems_of(const std::string& yaml) {
  test::FakeCatalog catalog;
  auto doc = load_yaml_text(yaml, "flow.yaml");
  if (!doc) return "LOAD: " + doc.status().message();
  std::string out;
  for (const auto& p : validate(*doc, catalog)) out += p.to_string() + "\n";
  return out;
}

TEST(Validate, CleanWorkflowHasNoProblems) {
  EXPECT_EQ(problems_of(R"(name: ok
on:
  webhook: {secret: s}
inputs:
  who: {type: string, default: world}
steps:
  - id: greet
    uses: demo.echo
    with:
      text: "hello ${{ inputs.who }}"
      count: 2
  - id: again
    uses: demo.echo
    if: ${{ steps.greet.output.echo != '' }}
    timeout: 30s
    with:
      text: ${{ steps.greet.output.echo }}
)"),
            "");
}

TEST(Validate, AcceptsEveryTriggerForm) {
  const std::string steps = "steps:\n  - id: a\n    uses: demo.echo\n    with: {text: x}\n";
  EXPECT_EQ(problems_of("name: a\non:\n  schedule: \"*/5 * * * *\"\n" + steps), "");
  EXPECT_EQ(problems_of("name: a\non:\n  schedule: {cron: \"0 9 * * 1\", timezone: Europe/Paris}\n" + steps),
            "");
  EXPECT_EQ(problems_of("name: a\non:\n  uses: demo.new_item\n  interval: 5m\n" + steps), "");
  EXPECT_NE(problems_of("name: a\non:\n  uses: demo.echo\n" + steps).find("is an action, not a trigger"),
            std::string::npos);
  EXPECT_NE(problems_of("name: a\non:\n  cron: x\n" + steps).find("flow.yaml:3:3: `on` is not a webhook"),
            std::string::npos);
}

TEST(Validate, ATriggersWithIsCheckedAgainstItsInputSchemaAndItsConnectionIsRequired) {
  const std::string steps = "steps:\n  - id: a\n    uses: demo.echo\n    with: {text: x}\n";
  EXPECT_EQ(problems_of("name: a\non:\n  uses: demo.new_post\n  connection: c\n  with: {include_existing: "
                        "true, limit: 5}\n" +
                        steps),
            "");
  const std::string bad = problems_of(
      "name: a\non:\n  uses: demo.new_post\n  connection: c\n  with:\n"
      "    include_existing: 3\n    limit: 0\n    nosuch: 1\n" +
      steps);
  EXPECT_NE(bad.find("flow.yaml:6:23: with/include_existing:"), std::string::npos) << bad;
  EXPECT_NE(bad.find("(demo.new_post input)"), std::string::npos) << bad;
  EXPECT_NE(bad.find("with/limit:"), std::string::npos) << bad;
  EXPECT_NE(bad.find("nosuch"), std::string::npos) << bad;
  EXPECT_NE(bad.find("`weft connectors describe demo` shows the inputs of demo.new_post"), std::string::npos)
      << bad;
  const std::string no_conn = problems_of("name: a\non:\n  uses: demo.new_post\n" + steps);
  EXPECT_NE(no_conn.find("flow.yaml:3:9: trigger demo.new_post needs a connection"), std::string::npos)
      << no_conn;
}

TEST(Validate, ReportsEveryProblemWithPositionAndHint) {
  const std::string out = problems_of(R"(name: bad
steps:
  - id: first
    uses: demo.echo
    with:
      text: ${{ steps.later.output.x }}
      count: zero
  - id: first
    uses: demo.nosuch
    colour: red
  - id: later
    uses: demo.private
    with:
      channel: "${{ inputs.chan"
)");
  EXPECT_NE(out.find("flow.yaml:6:13: steps.later is not run before step 'first' (hint:"), std::string::npos)
      << out;
  EXPECT_NE(out.find("flow.yaml:7:14: with/count:"), std::string::npos) << out;
  EXPECT_NE(out.find("flow.yaml:8:9: duplicate step id 'first' (hint: already used at line 3"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("flow.yaml:9:11: unknown action 'demo.nosuch'"), std::string::npos) << out;
  EXPECT_NE(out.find("flow.yaml:10:5: unknown key 'colour' in steps/1"), std::string::npos) << out;
  EXPECT_NE(out.find("flow.yaml:12:11: step 'later' uses demo.private, which needs a connection"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("flow.yaml:14:17: bad expression: unbalanced '${{'"), std::string::npos) << out;
}

TEST(Validate, RequiredKeysGivenByExpressionsAreNotReported) {
  EXPECT_EQ(problems_of("name: a\ninputs:\n  t: {type: string}\nsteps:\n  - id: a\n    uses: demo.echo\n"
                        "    with: {text: '${{ inputs.t }}'}\n"),
            "");
  EXPECT_NE(problems_of("name: a\nsteps:\n  - id: a\n    uses: demo.echo\n").find("text"), std::string::npos);
}

TEST(Validate, SchemaProblems) {
  EXPECT_NE(problems_of("name: a\nsteps: []\n").find("flow.yaml:2:8: steps:"), std::string::npos);
  EXPECT_NE(problems_of("steps:\n  - id: a\n    uses: demo.echo\n    with: {text: x}\n").find("name"),
            std::string::npos);
  const std::string bad_id =
      problems_of("name: a\nsteps:\n  - id: Bad_Id\n    uses: demo.echo\n    with: {text: x}\n");
  EXPECT_NE(
      bad_id.find("flow.yaml:3:9: steps/0/id: 'Bad_Id' is not in the expected form (hint: a step id starts"),
      std::string::npos)
      << bad_id;
  EXPECT_NE(
      problems_of("name: a\nsteps:\n  - id: a\n    uses: demo.echo\n    timeout: soon\n    with: {text: x}\n")
          .find("500ms, 30s"),
      std::string::npos);
  EXPECT_NE(problems_of("name: a\nextra: 1\nsteps:\n  - id: a\n    uses: demo.echo\n    with: {text: x}\n")
                .find("flow.yaml:2:1: unknown key 'extra' (hint: top-level keys are"),
            std::string::npos);
}

TEST(Validate, ExpressionErrorsPointAtTheCharacterInTheFile) {
  // Plain scalar: the column of the character the parser names ('}' of the unfinished comparison).
  const std::string plain = problems_of(
      "name: a\nsteps:\n  - id: a\n    uses: demo.echo\n    if: ${{ 1 == }}\n    with: {text: x}\n");
  EXPECT_NE(plain.find("flow.yaml:5:18: bad expression: unexpected 'end of expression' at character 10"),
            std::string::npos)
      << plain;
  // Quoted: one more for the quote.
  const std::string quoted =
      problems_of("name: a\nsteps:\n  - id: a\n    uses: demo.echo\n    with: {text: 'ab ${{ 1 + 2 }}'}\n");
  EXPECT_NE(quoted.find("flow.yaml:5:28: bad expression: unexpected character '+' at character 10"),
            std::string::npos)
      << quoted;
  // An escape before the error shifts the source from the value: the value's start is given instead.
  const std::string escaped = problems_of(
      "name: a\nsteps:\n  - id: a\n    uses: demo.echo\n    with: {text: \"a\\tb ${{ 1 + 2 }}\"}\n");
  EXPECT_NE(escaped.find("flow.yaml:5:18: bad expression: unexpected character '+'"), std::string::npos)
      << escaped;
}

TEST(Validate, UndeclaredInputIsReported) {
  EXPECT_NE(
      problems_of("name: a\nsteps:\n  - id: a\n    uses: demo.echo\n    with: {text: '${{ inputs.who }}'}\n")
          .find("no input 'who' is declared"),
      std::string::npos);
}

TEST(Validate, LoadFailsWithAllProblemsOnePerLine) {
  test::FakeCatalog catalog;
  test::TempDir dir;
  auto wf = load(dir.write("f.yaml", "name: a\nsteps:\n  - id: a\n    uses: x.y\n  - id: a\n    uses: x.z\n"),
                 catalog);
  ASSERT_FALSE(wf.ok());
  const std::string msg = wf.status().message();
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 2) << msg;
}

// Issue: "reports every problem with file:line:column and a hint". Every kind of schema rule
// (type, required, unknown key, enum, pattern, minLength, maxLength, minItems, min/maxProperties,
// propertyNames) and every other problem kind, each in a bad file: every problem has a position
// and a non-empty hint.
TEST(Validate, EveryProblemOfEveryKindHasAHint) {
  const std::string ok_step = "  - id: a\n    uses: demo.echo\n    with: {text: x}\n";
  const std::vector<std::string> bad_files = {
      // types
      "name: a\nsteps:\n  - id: a\n    uses: demo.echo\n    continue-on-error: maybe\n    with: {text: x}\n",
      "name: a\nresume: sometimes\nsteps:\n" + ok_step,
      "name: [x]\ndescription: {a: 1}\nsteps:\n" + ok_step,
      "name: a\nsteps:\n  - id: a\n    uses: demo.echo\n    if: [1]\n    name: {x: 1}\n    with: [1]\n",
      "name: a\nsteps:\n  - id: 7\n    uses: 8\n    connection: 9\n    timeout: 10\n",
      "name: a\ninputs: [x]\nsteps:\n" + ok_step,
      "name: a\ninputs:\n  who: 3\n  n: {type: string, required: yes please, description: [1]}\nsteps:\n" +
          ok_step,
      "name: a\nsteps: {a: 1}\n",
      "name: a\nsteps:\n  - just a string\n",
      // required
      "description: no name, no steps\n",
      "name: a\nsteps:\n  - name: no id or uses\n",
      "name: a\ninputs:\n  who: {default: x}\nsteps:\n" + ok_step,
      // unknown keys
      "name: a\ncolour: red\nsteps:\n" + ok_step,
      "name: a\nsteps:\n  - id: a\n    uses: demo.echo\n    retries: 3\n    with: {text: x}\n",
      "name: a\ninputs:\n  who: {type: string, secret: true}\nsteps:\n" + ok_step,
      // enum
      "name: a\ninputs:\n  who: {type: text}\nsteps:\n" + ok_step,
      // patterns
      "name: a\nsteps:\n  - id: Bad\n    uses: NoDot\n    timeout: soon\n    with: {text: x}\n",
      "name: a\non:\n  uses: demo.new_item\n  interval: often\n" + std::string("steps:\n") + ok_step,
      "name: a\ninputs:\n  9lives: {type: string}\nsteps:\n" + ok_step,
      // lengths and counts
      "name: ''\nsteps:\n  - id: a\n    uses: demo.echo\n    connection: ''\n    with: {text: x}\n",
      "name: " + std::string(201, 'n') + "\nsteps:\n" + ok_step,
      "name: a\nsteps:\n  - id: " + std::string(65, 'a') + "\n    uses: demo.echo\n    with: {text: x}\n",
      "name: a\nsteps: []\n",
      "name: a\non: {}\nsteps:\n" + ok_step,
      "name: a\non:\n  webhook: {}\n  schedule: x\nsteps:\n" + ok_step,
      "name: a\non:\n  webhook: {bogus: 1}\nsteps:\n" + ok_step,
      // everything else: triggers, actions, connections, ids, expressions, inputs of the action
      "name: a\non:\n  uses: demo.nosuch\nsteps:\n" + ok_step,
      "name: a\non:\n  uses: demo.echo\nsteps:\n" + ok_step,
      "name: a\nsteps:\n  - id: a\n    uses: demo.nosuch\n  - id: b\n    uses: demo.new_item\n",
      "name: a\nsteps:\n  - id: a\n    uses: demo.private\n  - id: a\n    uses: demo.echo\n    with: {text: "
      "x}\n",
      "name: a\nsteps:\n  - id: a\n    uses: demo.echo\n    if: ${{ 1 == }}\n    with:\n"
      "      text: ${{ steps.b.output.x }} ${{ inputs.nope }} ${{ steps.zz.output }}\n"
      "  - id: b\n    uses: demo.echo\n    with: {text: '${{ 1 + 2 }}', count: zero, extra: 1}\n",
      "name: a\nsteps:\n  - id: a\n    uses: demo.echo\n",
  };
  test::FakeCatalog catalog;
  std::size_t total = 0;
  for (const auto& text : bad_files) {
    auto doc = load_yaml_text(text, "flow.yaml");
    ASSERT_TRUE(doc.ok()) << doc.status().message() << "\n" << text;
    const auto problems = validate(*doc, catalog);
    EXPECT_FALSE(problems.empty()) << "no problem found in\n" << text;
    for (const auto& p : problems) {
      ++total;
      EXPECT_EQ(p.where.rfind("flow.yaml:", 0), 0u) << p.to_string();
      EXPECT_FALSE(p.hint.empty()) << "no hint for: " << p.to_string() << "\nin\n" << text;
    }
  }
  EXPECT_GE(total, bad_files.size());
}

// The hints say what the place expects, not only that something is wrong.
TEST(Validate, SchemaHintsNameWhatTheKeyExpects) {
  EXPECT_NE(problems_of("name: a\nsteps:\n  - id: a\n    uses: demo.echo\n    continue-on-error: maybe\n"
                        "    with: {text: x}\n")
                .find("(hint: `continue-on-error:` is true or false"),
            std::string::npos);
  EXPECT_NE(problems_of("name: a\ninputs:\n  who: {type: text}\nsteps:\n  - id: a\n    uses: demo.echo\n"
                        "    with: {text: x}\n")
                .find("(hint: an input's type is one of string, number"),
            std::string::npos);
  EXPECT_NE(problems_of("name: a\nsteps:\n  - name: x\n").find("(hint: every step needs `id:` and `uses:"),
            std::string::npos);
  EXPECT_NE(problems_of("description: x\n").find("(hint: a workflow needs `name:` and `steps:`"),
            std::string::npos);
  EXPECT_NE(problems_of("name: a\ninputs:\n  who: {type: string, secret: true}\nsteps:\n  - id: a\n"
                        "    uses: demo.echo\n    with: {text: x}\n")
                .find("(hint: input keys are type, default, required, description)"),
            std::string::npos);
  const std::string bad_input = problems_of(
      "name: a\ninputs:\n  9lives: {type: string}\nsteps:\n  - id: a\n"
      "    uses: demo.echo\n    with: {text: x}\n");
  EXPECT_NE(
      bad_input.find("flow.yaml:3:3: input name '9lives' is not in the expected form (hint: an input name "
                     "starts with a letter"),
      std::string::npos)
      << bad_input;
}

// Files the loader refuses: each error carries a hint too.
TEST(Validate, EveryLoadErrorHasAHint) {
  const std::vector<std::string> bad = {
      "",
      "- a\n- b\n",
      "just text\n",
      "name: a\nname: b\n",
      "name: a\nsteps:\n\t- id: a\n",
      "name: [unclosed\n",
      "a: &x [*x]\n",
      std::string("name: \xff\xfe\n"),
      "? [a, b]\n: c\n",
  };
  for (const auto& text : bad) {
    auto doc = load_yaml_text(text, "flow.yaml");
    if (doc.ok()) continue;  // accepted by the loader: the validator's problems are covered above
    EXPECT_NE(doc.status().message().find(" (hint: "), std::string::npos) << doc.status().message();
  }
}

TEST(Duration, ParsesUnitsAndRefusesGarbage) {
  EXPECT_EQ(parse_duration("500ms")->count(), 500);
  EXPECT_EQ(parse_duration("30s")->count(), 30000);
  EXPECT_EQ(parse_duration("2m")->count(), 120000);
  EXPECT_FALSE(parse_duration("0s"));
  EXPECT_FALSE(parse_duration("10"));
  EXPECT_FALSE(parse_duration("99999999999h"));
  EXPECT_FALSE(parse_duration("48h"));
}

}  // namespace
}  // namespace weft::workflow
