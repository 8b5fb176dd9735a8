/* Compiled as C99/C11/C17 and C++11/17/20 by the test suite: the ABI header must stand alone
 * and stay warning-free under -Wall -Wextra -pedantic -Werror. */
#include <migrator/plugin_api.h>

/* Layout facts a plugin author relies on. */
typedef char check_host_prefix[(offsetof(mig_host_v1, struct_size) == 0) ? 1 : -1];
typedef char check_plugin_prefix[(offsetof(mig_plugin_v1, struct_size) == 0) ? 1 : -1];
typedef char check_plugin_v1_0_size[(MIG_PLUGIN_V1_0_SIZE <= sizeof(mig_plugin_v1)) ? 1 : -1];
/* 1.1 grew the descriptor at the end, by frozen_schemas, and only by it. */
typedef char check_plugin_v1_1_grows[(MIG_PLUGIN_V1_1_SIZE > MIG_PLUGIN_V1_0_SIZE) ? 1 : -1];
typedef char check_plugin_v1_1_size[(MIG_PLUGIN_V1_1_SIZE <= sizeof(mig_plugin_v1)) ? 1 : -1];
typedef char check_plugin_v1_1_at_end[(offsetof(mig_plugin_v1, frozen_schemas) >= MIG_PLUGIN_V1_0_SIZE) ? 1 : -1];
typedef char check_abi_minor[(MIG_ABI_MINOR >= 1) ? 1 : -1];
typedef char check_host_v1_0_size[(MIG_HOST_V1_0_SIZE <= sizeof(mig_host_v1)) ? 1 : -1];

static mig_status up_step(const mig_host_v1 *host, mig_error_buf *err) {
    (void)err;
    return host->exec(host->ctx, "SELECT 1");
}

static const mig_plugin_v1 descriptor = {
    sizeof(mig_plugin_v1), MIG_ABI_MAJOR, MIG_ABI_MINOR, "0001_c", "", "plain C", "00",
    MIG_FLAG_IRREVERSIBLE, up_step, NULL, 0, NULL,
    "SavedAgentMessage sha256:0000000000000000000000000000000000000000000000000000000000000000"};

#ifdef __cplusplus
extern "C"
#endif
const mig_plugin_v1 *mig_get_plugin_v1(uint32_t host_abi_major, uint32_t host_abi_minor);

const mig_plugin_v1 *mig_get_plugin_v1(uint32_t host_abi_major, uint32_t host_abi_minor) {
    (void)host_abi_minor;
    return host_abi_major == MIG_ABI_MAJOR ? &descriptor : NULL;
}
