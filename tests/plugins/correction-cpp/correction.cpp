// A C++ test plugin for the host's correctionlib functions (casa_plugin.h, ABI 2): it reads
// the shipped `corrections.json` through the host, evaluates `event_systematics` (btag_var,
// up, pt = 10 nMuon + 25) per event, and fills an nMuon histogram with those weights, as the
// Rust test plugin (tests/plugins/misbehave, mode `correction`) does with casa-correction.
// The correction name comes from the run's configuration text when it holds
// {"correction": "..."} (a crude search: enough for a test of a wrong name).
#include <casa_plugin.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct State {
  int64_t hist;
  int64_t corr;
};

void set_err(char *err, uint64_t len, const std::string &msg) {
  if (len == 0) return;
  std::snprintf(err, len, "%s", msg.c_str());
}

std::string correction_name(const char *config) {
  const std::string c = config ? config : "";
  const std::string key = "\"correction\":";
  auto at = c.find(key);
  if (at == std::string::npos) return "event_systematics";
  at = c.find('"', at + key.size()) + 1;
  return c.substr(at, c.find('"', at) - at);
}

void *init(const casa_host *host, char *err, uint64_t err_len) {
  const char *path = host->input_path(host->ctx, "corrections.json");
  if (!path) {
    set_err(err, err_len, host->last_error(host->ctx));
    return nullptr;
  }
  if (FILE *f = std::fopen(path, "rb")) {
    std::fclose(f);
  } else {
    set_err(err, err_len, std::string("cannot open ") + path);
    return nullptr;
  }
  const int64_t hist = host->declare_hist(
      host->ctx, "w",
      R"({"axes": [{"type": "integer", "start": 0, "stop": 10, "name": "nMuon"}], "storage": "weight"})");
  const int64_t set = host->correction_set(host->ctx, "corrections.json");
  const int64_t corr =
      set < 0 ? -1 : host->correction(host->ctx, set, correction_name(host->config_json(host->ctx)).c_str());
  if (hist < 0 || corr < 0) {
    set_err(err, err_len, host->last_error(host->ctx));
    return nullptr;
  }
  return new State{hist, corr};
}

int32_t process(void *state, const casa_host *host, const casa_batch *batch, char *err,
                uint64_t err_len) {
  const State *s = static_cast<const State *>(state);
  const casa_column *n_muon = nullptr;
  for (uint64_t c = 0; c < batch->n_columns; ++c)
    if (std::strcmp(batch->columns[c].name, "nMuon") == 0) n_muon = &batch->columns[c];
  if (!n_muon || n_muon->dtype != CASA_U32) {
    set_err(err, err_len, "nMuon missing or not uint32");
    return -1;
  }
  const uint32_t *n = static_cast<const uint32_t *>(n_muon->values);
  const uint64_t len = batch->n_entries;
  std::vector<double> pt(len), w(len);
  std::vector<int64_t> k(len);
  for (uint64_t i = 0; i < len; ++i) {
    pt[i] = 10.0 * n[i] + 25.0;
    k[i] = n[i];
  }
  const casa_fill_arg in[3] = {
      {CASA_FILL_ONE_STR, "btag_var"}, {CASA_FILL_ONE_STR, "up"}, {CASA_FILL_F64, pt.data()}};
  if (host->correction_eval(host->ctx, s->corr, len, in, 3, w.data()) != 0) {
    set_err(err, err_len, host->last_error(host->ctx));
    return -1;
  }
  const casa_fill_arg fill[1] = {{CASA_FILL_I64, k.data()}};
  if (host->fill(host->ctx, s->hist, len, fill, 1, w.data(), nullptr) != 0) {
    set_err(err, err_len, host->last_error(host->ctx));
    return -1;
  }
  return 0;
}

void destroy(void *state) { delete static_cast<State *>(state); }

const char *const columns[] = {"nMuon", nullptr};
const casa_plugin plugin = {CASA_ABI_VERSION, "correction-cpp", columns, init, process, destroy,
                            nullptr, nullptr};

}  // namespace

extern "C" const casa_plugin *casa_plugin_v2(void) { return &plugin; }
