/*
 * json.c - a small JSON writer: objects, arrays and scalars, pretty-printed
 * (two spaces per level) or on one line.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

void jw_init(jw_t *w, FILE *f, bool pretty)
{
    memset(w, 0, sizeof(*w));
    w->f = f;
    w->pretty = pretty;
}

static void jw_sep(jw_t *w, const char *key)
{
    if (w->depth > 0) {
        if (!w->first[w->depth])
            fputc(',', w->f);
        w->first[w->depth] = false;
        if (w->pretty) {
            fputc('\n', w->f);
            for (int i = 0; i < w->depth; i++)
                fputs("  ", w->f);
        }
    }
    if (key)
        fprintf(w->f, w->pretty ? "\"%s\": " : "\"%s\":", key);
}

static void jw_strval(jw_t *w, const char *s)
{
    fputc('"', w->f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(w->f, "\\%c", c);
        else if (c < 0x20)
            fprintf(w->f, "\\u%04x", (unsigned)c);
        else
            fputc(c, w->f);
    }
    fputc('"', w->f);
}

void jw_open(jw_t *w, const char *key, char bracket)
{
    jw_sep(w, key);
    fputc(bracket, w->f);
    if (w->depth < 15)
        w->depth++;
    w->first[w->depth] = true;
}

void jw_close(jw_t *w, char bracket)
{
    bool empty = w->first[w->depth];
    if (w->depth > 0)
        w->depth--;
    if (w->pretty && !empty) {
        fputc('\n', w->f);
        for (int i = 0; i < w->depth; i++)
            fputs("  ", w->f);
    }
    fputc(bracket, w->f);
    if (w->depth == 0)
        fputc('\n', w->f);
}

void jw_u64(jw_t *w, const char *key, uint64_t v)
{
    jw_sep(w, key);
    fprintf(w->f, "%" PRIu64, v);
}

void jw_bool(jw_t *w, const char *key, bool v)
{
    jw_sep(w, key);
    fputs(v ? "true" : "false", w->f);
}

void jw_str(jw_t *w, const char *key, const char *v)
{
    jw_sep(w, key);
    jw_strval(w, v);
}

void jw_num(jw_t *w, const char *key, double v)
{
    jw_sep(w, key);
    fprintf(w->f, "%.3f", v);
}

void jw_null(jw_t *w, const char *key)
{
    jw_sep(w, key);
    fputs("null", w->f);
}
