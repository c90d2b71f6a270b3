/* xml: a small reader for the XML that AWS answers with (S3, STS,
 * CloudFront, error bodies). Parses a whole document through expat into a
 * tree of elements with their text, matched by local name (namespaces and
 * prefixes ignored). Sizes and depth are capped; DTDs are refused. */
#ifndef DR_XML_H
#define DR_XML_H

#include <stddef.h>

#define DR_XML_INPUT_MAX (64u << 20) /* cap on a document, in bytes */
#define DR_XML_DEPTH_MAX 64          /* cap on element nesting */
#define DR_XML_NODES_MAX (1u << 20)  /* cap on the number of elements */

/* One element. Everything is owned by the tree and freed by dr_xml_free. */
struct dr_xml_node {
    char *name; /* local name: "Key" for <s3:Key> */
    char *text; /* character data directly inside (entities decoded, UTF-8,
                   whitespace kept), NUL-terminated; "" when none */
    size_t text_len;
    struct dr_xml_node *parent;
    struct dr_xml_node *children; /* first child element */
    struct dr_xml_node *next;     /* next sibling element */
};

/* Parses `len` bytes of `xml` into a tree whose root element goes to *root
 * (caller frees with dr_xml_free). 0, or -1 with *root NULL and a message
 * in err (may be NULL): malformed XML, a DTD, a cap exceeded, out of memory. */
int dr_xml_parse(const char *xml, size_t len, struct dr_xml_node **root, char *err, size_t errlen);

/* Frees a tree from dr_xml_parse; NULL is fine. */
void dr_xml_free(struct dr_xml_node *root);

/* The first child of `n` named `name`, or NULL (n may be NULL). */
const struct dr_xml_node *dr_xml_child(const struct dr_xml_node *n, const char *name);

/* The next sibling after `n` with the same name, or NULL: with dr_xml_child
 * it walks repeated elements such as ListObjectsV2's <Contents>. */
const struct dr_xml_node *dr_xml_next(const struct dr_xml_node *n);

/* Follows a '/'-separated path of child names from `n`
 * ("AssumeRoleResult/Credentials/AccessKeyId"), taking the first match at
 * each step; "" or NULL is `n` itself. NULL when a step is missing. */
const struct dr_xml_node *dr_xml_find(const struct dr_xml_node *n, const char *path);

/* The first element named `name` below `n` (depth first, document order;
 * `n` itself excluded), or NULL. */
const struct dr_xml_node *dr_xml_descendant(const struct dr_xml_node *n, const char *name);

/* The text of dr_xml_find(n, path), or NULL when it is missing. The string
 * belongs to the tree. */
const char *dr_xml_text(const struct dr_xml_node *n, const char *path);

#endif
