// The C face of XrdCl::File for xrd-sys (see xrd_shim.h). Every blocking call submits the
// asynchronous XrdCl request and waits on a condition variable with the caller's deadline:
// XrdCl's own timeouts fire only every TimeoutResolution seconds (15 by default) and a dead
// server costs minutes of connection retries, so waiting in XrdCl's synchronous API could
// outlive any deadline.

#include "xrd_shim.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <XrdCl/XrdClDefaultEnv.hh>
#include <XrdCl/XrdClEnv.hh>
#include <XrdCl/XrdClFile.hh>
#include <XrdCl/XrdClXRootDResponses.hh>
#include <XrdVersion.hh>

struct xrd_file {
  XrdCl::File file;
};

namespace {

using Clock = std::chrono::steady_clock;

// What the waiting caller and XrdCl's response handlers share. Held by shared_ptr on both
// sides, so a caller that gives up at its deadline leaves it to the last handler to free.
struct Wait {
  std::mutex m;
  std::condition_variable cv;
  size_t pending = 0;
  bool failed = false;
  XrdCl::XRootDStatus error;
  uint64_t size = 0;
  uint64_t bytes = 0;
};

enum class Kind { Open, Stat, Read, ReadV };

class Handler : public XrdCl::ResponseHandler {
 public:
  Handler(std::shared_ptr<Wait> w, Kind kind, uint64_t expect)
      : w_(std::move(w)), kind_(kind), expect_(expect) {}

  void HandleResponse(XrdCl::XRootDStatus *status, XrdCl::AnyObject *response) override {
    {
      std::lock_guard<std::mutex> lock(w_->m);
      if (!status || !status->IsOK()) {
        Fail(status ? *status : XrdCl::XRootDStatus(XrdCl::stError, XrdCl::errUnknown));
      } else {
        Take(response);
      }
      w_->pending -= 1;
    }
    w_->cv.notify_all();
    delete status;
    delete response;
    delete this;
  }

 private:
  void Fail(const XrdCl::XRootDStatus &s) {
    if (!w_->failed) {
      w_->failed = true;
      w_->error = s;
    }
  }

  void Take(XrdCl::AnyObject *response) {
    switch (kind_) {
      case Kind::Open:
        break;
      case Kind::Stat: {
        XrdCl::StatInfo *info = nullptr;
        if (response) response->Get(info);
        if (info)
          w_->size = info->GetSize();
        else
          Fail(XrdCl::XRootDStatus(XrdCl::stError, XrdCl::errInvalidResponse, 0,
                                   "stat returned no information"));
        break;
      }
      case Kind::Read: {
        XrdCl::ChunkInfo *chunk = nullptr;
        if (response) response->Get(chunk);
        if (chunk) w_->bytes += chunk->length;
        break;
      }
      case Kind::ReadV: {
        XrdCl::VectorReadInfo *info = nullptr;
        if (response) response->Get(info);
        uint64_t got = info ? info->GetSize() : 0;
        // A vector read is all or nothing: a short answer is an error, not a short read.
        if (got != expect_) {
          Fail(XrdCl::XRootDStatus(XrdCl::stError, XrdCl::errDataError, 0,
                                   "vector read returned " + std::to_string(got) + " of " +
                                       std::to_string(expect_) + " bytes"));
        }
        w_->bytes += got;
        break;
      }
    }
  }

