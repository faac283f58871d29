// journal.cpp — the journaled run store (open_journaled in run_store.hpp): writes are appended to
// a journal file and applied to SQLite by a thread of the store's own, so a webhook's run waits
// for neither a SQLite commit nor the other runs' commits; it pays one write(2) per record.
//
// Journal files: `<db>.journal.<n>`, n counting up. Each starts with an 8-byte magic and holds
// records [u32 payload length][u32 CRC-32 of the payload][payload = encode(WriteOp)], little
// endian. Records are appended under one mutex, in the order the applier receives them; a file
// past segment_bytes is closed and a new one started, and a closed file whose records are all
// committed to SQLite is removed. Each batch commits, in its own transaction, the journal position
// it was applied up to (a state value); the next start applies what lies past it, in order, so no
// op is applied twice and none that was appended is left out (bar a record cut short by the kill,
// whose writer had not returned).
#include <Poco/Checksum.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/log.hpp"
#include "store/run_store.hpp"
#include "store/write_op.hpp"

namespace weft::store {

namespace {

constexpr char kMagic[8] = {'W', 'E', 'F', 'T', 'J', 'R', 'N', '1'};
constexpr std::size_t kHeader = 8;             // u32 length, u32 crc
constexpr std::size_t kMaxRecord = 256u << 20;  // larger is not a record of ours (a torn length)
constexpr std::size_t kMaxBatch = 1024;        // ops per SQLite transaction
constexpr std::size_t kGather = kMaxBatch / 2;  // a batch this large is applied without waiting

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_i64(std::string& out, std::int64_t v) {
  const auto u = static_cast<std::uint64_t>(v);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((u >> (8 * i)) & 0xFF));
}
void put_str(std::string& out, const std::string& s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

// Reads what put_* wrote; any read past the end clears ok and yields zeros / empty strings.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }
  std::uint64_t uint(int bytes) {
    if (!ok_ || in_.size() - pos_ < static_cast<std::size_t>(bytes)) return ok_ = false, 0;
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in_[pos_++])) << (8 * i);
    return v;
  }
  std::int64_t i64() { return static_cast<std::int64_t>(uint(8)); }
  std::string str() {
    const auto n = static_cast<std::size_t>(uint(4));
    if (!ok_ || in_.size() - pos_ < n) return ok_ = false, std::string();
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

std::uint32_t crc32(std::string_view bytes) {
  Poco::Checksum sum(Poco::Checksum::TYPE_CRC32);
  sum.update(bytes.data(), static_cast<unsigned>(bytes.size()));
  return sum.checksum();
}

// A UUID version 7 as new_run_id() writes it: such an id was made for a new run and cannot be
// in the database already, so its creation need not wait for SQLite to say so.
bool is_new_run_id(const std::string& id) {
  if (id.size() != 36 || id[14] != '7') return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (id[i] == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(id[i]))) return false;
  }
  return true;
}

std::string segment_name(const std::string& db, std::uint64_t n) { return db + ".journal." + std::to_string(n); }

// The journal files of db, by number.
std::map<std::uint64_t, std::string> list_segments(const std::string& db) {
  std::map<std::uint64_t, std::string> out;
  const std::filesystem::path p(db);
  const std::string prefix = p.filename().string() + ".journal.";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(p.has_parent_path() ? p.parent_path() : ".", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size() || name.size() > prefix.size() + 19) continue;
    const std::string digits = name.substr(prefix.size());
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    out[std::stoull(digits)] = e.path().string();
  }
  return out;
}

// Where the journal has been applied up to: a state value written in the same transaction as
// each batch it applies, so a replay starts exactly after the last committed op (an op must not
// go twice: one the database refused could succeed the second time, and it would write over
// what was committed after it).
constexpr const char* kMarkScope = "weft:journal";
constexpr const char* kMarkKey = "applied";
struct Position {
  std::uint64_t segment = 0;
  std::uint64_t offset = 0;  // end of the last applied record in that file
};
WriteOp mark(const Position& p) {
  return WriteOp::state_set(kMarkScope, kMarkKey, std::to_string(p.segment) + ":" + std::to_string(p.offset));
}
Result<Position> read_mark(SqliteBatchStore& db) {
  auto v = db.state_get(kMarkScope, kMarkKey);
  if (!v) return v.status();
  Position p;
  if (!*v) return p;
  const auto colon = (*v)->find(':');
  try {
    if (colon == std::string::npos) throw std::invalid_argument("no colon");
    p.segment = std::stoull((*v)->substr(0, colon));
    p.offset = std::stoull((*v)->substr(colon + 1));
  } catch (const std::exception&) {
    return Status(Code::kDataLoss, "the run store's journal position '" + **v + "' is not <file>:<offset>");
  }
  return p;
}

