/* connector_abi.h as a C connector sees it: compiled with -std=c99 -Wall -Wextra -Werror -pedantic
 * (ctest connector_abi_compiles_as_c99). Uses every type and table field, so a C++-only construct
 * in the header (a default argument, a reference, bool without stdbool.h, // comments) fails. */
#include <stddef.h>
#include <string.h>

#include "weft/connector_abi.h"

static const char manifest[] = "{\"id\":\"c99\"}";

static weft_status c99_create(const char* settings_json, size_t settings_len, void** instance,
                              weft_buf* error_json) {
  (void)settings_json;
  (void)settings_len;
  (void)error_json;
  *instance = NULL;
  return WEFT_OK;
}

static void c99_destroy(void* instance) { (void)instance; }

static weft_status c99_invoke(void* instance, const char* operation, const char* input_json, size_t input_len,
                              weft_call_ctx* ctx, weft_buf* output_json) {
  (void)instance;
  (void)input_json;
  (void)input_len;
  (void)ctx;
  (void)output_json;
  return strcmp(operation, "noop") == 0 ? WEFT_OK : WEFT_ERROR;
}

static weft_connector table = {sizeof(weft_connector), WEFT_ABI_MAJOR, WEFT_ABI_MINOR, manifest,
                               sizeof manifest - 1,    c99_create,     c99_destroy,    c99_invoke};

const weft_connector* weft_connector_entry(const weft_host* host);
const weft_connector* weft_connector_entry(const weft_host* host) {
  weft_buf buf;
  if (host == NULL || host->struct_size < sizeof(weft_host) || host->abi_major != WEFT_ABI_MAJOR) return NULL;
  memset(&buf, 0, sizeof buf);
  if (host->context != NULL && host->context(NULL, &buf) == WEFT_OK && host->free != NULL)
    host->free(buf.ptr);
  if (host->log != NULL) host->log(NULL, WEFT_LOG_INFO, "loaded", 6);
  (void)host->alloc;
  (void)host->http;
  (void)host->state_get;
  (void)host->state_set;
  return &table;
}

/* A pointer of the entry's type, as a host stores it. */
weft_connector_entry_fn c99_entry_fn = weft_connector_entry;