  std::shared_ptr<Wait> w_;
  Kind kind_;
  uint64_t expect_;
};

void copy_message(xrd_status *st, const std::string &msg) {
  size_t n = std::min(msg.size(), sizeof(st->message) - 1);
  std::memcpy(st->message, msg.data(), n);
  st->message[n] = '\0';
}

void set_ok(xrd_status *st) {
  st->status = XrdCl::stOK;
  st->code = XrdCl::errNone;
  st->errnum = 0;
  st->timed_out = 0;
  st->pending = 0;
  st->message[0] = '\0';
}

void set_status(xrd_status *st, const XrdCl::XRootDStatus &s) {
  set_ok(st);
  st->status = s.status;
  st->code = s.code;
  st->errnum = s.errNo;
  copy_message(st, s.ToStr());
}

void set_deadline(xrd_status *st, const char *what, uint32_t timeout_ms, bool pending) {
  set_ok(st);
  st->status = XrdCl::stError;
  st->code = XrdCl::errOperationExpired;
  st->timed_out = 1;
  st->pending = pending ? 1 : 0;
  char buf[160];
  std::snprintf(buf, sizeof buf, "[ERROR] %s: no answer within the client deadline of %u ms",
                what, timeout_ms);
  copy_message(st, buf);
}

void set_exception(xrd_status *st, const char *what) {
  set_ok(st);
  st->status = XrdCl::stFatal;
  st->code = XrdCl::errInternal;
  copy_message(st, std::string("[FATAL] XRootD client exception: ") + what);
}

// XrdCl's own per-request timeout, a little after ours so that the shim's deadline decides,
// and XrdCl still cleans the request up soon after.
uint16_t xrdcl_timeout(uint32_t timeout_ms) {
  if (timeout_ms == 0) return 0;
  uint32_t s = timeout_ms / 1000 + 2;
  return static_cast<uint16_t>(std::min<uint32_t>(s, 65535));
}

// Wait until every request is answered or the deadline passes; false on the deadline.
bool wait_all(Wait &w, uint32_t timeout_ms) {
  std::unique_lock<std::mutex> lock(w.m);
  auto done = [&] { return w.pending == 0; };
  if (timeout_ms == 0) {
    w.cv.wait(lock, done);
    return true;
  }
  return w.cv.wait_until(lock, Clock::now() + std::chrono::milliseconds(timeout_ms), done);
}

// Submit one request; on a refused submission XrdCl never calls the handler, so free it.
bool submit(Wait &w, Handler *h, const XrdCl::XRootDStatus &s) {
  if (s.IsOK()) return true;
  delete h;
  std::lock_guard<std::mutex> lock(w.m);
  w.pending -= 1;
  if (!w.failed) {
    w.failed = true;
    w.error = s;
  }
  return false;
}

}  // namespace