// Applies what the journal files left by an earlier process hold past the applied position, in
// order, then removes them. A record cut short (the process was killed inside its write) ends
// that file's replay with a warning. last_segment: the highest file number seen or applied.
Status replay(const std::string& db_path, SqliteBatchStore& db, std::uint64_t& last_segment) {
  auto applied_to = read_mark(db);
  if (!applied_to) return applied_to.status();
  last_segment = applied_to->segment;
  const auto segments = list_segments(db_path);
  if (segments.empty()) return Status::Ok();
  std::size_t applied = 0, refused = 0;
  for (const auto& [n, file] : segments) {
    last_segment = std::max(last_segment, n);
    if (n < applied_to->segment) continue;  // applied whole
    std::ifstream in(file, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.eof() && in.fail())
      return Status(Code::kUnavailable, file + ": cannot read the run journal (hint: check its permissions)");
    if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
      if (bytes.empty()) continue;  // created, then killed before its header
      return Status(Code::kDataLoss, file + ": not a weft run journal (hint: move the file away if it is not weft's)");
    }
    std::deque<WriteOp> ops;
    std::vector<std::uint64_t> ends;  // each op's end offset
    std::size_t pos = sizeof kMagic;
    while (pos < bytes.size()) {
      Reader head(std::string_view(bytes).substr(pos, kHeader));
      const auto len = static_cast<std::size_t>(head.uint(4));
      const auto crc = static_cast<std::uint32_t>(head.uint(4));
      WriteOp op;
      const bool whole = head.ok() && len <= kMaxRecord && bytes.size() - pos - kHeader >= len &&
                         crc32(std::string_view(bytes).substr(pos + kHeader, len)) == crc &&
                         decode(std::string_view(bytes).substr(pos + kHeader, len), op);
      if (!whole) {
        log::warn("store", "run journal ends in an incomplete record (a write cut short when the process was killed); "
                           "it is dropped",
                  {{"file", file}, {"offset", std::to_string(pos)}, {"bytes", std::to_string(bytes.size() - pos)}});
        break;
      }
      pos += kHeader + len;
      if (n == applied_to->segment && pos <= applied_to->offset) continue;  // committed before the kill
      ops.push_back(std::move(op));
      ends.push_back(pos);
    }
    for (std::size_t first = 0; first < ops.size();) {
      const std::size_t count = std::min(ops.size() - first, kMaxBatch);
      const WriteOp marker = mark({n, ends[first + count - 1]});
      std::vector<const WriteOp*> batch;
      for (std::size_t i = first; i < first + count; ++i) batch.push_back(&ops[i]);
      batch.push_back(&marker);
      std::vector<Status> statuses(batch.size());
      if (Status txn = db.apply_batch(batch, statuses); !txn.ok())
        return Status(Code::kUnavailable, "cannot apply the run journal " + file + ": " + txn.message() +
                                              " (it is kept and applied at the next start)");
      for (std::size_t i = 0; i < count; ++i) (statuses[i].ok() ? applied : refused)++;
      first += count;
    }
  }
  for (const auto& [n, file] : segments) std::remove(file.c_str());
  log::info("store", "run journal applied",
            {{"files", std::to_string(segments.size())}, {"writes", std::to_string(applied)},
             {"refused", std::to_string(refused)}});
  return Status::Ok();
}

class JournaledRunStore final : public RunStore {
 public:
  JournaledRunStore(std::string path, std::unique_ptr<SqliteBatchStore> db, JournalOptions options, int lock_fd,
                    std::uint64_t segment)
      : path_(std::move(path)), db_(std::move(db)), options_(options), lock_fd_(lock_fd), segment_(segment) {}

  // Opens the first journal file; then the applier starts.
  Status start() {
    if (Status s = open_segment(); !s.ok()) return s;
    applier_ = std::thread([this] { apply_loop(); });
    return Status::Ok();
  }

  JournaledRunStore(const JournaledRunStore&) = delete;
  JournaledRunStore& operator=(const JournaledRunStore&) = delete;

