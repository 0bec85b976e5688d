/*
 * trmx/limits.h — every size limit applied to untrusted input, in one place.
 *
 * Readers check these before allocating anything from a number found in a file. docs/LIMITS.md
 * lists them with their reasons; change both together.
 */
#ifndef TRMX_LIMITS_H
#define TRMX_LIMITS_H

/* safetensors: the JSON header (the spec's own cap is 100 MB; ours fits many thousands of tensors). */
#define TRMX_SAFETENSORS_HEADER_MAX (16u * 1024u * 1024u)
/* safetensors: tensors in one file, dims of one tensor, bytes of one tensor name. */
#define TRMX_SAFETENSORS_TENSORS_MAX 65536
#define TRMX_SAFETENSORS_NAME_MAX 1024
/* safetensors: entries in __metadata__, bytes of one metadata value. */
#define TRMX_SAFETENSORS_METADATA_MAX 1024
#define TRMX_SAFETENSORS_METADATA_VALUE_MAX (64u * 1024u)

/* .npy: header bytes, dims (TRMX_MAX_DIMS), total payload bytes read into memory. */
#define TRMX_NPY_HEADER_MAX 65536
#define TRMX_NPY_DATA_MAX ((size_t)4 << 30)

/* Architecture config (YAML or metadata): file bytes, keys. */
#define TRMX_CONFIG_FILE_MAX (1024u * 1024u)
#define TRMX_CONFIG_KEYS_MAX 256
#define TRMX_CONFIG_VALUE_MAX 4096
/* Architecture config (YAML): bytes of one dotted key ("loss.name"), nesting of collections
 * anywhere in the file (libyaml's scanner is quadratic in flow nesting). */
#define TRMX_CONFIG_KEY_MAX 256
#define TRMX_CONFIG_DEPTH_MAX 16

/* TRM architecture sanity bounds (a model past these is not "tiny" and is refused). */
#define TRMX_ARCH_SEQ_LEN_MAX 65536
#define TRMX_ARCH_VOCAB_MAX 65536
#define TRMX_ARCH_HIDDEN_MAX 16384
#define TRMX_ARCH_HEADS_MAX 256
#define TRMX_ARCH_LAYERS_MAX 64
#define TRMX_ARCH_CYCLES_MAX 64
#define TRMX_ARCH_PUZZLE_IDS_MAX (64 * 1024 * 1024)
#define TRMX_ARCH_HALT_STEPS_MAX 1024

/* Solve: ACT steps a caller may ask for, rows in one batch. */
#define TRMX_SOLVE_STEPS_MAX 1024
#define TRMX_SOLVE_BATCH_MAX 4096

/* ---- Tasks (framework/tasks; docs/TASKS.md) ---- */
/* Text handed to a codec in one call, one line of it, and a file read whole (ARC JSON, text). */
#define TRMX_TASK_TEXT_MAX (256u * 1024u * 1024u)
#define TRMX_TASK_LINE_MAX (1024u * 1024u)
/* Codec parameters: pairs, and bytes of one key or value. */
#define TRMX_TASK_PARAMS_MAX 32
#define TRMX_TASK_PARAM_MAX 256
/* Fields of one CSV row. */
#define TRMX_TASK_CSV_FIELDS_MAX 16
/* Cells listed in one check result (trmx_check.cells). */
#define TRMX_CHECK_CELLS_MAX 1024
/* Sudoku: the largest side (4, 6 and 9 are supported). */
#define TRMX_SUDOKU_SIZE_MAX 9
/* Maze: side and canvas (Maze-Hard is 30x30). */
#define TRMX_MAZE_SIZE_MIN 2
#define TRMX_MAZE_SIZE_MAX 30
/* ARC: grid side (the official 30x30 canvas), pairs in one task, tasks in one file, JSON file bytes,
 * JSON nesting. */
#define TRMX_ARC_GRID_MAX 30
#define TRMX_ARC_PAIRS_MAX 256
#define TRMX_ARC_TASKS_MAX 100000
#define TRMX_ARC_FILE_MAX (64u * 1024u * 1024u)
/* tokens codec: sequence length, vocabulary. */
#define TRMX_TOKENS_SEQ_MAX 65536
#define TRMX_TOKENS_VOCAB_MAX 65536
/* Data sets: examples, bytes of token storage, files in a folder, folder depth, dataset.json and
 * identifiers.json bytes. */
#define TRMX_DATASET_EXAMPLES_MAX 2147483647LL
#define TRMX_DATASET_BYTES_MAX ((size_t)16 << 30)
#define TRMX_DATASET_FILES_MAX 100000
#define TRMX_DATASET_DEPTH_MAX 4
#define TRMX_DATASET_JSON_MAX (1u * 1024u * 1024u)
#define TRMX_DATASET_IDS_JSON_MAX (512u * 1024u * 1024u)
/* Generators: puzzles one `trmx gen` run may write. */
#define TRMX_GEN_COUNT_MAX 100000000

/* ---- Packages (packager/; docs/FORMAT.md, docs/SECURITY.md) ---- */
/* The archive file: its bytes, its central directory's bytes (read whole), its members, the
 * bytes of one member name and its folder depth. */
