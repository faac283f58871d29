/*
 * connector_abi.h — the C boundary between the weft host and a connector shared library.
 *
 * A connector is a .so that exports one symbol, `weft_connector_entry`. The host dlopens it,
 * calls the entry with its host table, checks the ABI version of the table it gets back, reads the
 * manifest, creates one instance and calls `invoke` for every action run or trigger poll.
 *
 *   static const weft_host* g_host;
 *   WEFT_EXPORT const weft_connector* weft_connector_entry(const weft_host* host) {
 *     g_host = host; return &kMyConnector; }
 *
 * Rules of the boundary:
 * - Plain C only: no C++ type and no exception crosses it. Every entry point of a connector must
 *   catch everything (runtime/include/weft/sdk.hpp does this for you).
 * - Versions: both tables start with struct_size, abi_major, abi_minor. The host refuses a
 *   connector whose abi_major differs from its own or whose abi_minor is newer than its own.
 *   Tables only grow at the end; a field past the reader's struct_size is absent. A function whose
 *   meaning changes gets a new name (`..._v2`), the old one stays.
 * - Buffers are {ptr, len}; strings are UTF-8 and not necessarily NUL-terminated.
 * - JSON everywhere: inputs, outputs, settings and errors are JSON texts.
 * - Errors: a function returns WEFT_OK or WEFT_ERROR. With WEFT_ERROR the out buffer holds an error
 *   object {"code": "...", "message": "...", "retry_after_ms": n?}.
 *
 * This header depends on nothing but the C standard library.
 */
#ifndef WEFT_CONNECTOR_ABI_H
#define WEFT_CONNECTOR_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_ABI_MAJOR 1
#define WEFT_ABI_MINOR 0

/* The one symbol a connector exports. */
#define WEFT_ENTRY_SYMBOL "weft_connector_entry"

#if defined(__GNUC__)
#define WEFT_EXPORT __attribute__((visibility("default")))
#else
#define WEFT_EXPORT
#endif

typedef int32_t weft_status;
#define WEFT_OK ((weft_status)0)
#define WEFT_ERROR ((weft_status)1)

typedef int32_t weft_log_level;
#define WEFT_LOG_DEBUG ((weft_log_level)0)
#define WEFT_LOG_INFO ((weft_log_level)1)
#define WEFT_LOG_WARN ((weft_log_level)2)
#define WEFT_LOG_ERROR ((weft_log_level)3)

/*
 * A byte buffer handed across the boundary.
 * OWNERSHIP: ptr was allocated with weft_host.alloc. Whoever receives a filled weft_buf owns it and
 * releases it with weft_host.free: the host for buffers a connector fills (invoke output, create
 * error), the connector for buffers the host fills (http response, context, state_get).
 * An empty buffer is {NULL, 0} and needs no free.
 */
typedef struct weft_buf {
  char* ptr;
  size_t len;
} weft_buf;

/*
 * The context of one invoke: which run, step and connection it serves.
 * OWNERSHIP: host-owned and opaque; valid only until the invoke it was passed to returns. A
 * connector passes it back to the host functions below and never keeps it.
 */
typedef struct weft_call_ctx weft_call_ctx;

/*
 * What the host offers a connector. Every function is thread-safe.
 * OWNERSHIP: the table is host-owned and lives as long as the connector is loaded.
 */
typedef struct weft_host {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;

  /* Allocation for every buffer that crosses the boundary. alloc returns NULL on failure. */
  void* (*alloc)(size_t size);
  void (*free)(void* ptr);

  /* A log line, attributed to the connector and (when ctx is not NULL) the run and step. Known
   * secret values are redacted by the host. */
  void (*log)(weft_call_ctx* ctx, weft_log_level level, const char* msg, size_t msg_len);

  /*
   * An HTTP call made on behalf of the step's connection. The host adds the connection's
   * credentials (the connector never sees a client secret or refresh token), refreshes tokens,
   * paces and retries rate-limited calls, and enforces the step's deadline.
   * request_json: {"method": "GET", "url": "https://…", "headers": {"k": "v"},
   *                "query": {"k": "v"}, "body": "text" | "json": <any>, "timeout_ms": n,
   *                "auth": true}   ("auth": false sends the call without credentials)
   * On WEFT_OK response_json holds {"status": 200, "headers": {"k": "v"}, "body": "text"}, for
   * every HTTP status. On WEFT_ERROR it holds an error object: no response was had (DNS, connect,
   * TLS, timeout, rate limited past the deadline, connection needs re-authorization).
   */
  weft_status (*http)(weft_call_ctx* ctx, const char* request_json, size_t request_len,
                      weft_buf* response_json);

  /*
   * The context of this call as JSON: {"connector": "id", "operation": "…", "connection": "name"
   * or null, "settings": {…the connection's settings merged over the manifest's defaults…},
   * "run_id": "…", "step_id": "…", "deadline_ms": n (epoch ms) or null}.
   */
  weft_status (*context)(weft_call_ctx* ctx, weft_buf* context_json);

  /* Durable per-trigger (or per-connector when outside a trigger) key/value state. state_get
   * fills value_json with the stored JSON, or with "null" when the key is unset. */
  weft_status (*state_get)(weft_call_ctx* ctx, const char* key, size_t key_len,
                           weft_buf* value_json);
  weft_status (*state_set)(weft_call_ctx* ctx, const char* key, size_t key_len,
                           const char* value_json, size_t value_len);
} weft_host;

/*
 * What a connector gives the host.
 * OWNERSHIP: connector-owned static storage; must stay valid until the library is unloaded.
 */
typedef struct weft_connector {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;

  /* The manifest (schemas/connector-manifest.schema.json): id, version, auth, settings, actions and
   * triggers with their input/output JSON Schemas. */
  const char* manifest_json;
  size_t manifest_len;

  /*
   * Creates an instance. settings_json is the manifest's settings defaults as an object. On
   * WEFT_ERROR, *instance is ignored and error_json holds an error object.
   * OWNERSHIP: *instance belongs to the connector and is released with destroy.
   */
  weft_status (*create)(const char* settings_json, size_t settings_len, void** instance,
                        weft_buf* error_json);
  void (*destroy)(void* instance);

  /*
   * Runs one action or polls one trigger. operation is the action or trigger id (without the
   * connector prefix), NUL-terminated. input_json was validated against the operation's input
   * schema; the host validates the output against its output schema.
   * For a polling trigger the input is {"params": {…}, "cursor": <json or null>} and the output is
   * {"items": [ … ], "cursor": <json>}; the host stores the cursor only after it has recorded the
   * runs for the items, so an item is never lost and never fires twice.
   * May be called from several threads at once on one instance.
   * On WEFT_OK output_json holds the output; on WEFT_ERROR an error object.
   */
  weft_status (*invoke)(void* instance, const char* operation, const char* input_json,
                        size_t input_len, weft_call_ctx* ctx, weft_buf* output_json);
} weft_connector;

typedef const weft_connector* (*weft_connector_entry_fn)(const weft_host* host);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* WEFT_CONNECTOR_ABI_H */
