/*
 * layout_dump.c - the shared layout as this build compiled it.
 *
 *   layout_dump             one line per struct and per field: name, offset
 *                           and size as compiled (offsetof, sizeof)
 *   layout_dump --check     check that the compiled layout is its tables'
 *                           (src/shm_layout.h): every field at its stated
 *                           offset, the fields tiling each struct with no
 *                           gap or overlap up to its stated size, and every
 *                           64-bit field at a multiple of 8
 *   layout_dump --version   the build's pointer width
 *
 * The rows come from the tables in src/shm_layout.h, so no field is missed.
 * The test mixed_layout_x64_x86 (tests/mixed/pair.sh --layout) compares the
 * dump of a 64-bit build with that of its 32-bit sibling: they must be the
 * same, line for line. The static asserts of shm_layout.h check the same
 * at compile time; this checks the programs that were built.
 */
#include <stdio.h>
#include <string.h>

#include "shm_layout.h"

typedef struct {
    const char *name;
    size_t offset; /* as compiled */
    size_t size;   /* as compiled: the whole field (array) */
    size_t stated; /* the table's offset */
    size_t width;  /* bytes of one element */
} row_t;

typedef struct {
    const char *name;
    size_t size;   /* as compiled */
    size_t stated; /* the table's size */
    const row_t *rows;
    size_t count;
} layout_t;

#define ROW(T, field, type, off)                                                                   \
    {#field, offsetof(T, field), sizeof(((T *)0)->field), (off), sizeof(XSHM_LAYOUT_TYPE(type))},
#define ROW_ARRAY(T, field, type, n, off) ROW(T, field, type, off)
#define ROWS(T, TABLE, size) static const row_t rows_##T[] = {TABLE(T, ROW, ROW_ARRAY)};
XSHM_LAYOUT_STRUCTS(ROWS)
#define STRUCT(T, TABLE, size)                                                                     \
    {#T, sizeof(T), (size), rows_##T, sizeof rows_##T / sizeof rows_##T[0]},
static const layout_t layouts[] = {XSHM_LAYOUT_STRUCTS(STRUCT)};
#define LAYOUT_COUNT (sizeof layouts / sizeof layouts[0])

static void dump(void)
{
    printf("layout version %u magic 0x%08X\n", (unsigned)SHM_LAYOUT_VERSION,
           (unsigned)SHM_SEG_MAGIC);
    for (size_t s = 0; s < LAYOUT_COUNT; s++) {
        const layout_t *l = &layouts[s];
        printf("%s size %u\n", l->name, (unsigned)l->size);
        for (size_t i = 0; i < l->count; i++)
            printf("%s.%s offset %u size %u\n", l->name, l->rows[i].name,
                   (unsigned)l->rows[i].offset, (unsigned)l->rows[i].size);
    }
}

static int check(void)
{
    int problems = 0;
    size_t fields = 0;
    for (size_t s = 0; s < LAYOUT_COUNT; s++) {
        const layout_t *l = &layouts[s];
        int before = problems;
        size_t end = 0;
        for (size_t i = 0; i < l->count; i++) {
            const row_t *r = &l->rows[i];
            fields++;
            if (r->offset != r->stated) {
                printf("  problem: %s.%s at offset %u, its table says %u\n", l->name, r->name,
                       (unsigned)r->offset, (unsigned)r->stated);
                problems++;
            }
            if (r->offset != end) {
                printf("  problem: %s.%s at offset %u, the field before ends at %u\n", l->name,
                       r->name, (unsigned)r->offset, (unsigned)end);
                problems++;
            }
            if (r->width == 8 && r->offset % 8 != 0) {
                printf("  problem: %s.%s: 64-bit field at offset %u\n", l->name, r->name,
                       (unsigned)r->offset);
                problems++;
            }
            end = r->offset + r->size;
        }
        if (end != l->size || l->size != l->stated) {
            printf("  problem: %s: fields end at %u, sizeof is %u, its table says %u\n", l->name,
                   (unsigned)end, (unsigned)l->size, (unsigned)l->stated);
            problems++;
        }
        printf("  %-22s %2u fields, sizeof %3u: %s\n", l->name, (unsigned)l->count,
               (unsigned)l->size,
               problems == before ? "every offset as stated, no implicit padding" : "DIFFERS");
    }
    printf("%u shared structs, %u fields, %d problems (%u-bit build)\n", (unsigned)LAYOUT_COUNT,
           (unsigned)fields, problems, (unsigned)(sizeof(void *) * 8));
    return problems ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 1) {
        dump();
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--check") == 0)
        return check();
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("layout_dump %u-bit\n", (unsigned)(sizeof(void *) * 8));
        return 0;
    }
    fprintf(stderr, "usage: layout_dump [--check | --version]\n");
    return 2;
}
