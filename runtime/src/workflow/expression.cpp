#include "workflow/expression.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <utility>

namespace weft::workflow::expr {

namespace {

enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject, kOther };

Kind kind_of(const Json& v) {
  if (v.isEmpty()) return Kind::kNull;
  if (v.type() == typeid(bool)) return Kind::kBool;
  if (v.isString()) return Kind::kString;
  if (json::is_array(v)) return Kind::kArray;
  if (json::is_object(v)) return Kind::kObject;
  if (v.isNumeric()) return Kind::kNumber;
  return Kind::kOther;
}

double to_number(const Json& v) {
  switch (kind_of(v)) {
    case Kind::kNull:
      return 0;
    case Kind::kBool:
      return v.extract<bool>() ? 1 : 0;
    case Kind::kNumber:
      return v.convert<double>();
    case Kind::kString: {
      const std::string s = v.extract<std::string>();
      std::size_t b = s.find_first_not_of(" \t\r\n");
      if (b == std::string::npos) return 0;
      std::size_t e = s.find_last_not_of(" \t\r\n");
      const std::string t = s.substr(b, e - b + 1);
      char* end = nullptr;
      const double d = std::strtod(t.c_str(), &end);
      if (end == nullptr || *end != '\0') return std::numeric_limits<double>::quiet_NaN();
      return d;
    }
    default:
      return std::numeric_limits<double>::quiet_NaN();
  }
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Json number_value(double d) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return static_cast<Poco::Int64>(d);
  return d;
}

bool loose_equal(const Json& a, const Json& b) {
  const Kind ka = kind_of(a);
  const Kind kb = kind_of(b);
  if (ka == Kind::kNull && kb == Kind::kNull) return true;
  if (ka == kb) {
    switch (ka) {
      case Kind::kString:
        return lower(a.extract<std::string>()) == lower(b.extract<std::string>());
      case Kind::kBool:
        return a.extract<bool>() == b.extract<bool>();
      case Kind::kArray:
        return json::as_array(a).get() == json::as_array(b).get();
      case Kind::kObject:
        return json::as_object(a).get() == json::as_object(b).get();
      default:
        break;
    }
  }
  if (ka == Kind::kArray || ka == Kind::kObject || kb == Kind::kArray || kb == Kind::kObject) return false;
  return to_number(a) == to_number(b);  // NaN compares unequal to everything
}

// -1, 0, 1, or 2 when unordered (NaN).
int compare(const Json& a, const Json& b) {
  if (kind_of(a) == Kind::kString && kind_of(b) == Kind::kString) {
    const std::string x = lower(a.extract<std::string>());
    const std::string y = lower(b.extract<std::string>());
    return x < y ? -1 : (x == y ? 0 : 1);
  }
  const double x = to_number(a);
  const double y = to_number(b);
  if (std::isnan(x) || std::isnan(y)) return 2;
  return x < y ? -1 : (x == y ? 0 : 1);
}

// ---- lexer ----

enum class Tok { kIdent, kNumber, kString, kOp, kLParen, kRParen, kLBracket, kRBracket, kDot, kComma, kEnd };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;
  Json value;
  std::size_t offset = 0;
};

Status syntax_error(std::size_t offset, const std::string& what) {
  return Status(Code::kInvalidArgument, what + " at character " + std::to_string(offset + 1));
}

