-- snowflake_contacts: the seed's configuration, line for line. Production
-- artifacts and docs go to S3 behind CloudFront; the warehouse credentials
-- come from Secrets Manager (the seed's aws-secretsmanager-get-secrets with
-- parse-json-secrets), the private key is written to a 0600 file, and
-- ci/profiles.yml is the seed's profile. Override any value for one run with
-- --set KEY=VALUE or DBTRUN_<KEY> (the tests point these at moto).
config {
  artifacts  = "s3://your-org-dbt-artifacts/artifacts/",
  docs       = "s3://your-org-dbt-artifacts/docs/",
  cloudfront = "YOUR_DISTRIBUTION_ID",
  -- GitHub Actions: AWS_ROLE_ARN in the job's env (the seed's OIDC role);
  -- a laptop adds profile = "data-engineer"
  aws = { region = "eu-west-1" },
  secrets     = { "SNOWFLAKE, dbt/snowflake-credentials" },
  private_key = "SNOWFLAKE_PRIVATE_KEY",
  profile     = "ci/profiles.yml",
  targets     = { ci = "ci", prod = "prod" },
  ci          = { schema = "CI_PR_{pr}" },
}
