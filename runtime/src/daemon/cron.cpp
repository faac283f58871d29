// cron.cpp — cron fields as bitsets; the next fire time is found by walking local days (at most
// 8 years) and, within a matching day, the selected hours and minutes, each local time mapped back
// to UTC through the zone's offsets.
#include "daemon/cron.hpp"

#include <Poco/NumberParser.h>
#include <Poco/String.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>

namespace weft::daemon {
namespace {

constexpr std::int64_t kDay = 86400;
constexpr int kSearchDays = 366 * 8 + 2;

std::int64_t read_be(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  if (bytes == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
  return static_cast<std::int64_t>(v);
}

bool valid_zone_name(const std::string& n) {
  if (n.empty() || n.size() > 128 || n.front() == '/' || n.back() == '/') return false;
  if (n.find("..") != std::string::npos || n.find("//") != std::string::npos) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' || c == '+'))
      return false;
  return true;
}

struct FieldSpec {
  const char* name;
  int min;
  int max;
  const char* const* names;  // names[i] is value min+i, or null
};

const char* const kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",  "JUL",
                                   "AUG", "SEP", "OCT", "NOV", "DEC", nullptr};
const char* const kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", nullptr};

Status field_error(int index, const FieldSpec& f, const std::string& msg) {
  return {Code::kInvalidArgument, "cron field " + std::to_string(index) + " (" + f.name + "): " + msg};
}

Result<int> value_of(const std::string& s, int index, const FieldSpec& f) {
  if (f.names) {
    std::string up = Poco::toUpper(s);
    for (int i = 0; f.names[i]; ++i)
      if (up == f.names[i]) return f.min + i;
  }
  int v = 0;
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 4 ||
      !Poco::NumberParser::tryParse(s, v))
    return field_error(index, f, "'" + s + "' is not a number" + (f.names ? " or a name" : std::string()));
  if (v < f.min || v > f.max)
    return field_error(index, f,
                       s + " is out of range " + std::to_string(f.min) + "-" + std::to_string(f.max));
  return v;
}

// Sets bits [min, max] of a field from its text; values are offsets from 0 (not from f.min).
Status parse_field(const std::string& text, int index, const FieldSpec& f, std::vector<bool>& bits) {
  bits.assign(static_cast<std::size_t>(f.max + 1), false);
  if (text.empty()) return field_error(index, f, "empty");
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty()) return field_error(index, f, "empty list item in '" + text + "'");
    int step = 1;
    std::size_t slash = item.find('/');
    std::string range = item.substr(0, slash);
    if (slash != std::string::npos) {
      std::string st = item.substr(slash + 1);
      if (st.empty() || st.find_first_not_of("0123456789") != std::string::npos || st.size() > 4 ||
          !Poco::NumberParser::tryParse(st, step) || step < 1 || step > f.max)
        return field_error(index, f, "bad step '" + st + "' in '" + item + "'");
    }
    int lo = f.min, hi = f.max;
    if (range != "*") {
      std::size_t dash = range.find('-');
      auto a = value_of(range.substr(0, dash), index, f);
      if (!a) return a.status();
      lo = *a;
      hi = slash != std::string::npos && dash == std::string::npos ? f.max : lo;  // "5/15" = 5-max/15
      if (dash != std::string::npos) {
        auto b = value_of(range.substr(dash + 1), index, f);
        if (!b) return b.status();
        hi = *b;
        if (hi < lo) return field_error(index, f, "range '" + range + "' runs backwards");
      }
    }
    for (int v = lo; v <= hi; v += step) bits[static_cast<std::size_t>(v)] = true;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return Status::Ok();
}

}  // namespace

TimeZone TimeZone::utc() {
  TimeZone z;
  z.name_ = "UTC";
  return z;
}

Result<TimeZone> TimeZone::load(const std::string& name) {
  if (name == "UTC" || name == "Etc/UTC" || name == "Z") return utc();
  if (!valid_zone_name(name))
    return Status(Code::kInvalidArgument,
                  "bad time zone name '" + name + "': use an IANA name such as Europe/Paris");
  const char* env = std::getenv("TZDIR");
  const std::string dir = env && *env ? env : "/usr/share/zoneinfo";
  std::ifstream in(dir + "/" + name, std::ios::binary);
  if (!in) return Status(Code::kNotFound, "unknown time zone '" + name + "' (not in " + dir + ")");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto corrupt = [&] {
    return Status(Code::kDataLoss, "time zone file " + dir + "/" + name + " is not valid TZif");
  };
  constexpr std::size_t kHeader = 44;
  auto* p = reinterpret_cast<const unsigned char*>(data.data());
  if (data.size() < kHeader || data.compare(0, 4, "TZif") != 0) return corrupt();
  auto counts = [&](std::size_t at, std::int64_t c[6]) {
    for (int i = 0; i < 6; ++i) c[i] = read_be(p + at + 20 + 4 * i, 4);
  };
  std::int64_t c[6];  // isutcnt isstdcnt leapcnt timecnt typecnt charcnt
  counts(0, c);
  for (auto v : c)
    if (v < 0 || v > 100000) return corrupt();
  std::size_t at = kHeader;
  int tbytes = 4;
  if (data[4] >= '2') {  // skip the 32-bit block; use the 64-bit one that follows
    at += static_cast<std::size_t>(c[3] * 4 + c[3] + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0]);
    if (data.size() < at + kHeader || data.compare(at, 4, "TZif") != 0) return corrupt();
    counts(at, c);
    for (auto v : c)
      if (v < 0 || v > 100000) return corrupt();
    at += kHeader;
    tbytes = 8;
  }
  const std::size_t timecnt = static_cast<std::size_t>(c[3]), typecnt = static_cast<std::size_t>(c[4]);
  if (typecnt == 0 || data.size() < at + timecnt * static_cast<std::size_t>(tbytes + 1) + typecnt * 6)
    return corrupt();
  std::vector<std::int32_t> type_offsets(typecnt);
  const std::size_t types_at = at + timecnt * static_cast<std::size_t>(tbytes + 1);
  for (std::size_t i = 0; i < typecnt; ++i)
    type_offsets[i] = static_cast<std::int32_t>(read_be(p + types_at + 6 * i, 4));
  TimeZone z;
  z.name_ = name;
  z.initial_offset_ = type_offsets[0];
  for (std::size_t i = 0; i < timecnt; ++i) {
    std::size_t idx = p[at + timecnt * static_cast<std::size_t>(tbytes) + i];
    if (idx >= typecnt) return corrupt();
    z.transitions_.push_back(read_be(p + at + i * static_cast<std::size_t>(tbytes), tbytes));
    z.offsets_.push_back(type_offsets[idx]);
  }
  return z;
}

