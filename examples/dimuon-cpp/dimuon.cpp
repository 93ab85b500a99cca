// The dimuon mass spectrum of coffea's processor example, as a casa plugin in C++: the same
// analysis as examples/dimuon (Rust), written against include/casa_plugin.h only.
//
//   g++ -std=c++17 -O2 -shared -fPIC -I../../plugin/include dimuon.cpp -o libdimuon_cpp.so

#include <casa_plugin.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace {

const char *const kColumns[] = {"nMuon", "Muon_pt", "Muon_eta", "Muon_phi",
                                "Muon_mass", "Muon_charge", nullptr};

struct State {
  int64_t mass;
};

void set_error(char *err, uint64_t len, const std::string &msg) {
  if (err == nullptr || len == 0) return;
  std::snprintf(err, len, "%s", msg.c_str());
}

const casa_column *find(const casa_batch *b, const char *name) {
  for (uint64_t i = 0; i < b->n_columns; ++i)
    if (std::strcmp(b->columns[i].name, name) == 0) return &b->columns[i];
  return nullptr;
}

struct P4 {
  double px, py, pz, e;
};

// Same formulas, in double precision, as casa_plugin::vec4.
P4 p4(double pt, double eta, double phi, double m) {
  double px = pt * std::cos(phi), py = pt * std::sin(phi), pz = pt * std::sinh(eta);
  return {px, py, pz, std::sqrt(px * px + py * py + pz * pz + m * m)};
}

double mass(const P4 &a, const P4 &b) {
  double px = a.px + b.px, py = a.py + b.py, pz = a.pz + b.pz, e = a.e + b.e;
  double m2 = e * e - (px * px + py * py + pz * pz);
  return m2 >= 0 ? std::sqrt(m2) : -std::sqrt(-m2);
}

void *init(const casa_host *host, char *err, uint64_t err_len) {
  try {
    const char *spec =
        "{\"axes\": ["
        "{\"type\": \"str_category\", \"categories\": [\"opposite\", \"same\"], \"growth\": false, \"name\": \"sign\"},"
        "{\"type\": \"regular\", \"bins\": 1000, \"start\": 0.2, \"stop\": 200.0, \"transform\": {\"kind\": \"log\"},"
        " \"name\": \"mass\", \"label\": \"$m_{\\\\mu\\\\mu}$ [GeV]\"}],"
        " \"storage\": \"int64\"}";
    int64_t h = host->declare_hist(host->ctx, "mass", spec);
    if (h < 0) {
      set_error(err, err_len, std::string("declare mass: ") + host->last_error(host->ctx));
      return nullptr;
    }
    return new State{h};
  } catch (const std::exception &e) {
    set_error(err, err_len, e.what());
    return nullptr;
  }
}

int32_t process(void *state, const casa_host *host, const casa_batch *b, char *err, uint64_t err_len) {
  try {
    auto *s = static_cast<State *>(state);
    const casa_column *pt = find(b, "Muon_pt"), *eta = find(b, "Muon_eta"), *phi = find(b, "Muon_phi"),
                      *m = find(b, "Muon_mass"), *q = find(b, "Muon_charge");
    if (!pt || !eta || !phi || !m || !q || pt->dtype != CASA_F32 || q->dtype != CASA_I32 || !pt->offsets) {
      set_error(err, err_len, "muon columns missing or of unexpected types");
      return -1;
    }
    const uint64_t *off = pt->offsets;
    auto f = [](const casa_column *c) { return static_cast<const float *>(c->values); };
    const int32_t *charge = static_cast<const int32_t *>(q->values);
    std::vector<double> opposite, same;
    for (uint64_t i = 0; i < b->n_entries; ++i) {
      if (off[i + 1] - off[i] != 2) continue;
      uint64_t j = off[i], k = j + 1;
      double mm = mass(p4(f(pt)[j], f(eta)[j], f(phi)[j], f(m)[j]), p4(f(pt)[k], f(eta)[k], f(phi)[k], f(m)[k]));
      (charge[j] + charge[k] == 0 ? opposite : same).push_back(mm);
    }
    const char *names[2] = {"opposite", "same"};
    std::vector<double> *values[2] = {&opposite, &same};
    for (int c = 0; c < 2; ++c) {
      casa_fill_arg args[2] = {{CASA_FILL_ONE_STR, names[c]}, {CASA_FILL_F64, values[c]->data()}};
      if (host->fill(host->ctx, s->mass, values[c]->size(), args, 2, nullptr, nullptr) != 0) {
        set_error(err, err_len, std::string("fill: ") + host->last_error(host->ctx));
        return -1;
      }
    }
    if (host->count(host->ctx, "entries", static_cast<double>(b->n_entries), 1) != 0) {
      set_error(err, err_len, std::string("count: ") + host->last_error(host->ctx));
      return -1;
    }
    return 0;
  } catch (const std::exception &e) {
    // Exceptions must not cross the C ABI.
    set_error(err, err_len, e.what());
    return -1;
  }
}

void destroy(void *state) { delete static_cast<State *>(state); }

const casa_plugin kPlugin = {CASA_ABI_VERSION, "dimuon-cpp", kColumns, init, process, destroy,
                             /*optional_columns=*/nullptr, /*select_columns=*/nullptr};

}  // namespace

extern "C" const casa_plugin *casa_plugin_v2(void) { return &kPlugin; }
