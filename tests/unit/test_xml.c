/* Unit tests for xml.c: AWS-shaped documents (S3 errors and listings, STS,
 * CloudFront), namespaces, entities and encodings, and the caps. */
#include "harness.h"

#include "dbtrun/xml.h"

#include <stdlib.h>

static struct dr_xml_node *parse(const char *xml)
{
    struct dr_xml_node *root = NULL;
    char err[200] = "";
    if (dr_xml_parse(xml, strlen(xml), &root, err, sizeof err) != 0)
        fprintf(stderr, "parse failed: %s\n", err);
    return root;
}

static void test_s3_error(void)
{
    struct dr_xml_node *root =
        parse("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>"
              "<Key>reports/a&amp;b &lt;1&gt;.csv</Key><RequestId>4442587FB7D0A2F9</RequestId>"
              "<HostId>eftixk72aD6Ap51TnqcoF8eFidJG9Z/2mkiDFu8yU9AS1ed4OpIszj7UDNEHGran</HostId>"
              "</Error>");
    CHECK(root != NULL);
    if (!root)
        return;
    CHECK_STR(root->name, "Error");
    CHECK_STR(dr_xml_text(root, "Code"), "NoSuchKey");
    CHECK_STR(dr_xml_text(root, "Message"), "The specified key does not exist.");
    CHECK_STR(dr_xml_text(root, "Key"), "reports/a&b <1>.csv");
    CHECK_STR(dr_xml_text(root, "RequestId"), "4442587FB7D0A2F9");
    CHECK(dr_xml_text(root, "Nope") == NULL);
    CHECK(dr_xml_find(root, "") == root);
    CHECK(dr_xml_find(root, NULL) == root);
    dr_xml_free(root);
}

static void test_sts_caller_identity(void)
{
    struct dr_xml_node *root =
        parse("<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
              "  <GetCallerIdentityResult>\n"
              "    <Arn>arn:aws:iam::123456789012:user/Alice</Arn>\n"
              "    <UserId>AKIAI44QH8DHBEXAMPLE</UserId>\n"
              "    <Account>123456789012</Account>\n"
              "  </GetCallerIdentityResult>\n"
              "  <ResponseMetadata>\n"
              "    <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>\n"
              "  </ResponseMetadata>\n"
              "</GetCallerIdentityResponse>\n");
    CHECK(root != NULL);
    if (!root)
        return;
    CHECK_STR(dr_xml_text(root, "GetCallerIdentityResult/Arn"),
              "arn:aws:iam::123456789012:user/Alice");
    CHECK_STR(dr_xml_text(root, "GetCallerIdentityResult/Account"), "123456789012");
    CHECK_STR(dr_xml_text(root, "ResponseMetadata/RequestId"),
              "01234567-89ab-cdef-0123-456789abcdef");
    const struct dr_xml_node *rid = dr_xml_descendant(root, "RequestId");
    CHECK(rid != NULL && strcmp(rid->parent->name, "ResponseMetadata") == 0);
    CHECK(dr_xml_text(root, "GetCallerIdentityResult/Nope") == NULL);
    CHECK(dr_xml_text(root, "Nope/Arn") == NULL);
    /* a step past a leaf, a doubled slash, a trailing slash */
    CHECK(dr_xml_text(root, "GetCallerIdentityResult/Arn/x") == NULL);
    CHECK_STR(dr_xml_text(root, "GetCallerIdentityResult//Account/"), "123456789012");
    dr_xml_free(root);
}

#define TOKEN                                                                                      \
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpS"  \
    "PfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/"                                                       \
    "kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7"                                     \
    "WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+"         \
    "scqKmlzm8F"                                                                                   \
    "DrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

