/* manifest: a dbt manifest.json in the compact form state comparison needs
 * (hashes, a few names, canonical unrendered config), streamed so that a
 * 100 MB manifest costs tens of megabytes, not gigabytes. Knows nothing of
 * the comparison rules (plan.h) or of Lua. */
#ifndef DR_MANIFEST_H
#define DR_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define DR_MANIFEST_MEM_MAX (1ull << 30) /* cap on one manifest's compact form */
#define DR_MANIFEST_NODES_MAX (4u << 20) /* cap on nodes (and on macros) */
#define DR_MANIFEST_DISPLAY_MAX 96       /* bytes of a config value kept for reports */

/* A 128-bit content hash (not cryptographic; collisions are not a concern
 * between two manifests of one project). */
struct dr_hash {
    uint64_t lo, hi;
};

enum dr_manifest_kind {
    DR_MK_MODEL,
    DR_MK_SEED,
    DR_MK_SNAPSHOT,
    DR_MK_TEST,
    DR_MK_ANALYSIS,
    DR_MK_OPERATION,
    DR_MK_SOURCE,
    DR_MK_EXPOSURE,
    DR_MK_METRIC,
    DR_MK_SEMANTIC_MODEL,
    DR_MK_SAVED_QUERY,
    DR_MK_UNIT_TEST,
    DR_MK_FUNCTION,
    DR_MK_OTHER,
    DR_MK_COUNT
};

/* Node properties compared as whole values (canonical JSON hashes). Which of
 * them matter depends on the kind; see plan.c. */
enum dr_manifest_prop {
    DR_MP_FQN,
    DR_MP_ACCESS,
    DR_MP_LATEST_VERSION,
    DR_MP_DEPRECATION_DATE,
    DR_MP_QUOTING,
    DR_MP_FRESHNESS,
    DR_MP_LOADED_AT_FIELD,
    DR_MP_EXTERNAL,
    DR_MP_TYPE,
    DR_MP_OWNER,
    DR_MP_MATURITY,
    DR_MP_URL,
    DR_MP_LABEL,
    DR_MP_FILTER,
    DR_MP_METADATA,
    DR_MP_TYPE_PARAMS,
    DR_MP_MODEL,
    DR_MP_DEFAULTS,
    DR_MP_ENTITIES,
    DR_MP_DIMENSIONS,
    DR_MP_MEASURES,
    DR_MP_PRIMARY_ENTITY,
    DR_MP_GROUP,
    DR_MP_QUERY_PARAMS,
    DR_MP_EXPORTS,
    DR_MP_TAGS,
    DR_MP_ARGUMENTS,
    DR_MP_RETURNS,
    DR_MP_COUNT
};

/* One key of unrendered_config. */
struct dr_manifest_config {
    const char *key;
    struct dr_hash value; /* hash of the value as canonical JSON */
    const char *display;  /* canonical JSON, cut to DR_MANIFEST_DISPLAY_MAX bytes */
};

/* A constraint (column- or model-level) as canonical JSON, with its type. */
struct dr_manifest_constraint {
    const char *json;
    const char *type;
};

struct dr_manifest_column {
    const char *key; /* the key in the node's columns object */
    struct dr_hash description;
    const char *data_type; /* NULL when null */
    struct dr_manifest_constraint *constraints;
    uint32_t nconstraints;
};

struct dr_manifest_node {
    const char *unique_id;
    const char *name;
    const char *resource_type;
    const char *package_name;
    const char *path; /* original_file_path */
    enum dr_manifest_kind kind;
    uint32_t id;               /* intern id of unique_id */
    unsigned generic_test : 1; /* a test with test_metadata */
    unsigned has_raw_code : 1; /* raw_code (or raw_sql) was present */
    unsigned uses_var : 1;     /* raw_code calls var() */
    unsigned persist_relation : 1;
    unsigned persist_columns : 1;
    unsigned contract_enforced : 1;
    unsigned has_depends_on : 1;
    unsigned has_columns : 1;
    unsigned missing_macro : 1; /* depends_on.macros held a null: dbt lost a macro */
    struct dr_hash raw_code;
    const char *checksum_name; /* NULL when checksum was a plain string */
    const char *checksum;
    struct dr_manifest_config *config; /* unrendered_config, sorted by key */
    uint32_t nconfig;
    struct dr_hash description;
    struct dr_manifest_column *columns; /* in manifest order */
    uint32_t ncolumns;
    const char *database, *schema, *identifier; /* rendered; NULL when null */
    const char *unrendered_database, *unrendered_schema;
    const char *materialized; /* config.materialized */
    const char *contract_checksum;
    struct dr_manifest_constraint *constraints; /* model-level */
    uint32_t nconstraints;
    const char *version;        /* canonical JSON of `version`, or NULL */
    const char *tags;           /* canonical JSON of `tags` (for completion), or NULL */
    const char *test_name;      /* test_metadata.name of a generic test, or NULL */
    const char *test_namespace; /* test_metadata.namespace (a package), or NULL */
    uint32_t *macros;           /* depends_on.macros, intern ids */
    uint32_t nmacros;
    uint32_t *depends; /* depends_on.nodes, intern ids */
    uint32_t ndepends;
    uint32_t props_mask; /* bit i set: props holds DR_MP i (in enum order) */
    struct dr_hash *props;
};