Result<std::vector<Token>> lex(std::string_view s, std::size_t base) {
  std::vector<Token> out;
  std::size_t i = 0;
  auto is_ident_start = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; };
  auto is_ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; };
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    Token t;
    t.offset = base + i;
    if (is_ident_start(c)) {
      std::size_t j = i;
      while (j < s.size() && is_ident(s[j])) ++j;
      t.kind = Tok::kIdent;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '-' && i + 1 < s.size() &&
                (std::isdigit(static_cast<unsigned char>(s[i + 1])) || s[i + 1] == '.'))) {
      std::size_t j = i + 1;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '.' ||
                              ((s[j] == '+' || s[j] == '-') && (s[j - 1] == 'e' || s[j - 1] == 'E')))) {
        ++j;
      }
      const std::string text(s.substr(i, j - i));
      char* end = nullptr;
      const double d = (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
                           ? static_cast<double>(std::strtoll(text.c_str() + 2, &end, 16))
                           : std::strtod(text.c_str(), &end);
      if (end == nullptr || *end != '\0') return syntax_error(base + i, "bad number '" + text + "'");
      t.kind = Tok::kNumber;
      t.value = number_value(d);
      i = j;
    } else if (c == '\'') {
      std::string v;
      std::size_t j = i + 1;
      bool closed = false;
      while (j < s.size()) {
        if (s[j] == '\'') {
          if (j + 1 < s.size() && s[j + 1] == '\'') {
            v += '\'';
            j += 2;
            continue;
          }
          closed = true;
          ++j;
          break;
        }
        v += s[j++];
      }
      if (!closed)
        return syntax_error(base + i,
                            "unterminated string (strings use 'single quotes'; write '' for a quote)");
      t.kind = Tok::kString;
      t.value = v;
      i = j;
    } else {
      const std::string_view two = s.substr(i, 2);
      if (two == "==" || two == "!=" || two == "<=" || two == ">=" || two == "&&" || two == "||") {
        t.kind = Tok::kOp;
        t.text = std::string(two);
        i += 2;
      } else if (c == '<' || c == '>' || c == '!') {
        t.kind = Tok::kOp;
        t.text = std::string(1, c);
        ++i;
      } else if (c == '(') {
        t.kind = Tok::kLParen, ++i;
      } else if (c == ')') {
        t.kind = Tok::kRParen, ++i;
      } else if (c == '[') {
        t.kind = Tok::kLBracket, ++i;
      } else if (c == ']') {
        t.kind = Tok::kRBracket, ++i;
      } else if (c == '.') {
        t.kind = Tok::kDot, ++i;
      } else if (c == ',') {
        t.kind = Tok::kComma, ++i;
      } else if (c == '"') {
        return syntax_error(base + i, "double quotes are not strings in expressions; use 'single quotes'");
      } else {
        return syntax_error(base + i, std::string("unexpected character '") + c + "'");
      }
    }
    out.push_back(std::move(t));
  }
  Token end;
  end.kind = Tok::kEnd;
  end.offset = base + s.size();
  out.push_back(end);
  return out;
}

}  // namespace

// ---- tree ----

enum class NodeKind { kLiteral, kContext, kMember, kIndex, kCall, kNot, kBinary };

struct Node {
  NodeKind kind = NodeKind::kLiteral;
  Json value;        // literal
  std::string name;  // context root, member name, function name, operator
  std::vector<std::unique_ptr<Node>> children;
};

namespace {

using NodePtr = std::unique_ptr<Node>;

struct FunctionSpec {
  const char* name;
  std::size_t min_args;
  std::size_t max_args;
};
constexpr FunctionSpec kFunctions[] = {
    {"contains", 2, 2}, {"startsWith", 2, 2}, {"endsWith", 2, 2}, {"format", 1, 64},
    {"toJSON", 1, 1},   {"fromJSON", 1, 1},   {"length", 1, 1},
};
constexpr const char* kRoots[] = {"inputs", "trigger", "steps", "env"};

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  Result<NodePtr> parse_all() {
    auto n = parse_or(0);
    if (!n) return n;
    if (peek().kind != Tok::kEnd) return syntax_error(peek().offset, "unexpected '" + describe(peek()) + "'");
    return n;
  }

