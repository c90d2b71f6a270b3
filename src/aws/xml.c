/* xml: expat turns an AWS response into a tree of elements (local names,
 * decoded text) that callers query by path. No I/O, no global state; every
 * size is capped (xml.h). */
#include "dbtrun/xml.h"

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parse {
    XML_Parser parser;
    struct dr_xml_node *root;
    struct dr_xml_node *open[DR_XML_DEPTH_MAX]; /* open elements, outermost first */
    struct dr_xml_node *last[DR_XML_DEPTH_MAX]; /* last child of open[i] */
    size_t depth;
    size_t nodes;
    const char *failure; /* why parsing was stopped, or NULL */
};

static void stop(struct parse *p, const char *why)
{
    if (!p->failure)
        p->failure = why;
    XML_StopParser(p->parser, XML_FALSE);
}

/* The part of a name after its namespace prefix. */
static const char *local_name(const XML_Char *name)
{
    const char *colon = strrchr(name, ':');
    return colon ? colon + 1 : name;
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    struct parse *p = ud;
    struct dr_xml_node *n;
    (void)attrs;
    if (p->failure)
        return;
    if (p->depth >= DR_XML_DEPTH_MAX) {
        stop(p, "XML nested too deeply");
        return;
    }
    if (p->nodes >= DR_XML_NODES_MAX) {
        stop(p, "XML has too many elements");
        return;
    }
    if (!(n = calloc(1, sizeof *n)) || !(n->name = strdup(local_name(name)))) {
        free(n);
        stop(p, "out of memory");
        return;
    }
    p->nodes++;
    if (p->depth == 0) {
        p->root = n;
    } else {
        struct dr_xml_node *parent = p->open[p->depth - 1];
        n->parent = parent;
        if (p->last[p->depth - 1])
            p->last[p->depth - 1]->next = n;
        else
            parent->children = n;
        p->last[p->depth - 1] = n;
    }
    p->open[p->depth] = n;
    p->last[p->depth] = NULL;
    p->depth++;
}

static void on_end(void *ud, const XML_Char *name)
{
    struct parse *p = ud;
    (void)name;
    if (p->failure || p->depth == 0)
        return;
    struct dr_xml_node *n = p->open[--p->depth];
    if (!n->text && !(n->text = calloc(1, 1)))
        stop(p, "out of memory");
}

/* Room text of length `len` has, NUL included: the next power of two, so
 * that no capacity field is needed. */
static size_t text_room(size_t len)
{
    size_t room = 16;
    while (room < len + 1)
        room *= 2;
    return room;
}

static void on_text(void *ud, const XML_Char *s, int n)
{
    struct parse *p = ud;
    if (p->failure || p->depth == 0 || n <= 0)
        return;
    struct dr_xml_node *node = p->open[p->depth - 1];
    size_t len = node->text_len + (size_t)n;
    if (len > DR_XML_INPUT_MAX) {
        stop(p, "XML text too large");
        return;
    }
    if (!node->text || text_room(len) > text_room(node->text_len)) {
        char *grown = realloc(node->text, text_room(len));
        if (!grown) {
            stop(p, "out of memory");
            return;
        }
        node->text = grown;
    }
    memcpy(node->text + node->text_len, s, (size_t)n);
    node->text_len = len;
    node->text[len] = '\0';
}

/* AWS never sends a DTD; refusing them rules out entity expansion attacks. */
static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                       int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    stop(ud, "XML with a DTD is refused");
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

int dr_xml_parse(const char *xml, size_t len, struct dr_xml_node **root, char *err, size_t errlen)
{
    struct parse p;
    char msg[160];
    int rc = -1;
    memset(&p, 0, sizeof p);
    *root = NULL;
    if (!xml || len > DR_XML_INPUT_MAX) {
        set_err(err, errlen, xml ? "XML document too large" : "no XML document");
        return -1;
    }
    if (!(p.parser = XML_ParserCreate(NULL))) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    XML_SetUserData(p.parser, &p);
    XML_SetElementHandler(p.parser, on_start, on_end);
    XML_SetCharacterDataHandler(p.parser, on_text);
    XML_SetStartDoctypeDeclHandler(p.parser, on_doctype);
    if (XML_Parse(p.parser, xml, (int)len, XML_TRUE) != XML_STATUS_OK || p.failure) {
        if (p.failure)
            snprintf(msg, sizeof msg, "%s", p.failure);
        else
            snprintf(msg, sizeof msg, "bad XML at line %lu: %s",
                     (unsigned long)XML_GetCurrentLineNumber(p.parser),
                     XML_ErrorString(XML_GetErrorCode(p.parser)));
        set_err(err, errlen, msg);
        goto out;
    }
    if (!p.root) {
        set_err(err, errlen, "XML has no element");
        goto out;
    }
    *root = p.root;
    p.root = NULL;
    rc = 0;
out:
    dr_xml_free(p.root);
    XML_ParserFree(p.parser);
    return rc;
}

void dr_xml_free(struct dr_xml_node *root)
{
    /* siblings iteratively (lists are long), children recursively (depth is capped) */
    while (root) {
        struct dr_xml_node *next = root->next;
        dr_xml_free(root->children);
        free(root->name);
        free(root->text);
        free(root);
        root = next;
    }
}

const struct dr_xml_node *dr_xml_child(const struct dr_xml_node *n, const char *name)
{
    for (const struct dr_xml_node *c = n ? n->children : NULL; c; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

const struct dr_xml_node *dr_xml_next(const struct dr_xml_node *n)
{
    for (const struct dr_xml_node *s = n ? n->next : NULL; s; s = s->next)
        if (strcmp(s->name, n->name) == 0)
            return s;
    return NULL;
}

const struct dr_xml_node *dr_xml_find(const struct dr_xml_node *n, const char *path)
{
    char step[256];
    while (n && path && *path) {
        const char *slash = strchr(path, '/');
        size_t len = slash ? (size_t)(slash - path) : strlen(path);
        if (len >= sizeof step)
            return NULL;
        memcpy(step, path, len);
        step[len] = '\0';
        if (len > 0) /* "a//b" and a trailing '/' skip the empty step */
            n = dr_xml_child(n, step);
        path = slash ? slash + 1 : NULL;
    }
    return n;
}

const struct dr_xml_node *dr_xml_descendant(const struct dr_xml_node *n, const char *name)
{
    for (const struct dr_xml_node *c = n ? n->children : NULL; c; c = c->next) {
        const struct dr_xml_node *found;
        if (strcmp(c->name, name) == 0)
            return c;
        if ((found = dr_xml_descendant(c, name)))
            return found;
    }
    return NULL;
}

const char *dr_xml_text(const struct dr_xml_node *n, const char *path)
{
    const struct dr_xml_node *found = dr_xml_find(n, path);
    return found ? found->text : NULL;
}