struct dr_manifest_macro {
    const char *unique_id;
    uint32_t id;
    unsigned uses_var : 1;
    struct dr_hash sql;
    uint32_t *macros; /* depends_on.macros, intern ids */
    uint32_t nmacros;
};

struct dr_manifest_store; /* private: interned ids, arena */

struct dr_manifest {
    const char *dbt_version;    /* metadata.dbt_version, or NULL */
    const char *schema_version; /* metadata.dbt_schema_version, or NULL */
    const char *adapter_type;
    const char *project_name;
    const char *generated_at;
    struct dr_manifest_node *nodes; /* every selector target, in file order */
    size_t nnodes;
    struct dr_manifest_macro *macros;
    size_t nmacros;
    size_t ndisabled;  /* unique ids under `disabled` */
    size_t nids;       /* interned strings: ids are below this */
    int has_child_map; /* else children come from depends_on.nodes */
    size_t bytes;      /* input size */
    size_t mem;        /* bytes held by the compact form */
    struct dr_manifest_store *store;
};

/* Reads the manifest at `path`. On success returns 0 and sets *out (free with
 * dr_manifest_free); on failure returns -1 with a message in err. */
int dr_manifest_load(const char *path, struct dr_manifest **out, char *err, size_t errlen);

/* The same from a memory block (tests, small inputs). */
int dr_manifest_parse(const char *data, size_t len, struct dr_manifest **out, char *err,
                      size_t errlen);

/* Frees a manifest and everything it owns; NULL is fine. */
void dr_manifest_free(struct dr_manifest *m);

/* Whether the manifest at `path` is missing or older than any file under the
 * `n` paths of `roots` (files or folders, walked recursively; missing ones
 * are ignored). Returns 1 (stale) with the reason in why, or 0 (fresh). */
int dr_manifest_stale(const char *path, const char *const *roots, size_t n, char *why,
                      size_t whylen);

/* The intern id of `s` (n bytes), or -1 when this manifest never saw it. */
long dr_manifest_lookup(const struct dr_manifest *m, const char *s, size_t n);

/* The text of an intern id. */
const char *dr_manifest_id_text(const struct dr_manifest *m, uint32_t id);

/* The node or macro an intern id names, or NULL. */
const struct dr_manifest_node *dr_manifest_id_node(const struct dr_manifest *m, uint32_t id);
const struct dr_manifest_macro *dr_manifest_id_macro(const struct dr_manifest *m, uint32_t id);

/* The node / macro with this unique id, or NULL. */
const struct dr_manifest_node *dr_manifest_find(const struct dr_manifest *m, const char *uid);
const struct dr_manifest_macro *dr_manifest_find_macro(const struct dr_manifest *m,
                                                       const char *uid);

/* Whether `uid` is listed under the manifest's `disabled`. */
int dr_manifest_is_disabled(const struct dr_manifest *m, const char *uid);

/* The children of intern id `id` (child_map, or inverted depends_on.nodes);
 * *n is set to their count. The array belongs to the manifest. */
const uint32_t *dr_manifest_children(const struct dr_manifest *m, uint32_t id, uint32_t *n);

/* Property `prop` of a node; the hash of JSON null when the node lacks it. */
struct dr_hash dr_manifest_prop(const struct dr_manifest_node *node, enum dr_manifest_prop prop);

/* The unrendered_config entry `key` of a node, or NULL. */
const struct dr_manifest_config *dr_manifest_config_get(const struct dr_manifest_node *node,
                                                        const char *key);

/* The 128-bit hash of n bytes. */
struct dr_hash dr_manifest_hash(const void *data, size_t n);

/* Whether two hashes are equal. */
int dr_manifest_hash_eq(struct dr_hash a, struct dr_hash b);

/* The resource-type name of a kind ("model", "seed", ...). */
const char *dr_manifest_kind_name(enum dr_manifest_kind kind);

/* The name of a property ("fqn", "freshness", ...). */
const char *dr_manifest_prop_name(enum dr_manifest_prop prop);

#endif
