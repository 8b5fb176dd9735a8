/* bench/plugin_template.c: one migration plugin per revision, generated at bench time.
 *
 * Plain C against plugin_api.h (the ABI is C), so that 1000 plugins compile in seconds rather
 * than minutes. Built by bench/startup.sh with the same link rules as migrator_add_plugin()
 * (version script exporting only mig_get_plugin_v1, -z defs, -z now) and with
 *   -DBENCH_REV="r00042" -DBENCH_PARENT="r00041" -DBENCH_CHECKSUM="<sha256 hex>" -DBENCH_N=42
 * Each plugin carries the metadata note the host reads without loading it, with exactly the
 * layout MIGRATOR_PLUGIN emits, and a real up/down step. */
#include <migrator/plugin_api.h>

#define STR_(x) #x
#define STR(x) STR_(x)
#define BENCH_STRINGS BENCH_REV "\0" BENCH_PARENT "\0" BENCH_CHECKSUM "\0" "bench revision " STR(BENCH_N)

struct bench_note {
    uint32_t namesz, descsz, type;
    char name[12];
    uint32_t format, abi_minor, flags_lo, flags_hi;
    char strings[(sizeof(BENCH_STRINGS) + 3u) & ~3u];
};

__attribute__((section(MIG_NOTE_SECTION), used, aligned(4))) static const struct bench_note note = {
    sizeof(MIG_NOTE_NAME), 16u + ((sizeof(BENCH_STRINGS) + 3u) & ~3u), MIG_NOTE_TYPE_V1,
    MIG_NOTE_NAME, MIG_NOTE_FORMAT_V1, MIG_ABI_MINOR, 0u, 0u, BENCH_STRINGS};

static mig_status up(const mig_host_v1 *host, mig_error_buf *err) {
    (void)err;
    return host->exec(host->ctx, "CREATE TABLE bench_" STR(BENCH_N) "(x INTEGER)");
}

static mig_status down(const mig_host_v1 *host, mig_error_buf *err) {
    (void)err;
    return host->exec(host->ctx, "DROP TABLE bench_" STR(BENCH_N));
}

static const mig_plugin_v1 descriptor = {
    sizeof(mig_plugin_v1), MIG_ABI_MAJOR, MIG_ABI_MINOR, BENCH_REV, BENCH_PARENT,
    "bench revision " STR(BENCH_N), BENCH_CHECKSUM, 0u, up, down};

__attribute__((visibility("default"))) const mig_plugin_v1 *mig_get_plugin_v1(uint32_t host_abi_major,
                                                                             uint32_t host_abi_minor);
const mig_plugin_v1 *mig_get_plugin_v1(uint32_t host_abi_major, uint32_t host_abi_minor) {
    (void)host_abi_minor;
    (void)note;
    return host_abi_major == MIG_ABI_MAJOR ? &descriptor : 0;
}
