/*
 * casa_plugin.h: the C ABI between casa-wrapper (the host) and an analysis plugin (a shared
 * library). ABI version 2.
 *
 * A plugin exports one function, `casa_plugin_v2`, returning a static description: its name,
 * the branches (columns) it reads, and its callbacks. For each job the host calls `init`
 * once, `select_columns` (if given) before each chunk, `process` once per batch of events (all
 * columns of the batch, as contiguous native arrays), and `destroy` at the end.
 *
 * Versions: version 2 appends `optional_columns` and `select_columns` to version 1's
 * `casa_plugin`, and the configuration, shipped-input and correction functions to the host
 * table; batches are unchanged. A version-2 host still loads
 * version-1 plugins (which export `casa_plugin_v1` and end their descriptor at `destroy`); an
 * older host refuses a version-2 plugin, naming both versions. The plugin never owns results: it declares histograms and
 * fills them, and adds to counters, through the host's function table, and the host keys
 * everything by the batch's dataset (as coffea's Runner does). A callback reports failure by
 * returning non-zero (init: NULL) and writing a message into `err` (at most `err_len` bytes,
 * NUL-terminated). Callbacks must not throw C++ exceptions or unwind across this boundary.
 *
 * Strings are UTF-8 and NUL-terminated. All pointers in a batch are valid only during the
 * `process` call.
 */
#ifndef CASA_PLUGIN_H
#define CASA_PLUGIN_H

#include <math.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CASA_ABI_VERSION 2

/* Element types of column values (native endianness; bool is one byte, 0 or 1). */
enum casa_dtype {
  CASA_BOOL = 0,
  CASA_I8 = 1,
  CASA_U8 = 2,
  CASA_I16 = 3,
  CASA_U16 = 4,
  CASA_I32 = 5,
  CASA_U32 = 6,
  CASA_I64 = 7,
  CASA_U64 = 8,
  CASA_F32 = 9,
  CASA_F64 = 10
};

/* One column of a batch. Flat columns have offsets == NULL and n_entries * inner values.
 * Jagged columns (Muon_pt[nMuon], std::vector) have n_entries + 1 offsets: the items of entry i
 * are [offsets[i], offsets[i+1]), each item holding `inner` values. */
typedef struct casa_column {
  const char *name;
  int32_t dtype;            /* enum casa_dtype */
  uint64_t inner;           /* values per item (1, or the size of a fixed array) */
  uint64_t n_values;
  const void *values;
  const uint64_t *offsets;  /* NULL for flat columns */
} casa_column;

/* One batch: consecutive entries of one file, with every required column the plugin asked
 * for and the optional ones this file has (an absent optional column is not in `columns`).
 * Event i of the batch is entry `entry_start + i` of the file: with `file_uuid` it names the
 * event for good (the key of the random numbers below). */
typedef struct casa_batch {
  const char *dataset;
  const char *file;
  const char *tree;
  const char *file_uuid;
  const char *metadata_json;  /* the dataset's fileset metadata, e.g. {"is_mc": true} */
  uint64_t entry_start;       /* entry range of this batch in the file */
  uint64_t entry_stop;
  uint64_t n_entries;
  uint64_t n_columns;
  const casa_column *columns; /* in the order the plugin listed them */
} casa_batch;

/* How one fill argument (one per histogram axis) is given. */
enum casa_fill_kind {
  CASA_FILL_F64 = 0,     /* data: const double[n] */
  CASA_FILL_F32 = 1,     /* data: const float[n] */
  CASA_FILL_I64 = 2,     /* data: const int64_t[n] */
  CASA_FILL_BOOL = 3,    /* data: const uint8_t[n] (0 or 1) */
  CASA_FILL_STR = 4,     /* data: const char *const[n] */
  CASA_FILL_ONE_F64 = 5, /* data: const double *, the same value for all n */
  CASA_FILL_ONE_I64 = 6, /* data: const int64_t * */
  CASA_FILL_ONE_STR = 7, /* data: const char *, the same category for all n */
  CASA_FILL_ONE_BOOL = 8 /* data: const uint8_t * (0 or 1) */
};