 private:
  const Token& peek() const { return t_[pos_]; }
  const Token& next() { return t_[pos_ < t_.size() - 1 ? pos_++ : pos_]; }
  bool is_op(const char* op) const { return peek().kind == Tok::kOp && peek().text == op; }
  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Tok::kEnd:
        return "end of expression";
      case Tok::kLParen:
        return "(";
      case Tok::kRParen:
        return ")";
      case Tok::kLBracket:
        return "[";
      case Tok::kRBracket:
        return "]";
      case Tok::kDot:
        return ".";
      case Tok::kComma:
        return ",";
      case Tok::kString:
        return "'" + t.value.extract<std::string>() + "'";
      case Tok::kNumber:
        return t.value.convert<std::string>();
      default:
        return t.text;
    }
  }
  Status too_deep() const {
    return syntax_error(peek().offset,
                        "expression nested deeper than " + std::to_string(kMaxExpressionDepth) + " levels");
  }
  static NodePtr binary(std::string op, NodePtr l, NodePtr r) {
    auto n = std::make_unique<Node>();
    n->kind = NodeKind::kBinary;
    n->name = std::move(op);
    n->children.push_back(std::move(l));
    n->children.push_back(std::move(r));
    return n;
  }

  template <class Sub>
  Result<NodePtr> left_assoc(std::size_t depth, std::initializer_list<const char*> ops, Sub sub) {
    auto l = sub(depth);
    if (!l) return l;
    NodePtr left = std::move(*l);
    while (true) {
      const char* matched = nullptr;
      for (const char* op : ops) {
        if (is_op(op)) matched = op;
      }
      if (matched == nullptr) return left;
      next();
      auto r = sub(depth);
      if (!r) return r;
      left = binary(matched, std::move(left), std::move(*r));
    }
  }

  Result<NodePtr> parse_or(std::size_t d) {
    if (d > kMaxExpressionDepth) return too_deep();
    return left_assoc(d, {"||"}, [this](std::size_t x) { return parse_and(x); });
  }
  Result<NodePtr> parse_and(std::size_t d) {
    return left_assoc(d, {"&&"}, [this](std::size_t x) { return parse_eq(x); });
  }
  Result<NodePtr> parse_eq(std::size_t d) {
    return left_assoc(d, {"==", "!="}, [this](std::size_t x) { return parse_rel(x); });
  }
  Result<NodePtr> parse_rel(std::size_t d) {
    return left_assoc(d, {"<", "<=", ">", ">="}, [this](std::size_t x) { return parse_unary(x); });
  }
  Result<NodePtr> parse_unary(std::size_t d) {
    if (d > kMaxExpressionDepth) return too_deep();
    if (is_op("!")) {
      next();
      auto x = parse_unary(d + 1);
      if (!x) return x;
      auto n = std::make_unique<Node>();
      n->kind = NodeKind::kNot;
      n->children.push_back(std::move(*x));
      return n;
    }
    return parse_postfix(d);
  }
  Result<NodePtr> parse_postfix(std::size_t d) {
    auto p = parse_primary(d);
    if (!p) return p;
    NodePtr cur = std::move(*p);
    while (true) {
      if (peek().kind == Tok::kDot) {
        next();
        const Token& name = next();
        if (name.kind != Tok::kIdent) return syntax_error(name.offset, "expected a name after '.'");
        auto n = std::make_unique<Node>();
        n->kind = NodeKind::kMember;
        n->name = name.text;
        n->children.push_back(std::move(cur));
        cur = std::move(n);
      } else if (peek().kind == Tok::kLBracket) {
        next();
        auto idx = parse_or(d + 1);
        if (!idx) return idx;
        if (peek().kind != Tok::kRBracket) return syntax_error(peek().offset, "expected ']'");
        next();
        auto n = std::make_unique<Node>();
        n->kind = NodeKind::kIndex;
        n->children.push_back(std::move(cur));
        n->children.push_back(std::move(*idx));
        cur = std::move(n);
      } else {
        return cur;
      }
    }
  }
  Result<NodePtr> parse_primary(std::size_t d) {
    const Token& t = next();
    auto n = std::make_unique<Node>();
    switch (t.kind) {
      case Tok::kNumber:
      case Tok::kString:
        n->value = t.value;
        return n;
      case Tok::kLParen: {
        auto inner = parse_or(d + 1);
        if (!inner) return inner;
        if (peek().kind != Tok::kRParen) return syntax_error(peek().offset, "expected ')'");
        next();
        return inner;
      }
      case Tok::kIdent: {
        if (t.text == "true" || t.text == "false") {
          n->value = (t.text == "true");
          return n;
        }
        if (t.text == "null") return n;
        if (peek().kind == Tok::kLParen) return parse_call(t, d);
        for (const char* r : kRoots) {
          if (t.text == r) {
            n->kind = NodeKind::kContext;
            n->name = t.text;
            return n;
          }
        }
        return syntax_error(t.offset, "unknown name '" + t.text + "' (use inputs, trigger, steps or env)");
      }
      default:
        return syntax_error(t.offset, "unexpected '" + describe(t) + "'");
    }
  }
  Result<NodePtr> parse_call(const Token& name, std::size_t d) {
    const FunctionSpec* spec = nullptr;
    for (const auto& f : kFunctions) {
      if (lower(f.name) == lower(name.text)) spec = &f;
    }
    if (spec == nullptr) {
      return syntax_error(name.offset,
                          "unknown function '" + name.text +
                              "' (known: contains, startsWith, endsWith, format, toJSON, fromJSON, length)");
    }
    next();  // (
    auto n = std::make_unique<Node>();
    n->kind = NodeKind::kCall;
    n->name = spec->name;
    if (peek().kind != Tok::kRParen) {
      while (true) {
        auto a = parse_or(d + 1);
        if (!a) return a;
        n->children.push_back(std::move(*a));
        if (peek().kind == Tok::kComma) {
          next();
          continue;
        }
        break;
      }
    }
    if (peek().kind != Tok::kRParen) return syntax_error(peek().offset, "expected ')' or ','");
    next();
    if (n->children.size() < spec->min_args || n->children.size() > spec->max_args) {
      return syntax_error(name.offset,
                          std::string(spec->name) + "() takes " + std::to_string(spec->min_args) +
                              (spec->max_args != spec->min_args ? " or more" : "") + " argument(s)");
    }
    return n;
  }

  std::vector<Token> t_;
  std::size_t pos_ = 0;
};

