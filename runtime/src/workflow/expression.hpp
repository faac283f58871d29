// expression.hpp — `${{ … }}` expressions in workflow values (GitHub Actions style): paths into the
// run context, literals, comparisons, && || !, and a few functions. A value that is exactly one
// expression keeps the JSON type of its result; otherwise results are interpolated into the string.
//
//   auto t = expr::Template::parse("Live now: ${{ trigger.body.title }}");
//   if (!t) return t.status();                   // "unbalanced '${{' at character 10 ..."
//   Result<Json> v = t->render(context);         // context = {inputs, trigger, steps, env}
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"
#include "core/status.hpp"

namespace weft::workflow::expr {

inline constexpr std::size_t kMaxExpressionDepth = 64;  // nesting of parentheses, ! and calls

struct Node;  // the parsed expression tree (private)

// What an expression reads from the context: root is "inputs", "trigger", "steps" or "env"; name is
// the first member after it ("profile" in steps.profile.output) or empty when computed.
struct Reference {
  std::string root;
  std::string name;
};

// A parsed string value: literal text and expressions. Immutable after parse; render() is
// thread-safe. Move-only.
class Template {
 public:
  Template();
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // Parses a value that may hold `${{ … }}`. Fails with invalid_argument naming the character
  // position (1-based, in bytes from the start of text) and the problem: unbalanced braces, a syntax error,
  // an unknown name or function, or nesting past kMaxExpressionDepth.
  static Result<Template> parse(std::string_view text);
  // Parses a bare expression (an `if:` written without `${{ }}`).
  static Result<Template> parse_bare(std::string_view text);

  bool has_expressions() const;
  // Exactly one expression and no literal text around it.
  bool is_whole() const;
  // The value: the expression's own JSON value when whole, else the interpolated string. Paths
  // that do not exist give null. Fails only in functions (fromJSON of bad text).
  Result<Json> render(const Json& context) const;
  // Every context reference of every expression, in order.
  std::vector<Reference> references() const;

 private:
  struct Segment;
  std::vector<Segment> segments_;
};

// True when text contains "${{" (the value needs rendering).
bool contains_expression(std::string_view text);
// GitHub truthiness: false, 0, NaN, "", null are false; everything else is true.
bool truthy(const Json& v);
// The text used when a value is interpolated into a string: null -> "", objects -> JSON text.
std::string to_text(const Json& v);

}  // namespace weft::workflow::expr