typedef struct casa_fill_arg {
  int32_t kind;          /* enum casa_fill_kind */
  const void *data;
} casa_fill_arg;

/* The host's functions. `ctx` is passed back on every call. Functions returning int32_t give 0
 * on success and -1 on error; `last_error` then describes it. */
typedef struct casa_host {
  uint32_t abi_version;
  void *ctx;
  /* Declare a histogram by name with a JSON spec, for example
   *   {"axes": [{"type": "str_category", "categories": ["opposite", "same"], "name": "sign"},
   *             {"type": "regular", "bins": 1000, "start": 0.2, "stop": 200.0,
   *              "transform": {"kind": "log"}, "name": "mass", "label": "m [GeV]"}],
   *    "storage": "int64"}
   * Axis types: regular (transform none/log/sqrt/pow), variable, integer, str_category,
   * int_category, boolean; storages: int64, double, weight, mean, weighted_mean.
   * Returns a handle >= 0, or -1. */
  int64_t (*declare_hist)(void *ctx, const char *name, const char *spec_json);
  /* Fill n entries into the current dataset's copy of a histogram: one argument per axis,
   * optional weights[n] and samples[n] (mean storages) or NULL. */
  int32_t (*fill)(void *ctx, int64_t hist, uint64_t n, const casa_fill_arg *args,
                  uint64_t n_args, const double *weights, const double *samples);
  /* Add to a counter of the current dataset (integer when is_int != 0). */
  int32_t (*count)(void *ctx, const char *name, double value, int32_t is_int);
  const char *(*last_error)(void *ctx);

  /* ---- Version 2 (appended; a version-1 plugin never reads past last_error) ---- */

  /* The run's plugin configuration (casa-submit plan --config cfg.{json,toml}) as JSON text,
   * "null" when the run has none. Owned by the host, valid for the whole job. */
  const char *(*config_json)(void *ctx);
  /* The local path of the input shipped with the job under `name` (casa-submit plan
   * --input FILE; the name is the file name), valid for the whole job; NULL when the job ships
   * no such input (last_error names it and the inputs there are). */
  const char *(*input_path)(void *ctx, const char *name);
  /* correctionlib (JSON schema v2, .json or .json.gz), evaluated by the host with casa's
   * native evaluator, so a C++ plugin needs no correctionlib of its own:
   *   int64_t set = host->correction_set(host->ctx, "corrections.json");      (in init)
   *   int64_t c = host->correction(host->ctx, set, "event_systematics");
   *   casa_fill_arg in[3] = {{CASA_FILL_ONE_STR, "btag_var"}, {CASA_FILL_ONE_STR, "up"},
   *                          {CASA_FILL_F32, jet_pt}};                       (in process)
   *   host->correction_eval(host->ctx, c, n, in, 3, weights);
   * correction_set reads the shipped input `input_name` and returns a handle >= 0 (the same
   * one for the same input), or -1. correction returns a handle >= 0 for the correction
   * `name` of a set (from "corrections", else "compound_corrections"), or -1.
   * correction_eval evaluates n rows: one argument per correction input, in the correction's
   * input order, as fill arguments (CASA_FILL_F64, _F32, _I64, _STR arrays of n values, or
   * CASA_FILL_ONE_F64, _ONE_I64, _ONE_STR constants); the results go to out[n]. Returns 0,
   * or -1 (wrong number or type of inputs, an unknown category, a value out of range with
   * flow "error": last_error says which). */
  int64_t (*correction_set)(void *ctx, const char *input_name);
  int64_t (*correction)(void *ctx, int64_t set, const char *name);
  int32_t (*correction_eval)(void *ctx, int64_t correction, uint64_t n,
                             const casa_fill_arg *args, uint64_t n_args, double *out);
} casa_host;

/* The columns a plugin reads for one dataset: NULL-terminated lists (either may be NULL),
 * owned by the plugin and valid until its next `select_columns` or `destroy` call. */