Result<Json> eval(const Node& n, const Json& ctx);

Result<Json> call(const Node& n, const Json& ctx) {
  std::vector<Json> args;
  args.reserve(n.children.size());
  for (const auto& c : n.children) {
    auto v = eval(*c, ctx);
    if (!v) return v;
    args.push_back(std::move(*v));
  }
  const std::string& f = n.name;
  if (f == "contains") {
    if (auto arr = json::as_array(args[0]); !arr.isNull()) {
      for (std::size_t i = 0; i < arr->size(); ++i) {
        if (loose_equal(arr->get(i), args[1])) return Json(true);
      }
      return Json(false);
    }
    return Json(lower(to_text(args[0])).find(lower(to_text(args[1]))) != std::string::npos);
  }
  if (f == "startsWith" || f == "endsWith") {
    const std::string s = lower(to_text(args[0]));
    const std::string p = lower(to_text(args[1]));
    if (p.size() > s.size()) return Json(false);
    return Json(f == "startsWith" ? s.compare(0, p.size(), p) == 0
                                  : s.compare(s.size() - p.size(), p.size(), p) == 0);
  }
  if (f == "format") {
    const std::string fmt = to_text(args[0]);
    std::string out;
    for (std::size_t i = 0; i < fmt.size(); ++i) {
      const char c = fmt[i];
      if ((c == '{' || c == '}') && i + 1 < fmt.size() && fmt[i + 1] == c) {
        out += c;
        ++i;
      } else if (c == '{') {
        const std::size_t close = fmt.find('}', i);
        const std::string num = close == std::string::npos ? "" : fmt.substr(i + 1, close - i - 1);
        if (num.empty() || num.size() > 3 || num.find_first_not_of("0123456789") != std::string::npos) {
          return Status(Code::kInvalidArgument,
                        "format(): bad placeholder in '" + fmt + "' (use {0}, {1} ...; {{ for a brace)");
        }
        const std::size_t k = std::stoul(num);
        if (k + 1 >= args.size()) {
          return Status(Code::kInvalidArgument, "format(): {" + num + "} has no argument");
        }
        out += to_text(args[k + 1]);
        i = close;
      } else {
        out += c;
      }
    }
    return Json(out);
  }
  if (f == "toJSON") return Json(json::pretty(args[0]));
  if (f == "fromJSON") {
    auto v = json::parse(to_text(args[0]));
    if (!v) return v.status().with_context("fromJSON()");
    return v;
  }
  if (f == "length") {
    if (auto arr = json::as_array(args[0]); !arr.isNull()) return Json(static_cast<Poco::Int64>(arr->size()));
    if (auto obj = json::as_object(args[0]); !obj.isNull())
      return Json(static_cast<Poco::Int64>(obj->size()));
    if (args[0].isEmpty()) return Json(static_cast<Poco::Int64>(0));
    return Json(static_cast<Poco::Int64>(to_text(args[0]).size()));
  }
  return Status(Code::kInternal, "unknown function " + f);
}