std::int32_t TimeZone::offset_at(std::int64_t t) const {
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t);
  if (it == transitions_.begin()) return initial_offset_;
  return offsets_[static_cast<std::size_t>(it - transitions_.begin() - 1)];
}

Result<CronSchedule> CronSchedule::parse(std::string_view expr_view, const std::string& tz) {
  std::string expr = Poco::trim(std::string(expr_view));
  static const std::pair<const char*, const char*> kMacros[] = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"}};
  std::string text = expr;
  if (!text.empty() && text.front() == '@') {
    bool found = false;
    for (const auto& [m, e] : kMacros)
      if (text == m) text = e, found = true;
    if (!found)
      return Status(Code::kInvalidArgument,
                    "unknown cron macro '" + expr + "' (use @hourly, @daily, @weekly, @monthly or @yearly)");
  }
  std::vector<std::string> fields;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t j = text.find_first_of(" \t", i);
    if (j == std::string::npos) j = text.size();
    if (j > i) fields.push_back(text.substr(i, j - i));
    i = j + 1;
  }
  if (fields.size() != 5)
    return Status(Code::kInvalidArgument,
                  "cron expression '" + expr + "' has " + std::to_string(fields.size()) +
                      " fields; expected 5: minute hour day-of-month month day-of-week");

  CronSchedule s;
  s.expr_ = expr;
  auto zone = TimeZone::load(tz);
  if (!zone) return zone.status();
  s.tz_ = *zone;
  static const FieldSpec specs[] = {{"minute", 0, 59, nullptr},
                                    {"hour", 0, 23, nullptr},
                                    {"day-of-month", 1, 31, nullptr},
                                    {"month", 1, 12, kMonthNames},
                                    {"day-of-week", 0, 7, kDayNames}};
  std::vector<bool> bits;
  for (int i = 0; i < 5; ++i) {
    WEFT_RETURN_IF_ERROR(parse_field(fields[static_cast<std::size_t>(i)], i + 1, specs[i], bits));
    for (std::size_t v = 0; v < bits.size(); ++v) {
      if (!bits[v]) continue;
      switch (i) {
        case 0:
          s.minutes_.set(v);
          break;
        case 1:
          s.hours_.set(v);
          break;
        case 2:
          s.days_.set(v);
          break;
        case 3:
          s.months_.set(v);
          break;
        case 4:
          s.weekdays_.set(v % 7);
          break;  // 7 is Sunday too
      }
    }
  }
  s.dom_restricted_ = fields[2].front() != '*';
  s.dow_restricted_ = fields[4].front() != '*';
  // From a leap-year start, 8 years cover every day-of-month/month combination that exists.
  if (!s.next_after(std::chrono::sys_seconds(std::chrono::seconds(946684800))))  // 2000-01-01
    return Status(Code::kInvalidArgument, "cron expression '" + expr + "' never fires (no such date)");
  return s;
}

std::optional<std::chrono::sys_seconds> CronSchedule::next_after(std::chrono::sys_seconds t) const {
  using namespace std::chrono;
  const std::int64_t now = t.time_since_epoch().count();
  const std::int64_t local_now = now + tz_.offset_at(now);
  std::int64_t start = local_now - ((local_now % 60) + 60) % 60 + 60;  // next whole local minute
  std::int64_t day = start >= 0 ? start / kDay : (start - kDay + 1) / kDay;
  for (int i = 0; i < kSearchDays; ++i, ++day) {
    const sys_days d{days(day)};
    const year_month_day ymd(d);
    const unsigned month = static_cast<unsigned>(ymd.month());
    const unsigned dom = static_cast<unsigned>(ymd.day());
    const unsigned dow = weekday(d).c_encoding();
    if (!months_.test(month)) continue;
    const bool dom_ok = days_.test(dom), dow_ok = weekdays_.test(dow);
    const bool day_ok = dom_restricted_ && dow_restricted_ ? (dom_ok || dow_ok) : (dom_ok && dow_ok);
    if (!day_ok) continue;
    for (int h = 0; h < 24; ++h) {
      if (!hours_.test(static_cast<std::size_t>(h))) continue;
      for (int m = 0; m < 60; ++m) {
        if (!minutes_.test(static_cast<std::size_t>(m))) continue;
        const std::int64_t local = day * kDay + h * 3600 + m * 60;
        if (local < start) continue;
        // The UTC instants whose local time is `local`: try the offsets in force a day either side.
        std::optional<std::int64_t> best;
        for (std::int64_t probe : {local - kDay, local + kDay}) {
          const std::int64_t u = local - tz_.offset_at(probe);
          if (u + tz_.offset_at(u) == local && u > now && (!best || u < *best)) best = u;
        }
        if (best) return sys_seconds(seconds(*best));
      }
    }
  }
  return std::nullopt;
}

}  // namespace weft::daemon
