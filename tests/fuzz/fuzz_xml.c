/* The XML reader (src/aws/xml.c) on any bytes, then the lookups AWS
 * responses go through. */
#include "dbtrun/xml.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dr_xml_node *root = NULL;
    char err[256];
    if (dr_xml_parse((const char *)data, size, &root, err, sizeof err) != 0)
        return 0;
    (void)dr_xml_text(root, "Error/Code");
    (void)dr_xml_text(root, "Code");
    for (const struct dr_xml_node *c = dr_xml_child(root, "Contents"); c; c = dr_xml_next(c))
        (void)dr_xml_text(c, "Key");
    (void)dr_xml_descendant(root, "Message");
    (void)dr_xml_find(root, "a/b/c");
    dr_xml_free(root);
    return 0;
}