Json member(const Json& obj, const std::string& name) { return json::get(obj, name); }

Result<Json> eval(const Node& n, const Json& ctx) {
  switch (n.kind) {
    case NodeKind::kLiteral:
      return n.value;
    case NodeKind::kContext:
      return member(ctx, n.name);
    case NodeKind::kMember: {
      auto base = eval(*n.children[0], ctx);
      if (!base) return base;
      return member(*base, n.name);
    }
    case NodeKind::kIndex: {
      auto base = eval(*n.children[0], ctx);
      if (!base) return base;
      auto idx = eval(*n.children[1], ctx);
      if (!idx) return idx;
      if (auto arr = json::as_array(*base); !arr.isNull()) {
        const double d = to_number(*idx);
        if (kind_of(*idx) != Kind::kNumber || d < 0 || d != std::floor(d) ||
            d >= static_cast<double>(arr->size())) {
          return Json();
        }
        return arr->get(static_cast<unsigned>(d));
      }
      return member(*base, to_text(*idx));
    }
    case NodeKind::kCall:
      return call(n, ctx);
    case NodeKind::kNot: {
      auto v = eval(*n.children[0], ctx);
      if (!v) return v;
      return Json(!truthy(*v));
    }
    case NodeKind::kBinary: {
      auto l = eval(*n.children[0], ctx);
      if (!l) return l;
      // && and || short-circuit and return an operand, as in GitHub Actions.
      if (n.name == "&&") return truthy(*l) ? eval(*n.children[1], ctx) : l;
      if (n.name == "||") return truthy(*l) ? l : eval(*n.children[1], ctx);
      auto r = eval(*n.children[1], ctx);
      if (!r) return r;
      if (n.name == "==") return Json(loose_equal(*l, *r));
      if (n.name == "!=") return Json(!loose_equal(*l, *r));
      const int c = compare(*l, *r);
      if (c == 2) return Json(false);
      if (n.name == "<") return Json(c < 0);
      if (n.name == "<=") return Json(c <= 0);
      if (n.name == ">") return Json(c > 0);
      return Json(c >= 0);
    }
  }
  return Json();
}

void collect(const Node& n, std::vector<Reference>& out) {
  if (n.kind == NodeKind::kContext) {
    out.push_back({n.name, ""});
    return;
  }
  if ((n.kind == NodeKind::kMember || n.kind == NodeKind::kIndex) &&
      n.children[0]->kind == NodeKind::kContext) {
    std::string name = n.name;
    if (n.kind == NodeKind::kIndex) {
      name = n.children[1]->kind == NodeKind::kLiteral ? to_text(n.children[1]->value) : "";
      collect(*n.children[1], out);
    }
    out.push_back({n.children[0]->name, name});
    return;
  }
  for (const auto& c : n.children) collect(*c, out);
}