static void test_sts_assume_role(void)
{
    struct dr_xml_node *root =
        parse("<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
              "<AssumeRoleResult><SourceIdentity>Alice</SourceIdentity>"
              "<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/demo/TestAR</Arn>"
              "<AssumedRoleId>ARO123EXAMPLE123:TestAR</AssumedRoleId></AssumedRoleUser>"
              "<Credentials><AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>"
              "<SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>"
              "<SessionToken>" TOKEN
              "</SessionToken><Expiration>2019-11-09T13:34:41Z</Expiration></Credentials>"
              "<PackedPolicySize>6</PackedPolicySize></AssumeRoleResult>"
              "<ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>"
              "</ResponseMetadata></AssumeRoleResponse>");
    CHECK(root != NULL);
    if (!root)
        return;
    CHECK_STR(dr_xml_text(root, "AssumeRoleResult/Credentials/AccessKeyId"),
              "ASIAIOSFODNN7EXAMPLE");
    CHECK_STR(dr_xml_text(root, "AssumeRoleResult/Credentials/SecretAccessKey"),
              "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
    CHECK_STR(dr_xml_text(root, "AssumeRoleResult/Credentials/Expiration"), "2019-11-09T13:34:41Z");
    const char *token = dr_xml_text(root, "AssumeRoleResult/Credentials/SessionToken");
    CHECK_STR(token, TOKEN);
    dr_xml_free(root);
}

static void test_list_objects_page(void)
{
    /* keys with entities, non-ASCII text (literal and as character
     * references), spaces that must survive, and interleaved prefixes */
    struct dr_xml_node *root =
        parse("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
              "<Name>dbt-artifacts</Name><Prefix>docs/</Prefix><KeyCount>3</KeyCount>"
              "<MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
              "<Contents><Key>docs/R&amp;D/index.html</Key>"
              "<LastModified>2024-05-01T10:00:00.000Z</LastModified>"
              "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>1024</Size>"
              "<StorageClass>STANDARD</StorageClass></Contents>"
              "<CommonPrefixes><Prefix>docs/assets/</Prefix></CommonPrefixes>"
              "<Contents><Key>docs/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.json</Key><Size>7</Size></"
              "Contents>"
              "<Contents><Key> lead &#x1F600;&#233; trail </Key><Size>0</Size></Contents>"
              "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</"
              "NextContinuationToken>"
              "</ListBucketResult>");
    static const char *const keys[] = {"docs/R&D/index.html",
                                       "docs/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.json",
                                       " lead \xf0\x9f\x98\x80\xc3\xa9 trail "};
    static const char *const sizes[] = {"1024", "7", "0"};
    size_t n = 0;
    CHECK(root != NULL);
    if (!root)
        return;
    for (const struct dr_xml_node *c = dr_xml_child(root, "Contents"); c; c = dr_xml_next(c)) {
        if (n < 3) {
            CHECK_STR(dr_xml_text(c, "Key"), keys[n]);
            CHECK_STR(dr_xml_text(c, "Size"), sizes[n]);
        }
        n++;
    }
    CHECK(n == 3);
    const struct dr_xml_node *first = dr_xml_child(root, "Contents");
    CHECK_STR(dr_xml_text(first, "ETag"), "\"9b2cf535f27731c974343645a3985328\"");
    CHECK(dr_xml_child(first, "Key")->text_len == strlen("docs/R&D/index.html"));
    CHECK_STR(dr_xml_text(root, "IsTruncated"), "true");
    CHECK_STR(dr_xml_text(root, "NextContinuationToken"),
              "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    CHECK_STR(dr_xml_text(root, "CommonPrefixes/Prefix"), "docs/assets/");
    CHECK(dr_xml_next(dr_xml_child(root, "CommonPrefixes")) == NULL);
    CHECK(dr_xml_child(NULL, "Contents") == NULL);
    CHECK(dr_xml_next(NULL) == NULL);
    dr_xml_free(root);
}

static void test_cloudfront_and_prefixes(void)
{
    struct dr_xml_node *root =
        parse("<?xml version=\"1.0\"?>\n"
              "<Invalidation xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\">"
              "<Id>I2J0I21PCUYOIK</Id><Status>InProgress</Status>"
              "<CreateTime>2024-05-01T10:00:00Z</CreateTime><InvalidationBatch><Paths>"
              "<Quantity>2</Quantity><Items><Path>/*</Path><Path>/index.html</Path></Items>"
              "</Paths><CallerReference>dbtrun-1714557600</CallerReference>"
              "</InvalidationBatch></Invalidation>");
    CHECK(root != NULL);
    if (root) {
        CHECK_STR(dr_xml_text(root, "Id"), "I2J0I21PCUYOIK");
        const struct dr_xml_node *p = dr_xml_find(root, "InvalidationBatch/Paths/Items/Path");
        CHECK_STR(p ? p->text : NULL, "/*");
        CHECK_STR(dr_xml_next(p) ? dr_xml_next(p)->text : NULL, "/index.html");
        CHECK(dr_xml_next(dr_xml_next(p)) == NULL);
    }
    dr_xml_free(root);

    /* prefixed names match by local name; CDATA is text */
    root = parse("<s3:Error xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                 "<s3:Code>AccessDenied</s3:Code><Message><![CDATA[a <b> & c]]></Message>"
                 "</s3:Error>");
    CHECK(root != NULL);
    if (root) {
        CHECK_STR(root->name, "Error");
        CHECK_STR(dr_xml_text(root, "Code"), "AccessDenied");
        CHECK_STR(dr_xml_text(root, "Message"), "a <b> & c");
    }
    dr_xml_free(root);
}

static void test_encoding_and_empty(void)
{
    struct dr_xml_node *root =
        parse("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a><b>caf\xe9</b><c/><d></d></a>");
    CHECK(root != NULL);
    if (!root)
        return;
    CHECK_STR(dr_xml_text(root, "b"), "caf\xc3\xa9"); /* converted to UTF-8 */
    CHECK_STR(dr_xml_text(root, "c"), "");
    CHECK_STR(dr_xml_text(root, "d"), "");
    CHECK(dr_xml_child(root, "c")->text_len == 0);
    dr_xml_free(root);
}

static void expect_failure(const char *xml, size_t len, const char *want)
{
    struct dr_xml_node *root = (struct dr_xml_node *)1;
    char err[200] = "";
    CHECK(dr_xml_parse(xml, len, &root, err, sizeof err) == -1);
    CHECK(root == NULL);
    if (!strstr(err, want)) {
        fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
        CHECK(0);
    }
}

static void test_failures(void)
{
    expect_failure("<a><b></a>", 10, "bad XML at line 1");
    expect_failure("", 0, "bad XML");
    expect_failure("just text", 9, "bad XML");
    expect_failure("<a/>trailing", 12, "bad XML");
    /* a DTD is refused before any entity is declared, let alone expanded */
    const char *laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
                         "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
                         "<lolz>&lol2;</lolz>";
    expect_failure(laughs, strlen(laughs), "DTD");
    expect_failure("<a/>", (size_t)DR_XML_INPUT_MAX + 1, "too large");

    /* depth: DR_XML_DEPTH_MAX levels parse, one more does not */
    char deep[2 * 8 * (DR_XML_DEPTH_MAX + 1) + 1];
    for (int levels = DR_XML_DEPTH_MAX; levels <= DR_XML_DEPTH_MAX + 1; levels++) {
        size_t n = 0;
        for (int i = 0; i < levels; i++)
            n += (size_t)sprintf(deep + n, "<e>");
        for (int i = 0; i < levels; i++)
            n += (size_t)sprintf(deep + n, "</e>");
        struct dr_xml_node *root = NULL;
        char err[200] = "";
        int rc = dr_xml_parse(deep, n, &root, err, sizeof err);
        CHECK(rc == (levels <= DR_XML_DEPTH_MAX ? 0 : -1));
        if (levels > DR_XML_DEPTH_MAX)
            CHECK(strstr(err, "deeply") != NULL);
        dr_xml_free(root);
    }
    /* err may be NULL */
    struct dr_xml_node *root = NULL;
    CHECK(dr_xml_parse("<a>", 3, &root, NULL, 0) == -1);
    CHECK(dr_xml_parse(NULL, 0, &root, NULL, 0) == -1);
}

static void test_many_elements(void)
{
    /* a 1000-key page: iteration order and count, and no quadratic cost */
    size_t cap = 1000 * 64 + 64, n = 0;
    char *xml = malloc(cap);
    CHECK(xml != NULL);
    if (!xml)
        return;
    n += (size_t)snprintf(xml + n, cap - n, "<ListBucketResult>");
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(xml + n, cap - n, "<Contents><Key>k%04d</Key></Contents>", i);
    n += (size_t)snprintf(xml + n, cap - n, "</ListBucketResult>");
    struct dr_xml_node *root = NULL;
    CHECK(dr_xml_parse(xml, n, &root, NULL, 0) == 0);
    int i = 0, in_order = 1;
    char want[16];
    for (const struct dr_xml_node *c = dr_xml_child(root, "Contents"); c; c = dr_xml_next(c)) {
        snprintf(want, sizeof want, "k%04d", i++);
        in_order &= strcmp(dr_xml_text(c, "Key"), want) == 0;
    }
    CHECK(i == 1000);
    CHECK(in_order);
    dr_xml_free(root);
    free(xml);
}

TEST_MAIN(test_s3_error, test_sts_caller_identity, test_sts_assume_role, test_list_objects_page,
          test_cloudfront_and_prefixes, test_encoding_and_empty, test_failures, test_many_elements)