  ~JournaledRunStore() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    if (applier_.joinable()) applier_.join();
    if (fd_ >= 0) ::close(fd_);
    if (applied_ == appended_) {
      // Everything is in SQLite: no journal file is needed any more.
      for (const auto& c : closed_) std::remove(c.file.c_str());
      std::remove(segment_name(path_, segment_).c_str());
    } else {
      log::warn("store", "run journal not fully applied; it is applied at the next start",
                {{"file", path_}, {"writes", std::to_string(appended_ - applied_)}});
    }
    ::close(lock_fd_);  // releases the lock
  }

  Status create_run(const RunRecord& run) override {
    WriteOp op = WriteOp::create_run(run);
    if (!is_new_run_id(run.id) || run.status != RunStatus::kRunning) return append(std::move(op), true);
    {
      std::lock_guard lock(live_mu_);
      if (!live_.insert(run.id).second) return Status(Code::kAlreadyExists, "run " + run.id + " already exists");
    }
    Status s = append(std::move(op), false);
    if (!s.ok()) end_live(run.id);
    return s;
  }

  Status set_run_status(const std::string& run_id, RunStatus status, const std::string& error,
                        std::int64_t finished_at_ms) override {
    const bool live = is_live(run_id);
    Status s = append(WriteOp::set_status(run_id, status, error, finished_at_ms), !live);
    if (live && status != RunStatus::kRunning) end_live(run_id);
    return s;
  }

  Status put_step(const std::string& run_id, const StepRecord& step) override {
    return put_steps(run_id, {&step}, nullptr);
  }

  Status put_steps(const std::string& run_id, const std::vector<const StepRecord*>& steps,
                   const Finish* finish) override {
    const bool live = is_live(run_id);
    Status s = append(WriteOp::put_steps(run_id, steps, finish), !live);
    if (live && finish != nullptr && finish->status != RunStatus::kRunning) end_live(run_id);
    return s;
  }

  Result<RunRecord> get_run(const std::string& run_id) const override {
    WEFT_RETURN_IF_ERROR(flush());
    return db_->get_run(run_id);
  }
  Result<std::vector<RunRecord>> list_runs(const RunQuery& query) const override {
    WEFT_RETURN_IF_ERROR(flush());
    return db_->list_runs(query);
  }
  Result<std::optional<std::string>> state_get(const std::string& scope, const std::string& key) const override {
    WEFT_RETURN_IF_ERROR(flush());
    return db_->state_get(scope, key);
  }
  Status state_set(const std::string& scope, const std::string& key, const std::string& value) override {
    return append(WriteOp::state_set(scope, key, value), true);
  }
  Status state_delete(const std::string& scope, const std::string& key) override {
    return append(WriteOp::state_delete(scope, key), true);
  }

 private:
  // A write that waits for its result: the applier fills it in and sets done (under mu_). Shared,
  // so a writer that stopped waiting leaves nothing dangling.
  struct Sync {
    Status status;
    bool done = false;
  };
  struct Pending {
    std::uint64_t seq = 0;
    Position end;  // where its record ends in the journal
    WriteOp op;
    std::shared_ptr<Sync> sync;  // null: nobody waits for this write
  };
  struct Closed {
    std::string file;
    std::uint64_t last_seq = 0;  // removable once this is applied
  };

  bool is_live(const std::string& run_id) {
    std::lock_guard lock(live_mu_);
    return live_.count(run_id) != 0;
  }
  void end_live(const std::string& run_id) {
    std::lock_guard lock(live_mu_);
    live_.erase(run_id);
  }

  std::string stuck_message() const {
    return path_ + ": the run store is behind: " + std::to_string(appended_ - applied_) +
           " writes are journaled but not yet in the database" +
           (last_error_.empty() ? std::string() : " (" + last_error_ + ")") +
           "; they are applied once the database accepts writes again";
  }

  // Appends op to the journal and queues it for the applier; with sync, also waits until it is
  // applied and returns its own status.
  Status append(WriteOp op, bool sync) {
    std::string rec(kHeader, '\0');  // the header, filled in once the payload is known
    encode(op, rec);
    const std::string_view payload = std::string_view(rec).substr(kHeader);
    const std::uint32_t head[2] = {static_cast<std::uint32_t>(payload.size()), crc32(payload)};
    for (std::size_t i = 0; i < kHeader; ++i) rec[i] = static_cast<char>((head[i / 4] >> (8 * (i % 4))) & 0xFF);

    auto result = sync ? std::make_shared<Sync>() : nullptr;
    std::unique_lock lock(mu_);
    if (queue_.size() >= options_.max_pending &&
        !room_cv_.wait_for(lock, options_.wait, [&] { return queue_.size() < options_.max_pending; }))
      return Status(Code::kUnavailable, stuck_message());
    Position end;
    WEFT_RETURN_IF_ERROR(write_record(rec, end));
    const std::uint64_t seq = ++appended_;
    queue_.push_back({seq, end, std::move(op), result});
    const bool wake = applier_idle_;
    applier_idle_ = false;
    if (!sync) {
      lock.unlock();
      if (wake) work_cv_.notify_one();
      return Status::Ok();
    }
    ++waiters_;
    if (wake || gathering_) work_cv_.notify_one();
    const bool done = done_cv_.wait_for(lock, options_.wait, [&] { return result->done; });
    --waiters_;
    // Not done: it stays journaled and is applied later, with nobody to tell.
    return done ? result->status : Status(Code::kUnavailable, stuck_message());
  }

  // Waits until every write appended before the call is applied.
  Status flush() const {
    std::unique_lock lock(mu_);
    const std::uint64_t target = appended_;
    if (applied_ >= target) return Status::Ok();
    ++waiters_;
    if (gathering_) work_cv_.notify_one();
    const bool done = done_cv_.wait_for(lock, options_.wait, [&] { return applied_ >= target; });
    --waiters_;
    return done ? Status::Ok() : Status(Code::kUnavailable, stuck_message());
  }

  // mu_ held. One record, whole or not at all: a short or failed write is cut off again.
  Status write_record(const std::string& rec, Position& end) {
    std::size_t done = 0;
    while (done < rec.size()) {
      const ssize_t n = ::write(fd_, rec.data() + done, rec.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int e = n < 0 ? errno : EIO;
        if (done > 0 && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
          log::error("store", "cannot cut a failed record off the run journal",
                     {{"file", segment_name(path_, segment_)}, {"error", std::strerror(errno)}});
        }
        return Status(Code::kUnavailable, segment_name(path_, segment_) +
                                              ": cannot append to the run journal: " + std::strerror(e) +
                                              " (hint: free disk space in the weft home)");
      }
      done += static_cast<std::size_t>(n);
    }
    size_ += rec.size();
    end = {segment_, size_};
    if (size_ >= options_.segment_bytes) rotate();
    return Status::Ok();
  }

  // mu_ held (or before the applier starts). Starts journal file segment_.
  Status open_segment() {
    const std::string file = segment_name(path_, segment_);
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
      return Status(Code::kUnavailable, file + ": cannot create the run journal: " + std::strerror(errno) +
                                            " (hint: the weft home must be writable)");
    if (::write(fd, kMagic, sizeof kMagic) != static_cast<ssize_t>(sizeof kMagic)) {
      const int e = errno;
      ::close(fd);
      std::remove(file.c_str());
      return Status(Code::kUnavailable, file + ": cannot write the run journal: " + std::strerror(e));
    }
    fd_ = fd;
    size_ = sizeof kMagic;
    return Status::Ok();
  }

  // mu_ held. The current file is full: the next records go to a new one.
  void rotate() {
    const int old_fd = fd_;
    const std::uint64_t old_segment = segment_;
    ++segment_;
    if (Status s = open_segment(); !s.ok()) {
      segment_ = old_segment;  // keep appending to the full one; the next record tries again
      log::warn("store", "cannot start a new run journal file", {{"error", s.message()}});
      return;
    }
    ::close(old_fd);
    closed_.push_back({segment_name(path_, old_segment), appended_ + 1});  // + the record being counted
  }

  void apply_loop() {
    std::unique_lock lock(mu_);
    std::chrono::milliseconds backoff{0};
    while (true) {
      if (queue_.empty()) {
        if (stop_) return;
        applier_idle_ = true;
        work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        applier_idle_ = false;
        continue;
      }
      // A moment for the batch to fill, with the ends of the runs whose starts are queued: fewer,
      // larger transactions, and a run that starts and ends within one batch is one insert. No
      // writer wakes the applier meanwhile, unless a reader or a synchronous write waits.
      if (!stop_ && waiters_ == 0 && queue_.size() < kGather && options_.gather.count() > 0) {
        gathering_ = true;
        work_cv_.wait_for(lock, options_.gather, [&] { return stop_ || waiters_ > 0 || queue_.size() >= kGather; });
        gathering_ = false;
      }
      std::vector<Pending> batch;
      const std::size_t n = std::min(queue_.size(), kMaxBatch);
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) batch.push_back(std::move(queue_[i]));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      room_cv_.notify_all();
      lock.unlock();

      // A run created in this batch is written once, as it stands at the batch's end.
      std::vector<std::size_t> into = coalesce(batch);
      std::vector<const WriteOp*> ops;
      std::vector<std::size_t> op_of(n);  // batch index -> index in ops
      ops.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        if (into[i] == i) {
          op_of[i] = ops.size();
          ops.push_back(&batch[i].op);
        }
      }
      const WriteOp marker = mark(batch.back().end);  // committed with the batch
      ops.push_back(&marker);
      std::vector<Status> statuses(ops.size());
      Status txn = db_->apply_batch(ops, statuses);
      while (!txn.ok()) {
        // Nothing committed (the database locked by another process past the busy timeout, a full
        // disk): the ops stay journaled and go again; the daemon keeps running meanwhile.
        if (backoff.count() == 0) log::warn("store", "cannot apply the run journal; retrying", {{"error", txn.message()}});
        backoff = std::min(std::chrono::milliseconds(5000), std::max(std::chrono::milliseconds(100), backoff * 2));
        lock.lock();
        last_error_ = txn.message();
        const bool stopping = work_cv_.wait_for(lock, backoff, [&] { return stop_; });
        if (stopping) return;  // the journal keeps what was not applied
        lock.unlock();
        txn = db_->apply_batch(ops, statuses);
      }
      if (backoff.count() != 0) {
        log::info("store", "run journal applied again after a failure", {});
        backoff = std::chrono::milliseconds(0);
      }
      for (std::size_t i = 0; i < n; ++i) {
        if (into[i] == i && batch[i].sync == nullptr && !statuses[op_of[i]].ok())
          log::error("store", "a journaled write was refused by the database",
                     {{"run", batch[i].op.key}, {"error", statuses[op_of[i]].message()}});
      }
      std::vector<std::string> removable;
      lock.lock();
      last_error_.clear();
      applied_ = batch.back().seq;
      for (std::size_t i = 0; i < n; ++i) {
        if (batch[i].sync == nullptr) continue;  // only async writes are coalesced: into[i] == i
        batch[i].sync->status = statuses[op_of[i]];
        batch[i].sync->done = true;
      }
      while (!closed_.empty() && closed_.front().last_seq <= applied_) {
        removable.push_back(std::move(closed_.front().file));
        closed_.pop_front();
      }
      if (waiters_ > 0) done_cv_.notify_all();
      if (!removable.empty()) {
        lock.unlock();
        for (const auto& f : removable) std::remove(f.c_str());
        lock.lock();
      }
    }
  }

  // For each op of batch, the index of the op that now carries it (itself unless merged): the
  // writes that follow a run's creation in the same batch (its steps, its end) are folded into
  // the creation, so SQLite inserts the run once as it stands at the batch's end. Only writes
  // nobody waits for are folded, and a run stops folding at a write that somebody waits for.
  // (Not in a replay, which applies every op as written: a folded creation that the database
  // refuses would take the run's later writes with it, which the ops one by one would not.)
  static std::vector<std::size_t> coalesce(std::vector<Pending>& batch) {
    std::vector<std::size_t> into(batch.size());
    std::unordered_map<std::string_view, std::size_t> created;  // run id -> its creation in batch
    for (std::size_t i = 0; i < batch.size(); ++i) {
      into[i] = i;
      WriteOp& op = batch[i].op;
      const bool async = batch[i].sync == nullptr;
      if (op.kind == WriteOp::Kind::kCreateRun) {
        if (async) created[op.key] = i;
        continue;
      }
      if (op.kind != WriteOp::Kind::kPutSteps && op.kind != WriteOp::Kind::kSetStatus) continue;
      auto it = created.find(op.key);
      if (it == created.end()) continue;
      if (!async) {
        created.erase(it);
        continue;
      }
      WriteOp& run = batch[it->second].op;
      for (auto& step : op.steps) {
        auto same = std::find_if(run.steps.begin(), run.steps.end(), [&](const StoredStep& s) { return s.idx == step.idx; });
        if (same != run.steps.end())
          *same = std::move(step);
        else
          run.steps.push_back(std::move(step));
      }
      if (op.kind == WriteOp::Kind::kSetStatus || op.finish) {
        run.status = std::move(op.status);
        run.error = std::move(op.error);
        run.finished = op.finished;
      }
      into[i] = it->second;
    }
    return into;
  }

  const std::string path_;
  std::unique_ptr<SqliteBatchStore> db_;
  const JournalOptions options_;
  const int lock_fd_;

  mutable std::mutex mu_;
  mutable std::condition_variable work_cv_;  // the applier: work queued, a waiter, or stop
  std::condition_variable room_cv_;          // writers: the queue has room again
  mutable std::condition_variable done_cv_;  // sync writers and readers: more was applied
  std::deque<Pending> queue_;                // appended, not yet taken by the applier
  std::deque<Closed> closed_;                // full journal files, oldest first
  std::uint64_t segment_;
  int fd_ = -1;
  std::size_t size_ = 0;
  std::uint64_t appended_ = 0, applied_ = 0;
  mutable int waiters_ = 0;
  bool applier_idle_ = false;  // waiting for work: the next append wakes it
  bool gathering_ = false;     // waiting for a batch to fill: a reader or a sync write wakes it
  bool stop_ = false;
  std::string last_error_;
  std::thread applier_;

  std::mutex live_mu_;
  std::unordered_set<std::string> live_;  // runs created here and not ended: their writes need no answer
};

}  // namespace