#define TRMX_PACKAGE_FILE_MAX (8ull << 30)
#define TRMX_PACKAGE_CD_MAX (4u * 1024u * 1024u)
#define TRMX_PACKAGE_ENTRIES_MAX 4096
#define TRMX_PACKAGE_PATH_MAX 255
#define TRMX_PACKAGE_DEPTH_MAX 8
/* Members: bytes of all members unpacked together, and the most one member may expand per byte
 * stored (deflate), counted once a member passes TRMX_PACKAGE_RATIO_SLACK unpacked bytes. */
#define TRMX_PACKAGE_UNPACKED_MAX (4ull << 30)
#define TRMX_PACKAGE_RATIO_MAX 100
#define TRMX_PACKAGE_RATIO_SLACK (1u * 1024u * 1024u)
/* An example file read for checking, manifest.sig, a key file. */
#define TRMX_PACKAGE_EXAMPLE_MAX (1u * 1024u * 1024u)
#define TRMX_SIGNATURE_FILE_MAX 4096
#define TRMX_KEY_FILE_MAX 4096
/* Trust store: public keys in TRMX_HOME/trust. */
#define TRMX_TRUST_KEYS_MAX 1024
/* manifest.yaml: bytes, nesting of collections (the top-level mapping is 1), YAML nodes, bytes
 * of one scalar. */
#define TRMX_MANIFEST_SIZE_MAX (1u * 1024u * 1024u)
#define TRMX_MANIFEST_DEPTH_MAX 16
#define TRMX_MANIFEST_NODES_MAX 65536
#define TRMX_MANIFEST_SCALAR_MAX (64u * 1024u)
/* manifest.yaml fields: name and identifiers, version, description, one author, a URL, list
 * and map lengths. */
#define TRMX_MANIFEST_NAME_MAX 64
#define TRMX_MANIFEST_VERSION_MAX 128
#define TRMX_MANIFEST_DESCRIPTION_MAX 4096
#define TRMX_MANIFEST_STRING_MAX 256
#define TRMX_MANIFEST_URL_MAX 2048
#define TRMX_MANIFEST_AUTHORS_MAX 64
#define TRMX_MANIFEST_METRICS_MAX 64
#define TRMX_MANIFEST_EXAMPLES_MAX 1024

/* ---- Registry, log and host (registry/, framework/log/, framework/host/; docs/REGISTRY.md) ---- */
/* A context name (a course item), an alias, a TARGET string, a learner id as given. */
#define TRMX_CONTEXT_NAME_MAX 256
#define TRMX_ALIAS_MAX 64
#define TRMX_TARGET_MAX 256
#define TRMX_LEARNER_ID_MAX 1024
/* A module's schema.sql and one of its migrations (bytes), and its numbered migrations. */
#define TRMX_MODULE_SQL_MAX (1u * 1024u * 1024u)
#define TRMX_MODULE_MIGRATIONS_MAX 1000
/* A module's SQL at install: virtual-machine instructions it may run (a recursive query that never
 * ends is stopped) and the size its database may reach. */
#define TRMX_MODULE_SQL_OPS_MAX 100000000L
#define TRMX_MODULE_DB_INSTALL_MAX (64u * 1024u * 1024u)
/* Inputs of one dispatch (trmx run --batch), a feedback comment, an expected answer. */
#define TRMX_DISPATCH_INPUTS_MAX 1000000
#define TRMX_FEEDBACK_TEXT_MAX (64u * 1024u)

/* ---- Module indexes (registry/index.c; docs/FORMAT.md, "Module indexes") ---- */
/* index.json's bytes, the packages it lists, the metrics of one entry; mirror URLs of one index
 * and the bytes of one URL. A package larger than TRMX_PACKAGE_FILE_MAX is refused before its
 * download starts. */
#define TRMX_INDEX_FILE_MAX (16u * 1024u * 1024u)
#define TRMX_INDEX_PACKAGES_MAX 65536
#define TRMX_INDEX_METRICS_MAX 16
#define TRMX_INDEX_MIRRORS_MAX 16
#define TRMX_INDEX_URL_MAX 2048

/* ---- Server (framework/serve; docs/LIMITS.md) ---- */
/* The bearer tokens file (trmx/tokens.h; not the "tokens" task codec above): its bytes (1,024
 * tokens of 64 contexts of 256 bytes take about 18 MB; trmx_tokens_add never writes more), tokens
 * in it, bytes of a token's name, context patterns of one token. */
#define TRMX_TOKENS_FILE_MAX (32u * 1024u * 1024u)
#define TRMX_TOKENS_MAX 1024
#define TRMX_TOKEN_NAME_MAX 64
#define TRMX_TOKEN_CONTEXTS_MAX 64
/* trmx serve: puzzles in one solve request, bytes of an uploaded package (POST
 * /v1/admin/install; JSON bodies have --max-body), a learner id, a request's deadline. */
#define TRMX_SERVE_PUZZLES_MAX 1024
#define TRMX_SERVE_UPLOAD_MAX (1ull << 30)
#define TRMX_SERVE_LEARNER_MAX 256
#define TRMX_SERVE_DEADLINE_MAX_MS 600000

/* trmx sql: a statement's default time limit (--timeout), the largest value (string or blob) it
 * may make, and the default heap the `trmx sql` process may use (--memory). */
#define TRMX_SQL_TIMEOUT_MS 30000
#define TRMX_SQL_VALUE_MAX (16 * 1024 * 1024)
#define TRMX_SQL_MEMORY_MB 512

#endif
