/* bench_null: a collectd read plugin that does no I/O and dispatches N
 * gauge values per read, for the CPU-per-poll benchmark. It measures what
 * collectd itself charges for a read callback and its dispatched values
 * (scheduling, the value cache, the write queue): the part of a poll's
 * cost that no HTTP plugin can avoid. Built by bench/run; never installed.
 *
 *   LoadPlugin bench_null
 *   <Plugin bench_null>
 *     Values 11        # values per read, 1..64 (default 11)
 *   </Plugin>
 */
#include "collectd.h"
#include "plugin.h"
#include "utils/common/common.h"

#define NULL_MAX_VALUES 64

static int values_per_read = 11;

static int null_config(oconfig_item_t *ci) {
  for (int i = 0; i < ci->children_num; i++) {
    oconfig_item_t *c = ci->children + i;
    if (strcasecmp(c->key, "Values") == 0 &&
        cf_util_get_int(c, &values_per_read) == 0 && values_per_read >= 1 &&
        values_per_read <= NULL_MAX_VALUES)
      continue;
    ERROR("bench_null plugin: option \"%s\" is unknown or out of range.",
          c->key);
    return -1;
  }
  return 0;
}

static int null_read(user_data_t *ud) {
  (void)ud;
  for (int i = 0; i < values_per_read; i++) {
    value_list_t vl = VALUE_LIST_INIT;
    vl.values = &(value_t){.gauge = (gauge_t)i};
    vl.values_len = 1;
    sstrncpy(vl.plugin, "bench_null", sizeof(vl.plugin));
    sstrncpy(vl.type, "gauge", sizeof(vl.type));
    snprintf(vl.type_instance, sizeof(vl.type_instance), "v%02d", i);
    plugin_dispatch_values(&vl);
  }
  return 0;
}

static int null_init(void) {
  return plugin_register_complex_read(NULL, "bench_null", null_read, 0, NULL);
}

void module_register(void) {
  plugin_register_complex_config("bench_null", null_config);
  plugin_register_init("bench_null", null_init);
}
