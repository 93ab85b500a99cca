/* A minimal C interface to the XRootD client (XrdCl::File), for Rust through bindgen.
 *
 * Every call that talks to a server takes a deadline in milliseconds and returns by then,
 * whatever the server does: XrdCl only checks its own timeouts every TimeoutResolution
 * seconds and retries connections for minutes, so the shim waits on the asynchronous API
 * itself. A call that returns at its deadline with the request still in flight sets
 * `pending`: XrdCl may still write into that request's buffers later, so the caller must
 * keep them allocated (leak them). Calls return 0 on success, -1 on failure (see `st`).
 * Thread safety: one xrd_file may be used by several threads at once (XrdCl serialises
 * inside); xrd_close must not race with other calls on the same file.
 */
#ifndef XRD_SHIM_H
#define XRD_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Server limits of one kXR_readv request (XProtocol's maxRvecsz and maxRvecln); XrdCl does
 * not split vector reads, xrd_readv does. */
#define XRD_READV_MAX_CHUNKS 1024
#define XRD_READV_MAX_CHUNK_LEN 2097136

/* The outcome of a call. */
typedef struct xrd_status {
  /* XrdCl status: 0 OK, 1 error (stError), 3 fatal (stFatal). */
  uint16_t status;
  /* XrdCl error code (errOperationExpired = 206, errConnectionError = 108, ...); 400 means
   * the server answered with an error, whose kXR code is in errnum. */
  uint16_t code;
  /* kXR_* code when code == 400 (3011 not found, 3010 not authorized, ...), else an errno
   * or 0. */
  uint32_t errnum;
  /* 1 when the shim's deadline passed before XrdCl answered. */
  int32_t timed_out;
  /* 1 when buffers given to the call may still be written to (see above). */
  int32_t pending;
  /* XrdCl's message, NUL-terminated, cut to fit. */
  char message[512];
} xrd_status;

/* An open remote file (an XrdCl::File). */
typedef struct xrd_file xrd_file;

/* One piece of a vector read: `length` bytes at `offset` into `buffer`. */
typedef struct xrd_chunk {
  uint64_t offset;
  uint32_t length;
  void *buffer;
} xrd_chunk;

/* The XRootD client's version string, e.g. "v5.5.3". */
const char *xrd_version(void);

/* Set an XrdCl setting (DefaultEnv, e.g. "RequestTimeout"); 1 if applied, 0 if an XRD_*
 * environment variable already fixes it (the site's choice wins). Call before any I/O. */
int xrd_set_int(const char *key, int value);
/* Read an XrdCl setting; 1 if known. */
int xrd_get_int(const char *key, int *value);

/* Open `url` read-only; NULL on failure. */
xrd_file *xrd_open(const char *url, uint32_t timeout_ms, xrd_status *st);
/* The file's size in bytes (a fresh stat from the server). */
int xrd_size(xrd_file *f, uint32_t timeout_ms, uint64_t *size, xrd_status *st);
/* Read up to `length` bytes at `offset`; `*bytes_read` is less only at the end of file. */
int xrd_read(xrd_file *f, uint64_t offset, uint32_t length, void *buffer,
             uint32_t *bytes_read, uint32_t timeout_ms, xrd_status *st);
/* Read all chunks (any number, any lengths; none may cross the end of the file). Split into
 * requests within the server's limits, all in flight at once; fails unless every byte
 * arrived. */
int xrd_readv(xrd_file *f, const xrd_chunk *chunks, size_t n, uint32_t timeout_ms,
              xrd_status *st);
/* "host:port" of the server that holds the open file (after redirects), into `buf`; 0 if
 * unknown. */
int xrd_data_server(xrd_file *f, char *buf, size_t len);
/* Close and free without waiting (XrdCl closes in the background; in-flight requests keep
 * their own reference). */
void xrd_close(xrd_file *f);

#ifdef __cplusplus
}
#endif

#endif