void encode(const WriteOp& op, std::string& out) {
  out.push_back(static_cast<char>(op.kind));
  put_str(out, op.key);
  put_str(out, op.workflow);
  put_str(out, op.workflow_file);
  put_str(out, op.status);
  put_str(out, op.inputs);
  put_str(out, op.trigger);
  put_str(out, op.error);
  put_i64(out, op.started);
  put_i64(out, op.finished);
  out.push_back(op.finish ? 1 : 0);
  put_u32(out, static_cast<std::uint32_t>(op.steps.size()));
  for (const auto& s : op.steps) {
    put_i64(out, s.idx);
    put_str(out, s.step_id);
    put_str(out, s.uses);
    put_str(out, s.status);
    put_str(out, s.input);
    put_str(out, s.output);
    put_str(out, s.error);
    put_i64(out, s.started);
    put_i64(out, s.finished);
    put_i64(out, s.duration);
  }
  put_str(out, op.name);
  put_str(out, op.value);
  put_i64(out, op.updated);
}

bool decode(std::string_view in, WriteOp& op) {
  Reader r(in);
  const auto kind = r.uint(1);
  if (kind < static_cast<std::uint64_t>(WriteOp::Kind::kCreateRun) ||
      kind > static_cast<std::uint64_t>(WriteOp::Kind::kStateDelete))
    return false;
  op.kind = static_cast<WriteOp::Kind>(kind);
  op.key = r.str();
  op.workflow = r.str();
  op.workflow_file = r.str();
  op.status = r.str();
  op.inputs = r.str();
  op.trigger = r.str();
  op.error = r.str();
  op.started = r.i64();
  op.finished = r.i64();
  const auto finish = r.uint(1);
  if (finish > 1) return false;
  op.finish = finish == 1;
  const auto steps = r.uint(4);
  if (!r.ok() || steps > in.size()) return false;  // each step takes bytes: a huge count is corrupt
  op.steps.clear();
  for (std::uint64_t i = 0; i < steps && r.ok(); ++i) {
    StoredStep s;
    s.idx = r.i64();
    s.step_id = r.str();
    s.uses = r.str();
    s.status = r.str();
    s.input = r.str();
    s.output = r.str();
    s.error = r.str();
    s.started = r.i64();
    s.finished = r.i64();
    s.duration = r.i64();
    op.steps.push_back(std::move(s));
  }
  op.name = r.str();
  op.value = r.str();
  op.updated = r.i64();
  return r.ok() && r.at_end();
}

Result<std::unique_ptr<RunStore>> open_journaled(const std::string& path, const JournalOptions& options) {
  auto db = open_sqlite_batch(path);
  if (!db) return db.status();
  const std::string lock_file = path + ".journal.lock";
  const int lock_fd = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0)
    return Status(Code::kUnavailable, lock_file + ": cannot open the run journal's lock: " + std::strerror(errno) +
                                          " (hint: the weft home must be writable)");
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    log::info("store", "another weft process uses the run journal; this one writes straight to the database",
              {{"file", path}});
    return std::unique_ptr<RunStore>(std::move(*db));
  }
  std::uint64_t last = 0;
  if (Status s = replay(path, **db, last); !s.ok()) {
    ::close(lock_fd);
    return s;
  }
  auto store = std::make_unique<JournaledRunStore>(path, std::move(*db), options, lock_fd, last + 1);
  WEFT_RETURN_IF_ERROR(store->start());  // the store's destructor releases the lock
  return std::unique_ptr<RunStore>(std::move(store));
}

}  // namespace weft::store
