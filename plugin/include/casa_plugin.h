/*
 * casa_plugin.h: the C ABI between casa-wrapper (the host) and an analysis plugin (a shared
 * library). ABI version 1.
 *
 * A plugin exports one function, `casa_plugin_v1`, returning a static description: its name,
 * the branches (columns) it reads, and three callbacks. For each job the host calls `init`
 * once, `process` once per batch of events (all columns of the batch, as contiguous native
 * arrays), and `destroy` at the end. The plugin never owns results: it declares histograms and
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

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CASA_ABI_VERSION 1

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

/* One batch: consecutive entries of one file, with every column the plugin asked for. */
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
} casa_host;

typedef struct casa_plugin {
  uint32_t abi_version;            /* CASA_ABI_VERSION */
  const char *name;
  const char *const *columns;      /* NULL-terminated list of branch names */
  void *(*init)(const casa_host *host, char *err, uint64_t err_len);
  int32_t (*process)(void *state, const casa_host *host, const casa_batch *batch,
                     char *err, uint64_t err_len);
  void (*destroy)(void *state);
} casa_plugin;

/* The one symbol a plugin exports. */
const casa_plugin *casa_plugin_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* CASA_PLUGIN_H */