typedef struct casa_column_lists {
  const char *const *required; /* a file without one of them fails the job (exit 12) */
  const char *const *optional; /* read when the file has them */
} casa_column_lists;

typedef struct casa_plugin {
  uint32_t abi_version;            /* CASA_ABI_VERSION */
  const char *name;
  const char *const *columns;      /* NULL-terminated list of required branch names */
  void *(*init)(const casa_host *host, char *err, uint64_t err_len);
  int32_t (*process)(void *state, const casa_host *host, const casa_batch *batch,
                     char *err, uint64_t err_len);
  void (*destroy)(void *state);
  /* Version 2. Branches read when the file has them (MC-only ones such as genWeight):
   * NULL-terminated, or NULL. */
  const char *const *optional_columns;
  /* Version 2, may be NULL. Chooses the columns for a dataset from its name and fileset
   * metadata (JSON) and the plugin's state; called after `init`, before each chunk. Fill
   * `out` and return 0, or return -1 with a message. NULL: `columns` and `optional_columns`. */
  int32_t (*select_columns)(void *state, const char *dataset, const char *metadata_json,
                            casa_column_lists *out, char *err, uint64_t err_len);
} casa_plugin;

/* The one symbol a plugin exports. */
const casa_plugin *casa_plugin_v2(void);

/* ---- Reproducible random numbers ---------------------------------------------------------
 * The same numbers as the Rust SDK's `casa_plugin::random` (its docs define the algorithm):
 * Philox4x32-10 keyed by FNV-1a(file UUID, 0xFF, stream name), counted by
 * (entry low, entry high, object index, 0). A draw depends only on the file, the stream, the
 * entry and the object, never on how the fileset was cut into jobs and batches.
 *
 *   casa_rng r = casa_rng_new(batch->file_uuid, "jer");
 *   double f = 1.0 + 0.05 * casa_rng_normal(&r, batch->entry_start + i, j);
 */
typedef struct casa_rng {
  uint32_t key[2];
} casa_rng;

static inline void casa_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
                                      uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c1 = (uint32_t)p1;
    c3 = (uint32_t)p0;
    c0 = n0;
    c2 = n2;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

static inline casa_rng casa_rng_new(const char *file_uuid, const char *stream) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const unsigned char *p = (const unsigned char *)file_uuid; *p; ++p)
    h = (h ^ *p) * 0x100000001b3ull;
  h = (h ^ 0xFFu) * 0x100000001b3ull;
  for (const unsigned char *p = (const unsigned char *)stream; *p; ++p)
    h = (h ^ *p) * 0x100000001b3ull;
  casa_rng r = {{(uint32_t)h, (uint32_t)(h >> 32)}};
  return r;
}

static inline void casa_rng_block(const casa_rng *r, uint64_t entry, uint32_t index,
                                  uint32_t out[4]) {
  uint32_t ctr[4] = {(uint32_t)entry, (uint32_t)(entry >> 32), index, 0};
  casa_philox4x32_10(ctr, r->key, out);
}

static inline double casa_rng_unit_(uint32_t hi, uint32_t lo) {
  uint64_t x = (((uint64_t)hi << 32) | lo) >> 12;
  return ((double)x + 0.5) * (1.0 / 4503599627370496.0); /* 2^-52 */
}

/* Uniform in (0, 1) for file entry `entry`, object `index` (0 for per-event draws). */
static inline double casa_rng_uniform(const casa_rng *r, uint64_t entry, uint32_t index) {
  uint32_t w[4];
  casa_rng_block(r, entry, index, w);
  return casa_rng_unit_(w[0], w[1]);
}

/* Standard normal for file entry `entry`, object `index` (Box-Muller, cosine branch). */
static inline double casa_rng_normal(const casa_rng *r, uint64_t entry, uint32_t index) {
  uint32_t w[4];
  casa_rng_block(r, entry, index, w);
  double u1 = casa_rng_unit_(w[0], w[1]), u2 = casa_rng_unit_(w[2], w[3]);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#ifdef __cplusplus
}
#endif

#endif /* CASA_PLUGIN_H */