extern "C" {

const char *xrd_version(void) { return XrdVERSION; }

int xrd_set_int(const char *key, int value) {
  try {
    return XrdCl::DefaultEnv::GetEnv()->PutInt(key, value) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

int xrd_get_int(const char *key, int *value) {
  try {
    return XrdCl::DefaultEnv::GetEnv()->GetInt(key, *value) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

xrd_file *xrd_open(const char *url, uint32_t timeout_ms, xrd_status *st) {
  try {
    std::unique_ptr<xrd_file> f(new xrd_file());
    auto w = std::make_shared<Wait>();
    w->pending = 1;
    Handler *h = new Handler(w, Kind::Open, 0);
    if (!submit(*w, h,
                f->file.Open(url, XrdCl::OpenFlags::Read, XrdCl::Access::None, h,
                             xrdcl_timeout(timeout_ms)))) {
      set_status(st, w->error);
      return nullptr;
    }
    if (!wait_all(*w, timeout_ms)) {
      // Deleting the File is safe with the open in flight: XrdCl's request holds its own
      // reference to the file state.
      set_deadline(st, "open", timeout_ms, false);
      return nullptr;
    }
    if (w->failed) {
      set_status(st, w->error);
      return nullptr;
    }
    set_ok(st);
    return f.release();
  } catch (const std::exception &e) {
    set_exception(st, e.what());
  } catch (...) {
    set_exception(st, "unknown");
  }
  return nullptr;
}

int xrd_size(xrd_file *f, uint32_t timeout_ms, uint64_t *size, xrd_status *st) {
  try {
    auto w = std::make_shared<Wait>();
    w->pending = 1;
    Handler *h = new Handler(w, Kind::Stat, 0);
    if (!submit(*w, h, f->file.Stat(true, h, xrdcl_timeout(timeout_ms)))) {
      set_status(st, w->error);
      return -1;
    }
    if (!wait_all(*w, timeout_ms)) {
      set_deadline(st, "stat", timeout_ms, false);
      return -1;
    }
    if (w->failed) {
      set_status(st, w->error);
      return -1;
    }
    *size = w->size;
    set_ok(st);
    return 0;
  } catch (const std::exception &e) {
    set_exception(st, e.what());
  } catch (...) {
    set_exception(st, "unknown");
  }
  return -1;
}

int xrd_read(xrd_file *f, uint64_t offset, uint32_t length, void *buffer, uint32_t *bytes_read,
             uint32_t timeout_ms, xrd_status *st) {
  try {
    auto w = std::make_shared<Wait>();
    w->pending = 1;
    Handler *h = new Handler(w, Kind::Read, length);
    if (!submit(*w, h, f->file.Read(offset, length, buffer, h, xrdcl_timeout(timeout_ms)))) {
      set_status(st, w->error);
      return -1;
    }
    if (!wait_all(*w, timeout_ms)) {
      set_deadline(st, "read", timeout_ms, true);
      return -1;
    }
    if (w->failed) {
      set_status(st, w->error);
      return -1;
    }
    *bytes_read = static_cast<uint32_t>(w->bytes);
    set_ok(st);
    return 0;
  } catch (const std::exception &e) {
    set_exception(st, e.what());
  } catch (...) {
    set_exception(st, "unknown");
  }
  return -1;
}

int xrd_readv(xrd_file *f, const xrd_chunk *chunks, size_t n, uint32_t timeout_ms,
              xrd_status *st) {
  try {
    // Cut chunks to the per-chunk limit, then group them into requests of at most
    // XRD_READV_MAX_CHUNKS.
    std::vector<XrdCl::ChunkList> groups(1);
    std::vector<uint64_t> expect(1, 0);
    for (size_t i = 0; i < n; i++) {
      uint64_t off = chunks[i].offset;
      uint32_t left = chunks[i].length;
      char *buf = static_cast<char *>(chunks[i].buffer);
      while (left > 0) {
        uint32_t len = std::min<uint32_t>(left, XRD_READV_MAX_CHUNK_LEN);
        if (groups.back().size() == XRD_READV_MAX_CHUNKS) {
          groups.emplace_back();
          expect.push_back(0);
        }
        groups.back().emplace_back(off, len, buf);
        expect.back() += len;
        off += len;
        buf += len;
        left -= len;
      }
    }
    if (groups.back().empty()) groups.pop_back();
    if (groups.empty()) {
      set_ok(st);
      return 0;
    }
    auto w = std::make_shared<Wait>();
    w->pending = groups.size();
    uint16_t t = xrdcl_timeout(timeout_ms);
    size_t submitted = 0;
    for (size_t g = 0; g < groups.size(); g++) {
      Handler *h = new Handler(w, Kind::ReadV, expect[g]);
      if (!submit(*w, h, f->file.VectorRead(groups[g], nullptr, h, t))) break;
      submitted++;
    }
    if (submitted < groups.size()) {
      // Not submitted, not pending.
      std::lock_guard<std::mutex> lock(w->m);
      w->pending -= groups.size() - submitted - 1;
    }
    if (!wait_all(*w, timeout_ms)) {
      set_deadline(st, "vector read", timeout_ms, true);
      return -1;
    }
    if (w->failed) {
      set_status(st, w->error);
      return -1;
    }
    set_ok(st);
    return 0;
  } catch (const std::exception &e) {
    set_exception(st, e.what());
  } catch (...) {
    set_exception(st, "unknown");
  }
  return -1;
}

int xrd_data_server(xrd_file *f, char *buf, size_t len) {
  try {
    std::string s;
    if (!f->file.GetProperty("DataServer", s) || s.empty() || len == 0) return 0;
    size_t n = std::min(s.size(), len - 1);
    std::memcpy(buf, s.data(), n);
    buf[n] = '\0';
    return 1;
  } catch (...) {
    return 0;
  }
}

void xrd_close(xrd_file *f) {
  try {
    // ~File sends an asynchronous close (no waiting on a possibly dead server).
    delete f;
  } catch (...) {
  }
}

}  // extern "C"