Result<NodePtr> parse_expression(std::string_view text, std::size_t base) {
  auto tokens = lex(text, base);
  if (!tokens) return tokens.status();
  if (tokens->size() == 1) return syntax_error(base, "empty expression");
  Parser p(std::move(*tokens));
  return p.parse_all();
}

}  // namespace

struct Template::Segment {
  std::string literal;  // used when expr is null
  NodePtr expr;
};

Template::Template() = default;
Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

Result<Template> Template::parse(std::string_view text) {
  Template t;
  std::size_t i = 0;
  std::string literal;
  while (i < text.size()) {
    const std::size_t open = text.find("${{", i);
    if (open == std::string_view::npos) {
      literal.append(text.substr(i));
      break;
    }
    literal.append(text.substr(i, open - i));
    // Find the closing braces, skipping quoted strings so '}}' inside a string literal is text.
    std::size_t j = open + 3;
    std::size_t close = std::string_view::npos;
    bool quoted = false;
    for (; j < text.size(); ++j) {
      if (text[j] == '\'') quoted = !quoted;
      if (!quoted && text.compare(j, 2, "}}") == 0) {
        close = j;
        break;
      }
    }
    if (close == std::string_view::npos) {
      return Status(Code::kInvalidArgument,
                    "unbalanced '${{' at character " + std::to_string(open + 1) + ": no closing '}}'");
    }
    auto node = parse_expression(text.substr(open + 3, close - open - 3), open + 3);
    if (!node) return node.status();
    if (!literal.empty()) {
      t.segments_.push_back(Segment{std::move(literal), nullptr});
      literal.clear();
    }
    t.segments_.push_back(Segment{"", std::move(*node)});
    i = close + 2;
  }
  if (!literal.empty()) t.segments_.push_back(Segment{std::move(literal), nullptr});
  return t;
}

Result<Template> Template::parse_bare(std::string_view text) {
  auto node = parse_expression(text, 0);
  if (!node) return node.status();
  Template t;
  t.segments_.push_back(Segment{"", std::move(*node)});
  return t;
}

bool Template::has_expressions() const {
  return std::any_of(segments_.begin(), segments_.end(), [](const Segment& s) { return s.expr != nullptr; });
}

bool Template::is_whole() const { return segments_.size() == 1 && segments_[0].expr != nullptr; }

Result<Json> Template::render(const Json& context) const {
  if (is_whole()) return eval(*segments_[0].expr, context);
  std::string out;
  for (const auto& s : segments_) {
    if (s.expr == nullptr) {
      out += s.literal;
      continue;
    }
    auto v = eval(*s.expr, context);
    if (!v) return v;
    out += to_text(*v);
  }
  return Json(out);
}

std::vector<Reference> Template::references() const {
  std::vector<Reference> out;
  for (const auto& s : segments_) {
    if (s.expr != nullptr) collect(*s.expr, out);
  }
  return out;
}

bool contains_expression(std::string_view text) { return text.find("${{") != std::string_view::npos; }

bool truthy(const Json& v) {
  switch (kind_of(v)) {
    case Kind::kNull:
      return false;
    case Kind::kBool:
      return v.extract<bool>();
    case Kind::kNumber: {
      const double d = v.convert<double>();
      return d != 0 && !std::isnan(d);
    }
    case Kind::kString:
      return !v.extract<std::string>().empty();
    default:
      return true;
  }
}

std::string to_text(const Json& v) {
  switch (kind_of(v)) {
    case Kind::kNull:
      return "";
    case Kind::kBool:
      return v.extract<bool>() ? "true" : "false";
    case Kind::kString:
      return v.extract<std::string>();
    case Kind::kNumber: {
      if (v.isInteger()) return v.convert<std::string>();
      const double d = v.convert<double>();
      if (std::isnan(d)) return "NaN";
      if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
      if (d == std::floor(d) && std::fabs(d) < 9.0e15) return std::to_string(static_cast<long long>(d));
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.15g", d);
      return buf;
    }
    case Kind::kArray:
    case Kind::kObject:
      return json::stringify(v);
    default:
      return v.convert<std::string>();
  }
}

}  // namespace weft::workflow::expr
