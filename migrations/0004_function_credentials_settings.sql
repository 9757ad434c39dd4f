-- Issue 13: what user code on the embedded engine gets for its own AWS calls.
-- project.aws.function_credentials (role | none) and project.aws.function_endpoint_url.
ALTER TABLE project_settings DROP CONSTRAINT project_settings_key_check;
ALTER TABLE project_settings ADD CONSTRAINT project_settings_key_check CHECK (key IN (
    'project.aws.access_key', 'project.aws.secret_key_path', 'project.aws.region',
    'project.aws.endpoint_url', 'project.aws.assume_role_arn', 'project.aws.external_id',
    'project.aws.lambda_role_arn', 'project.aws.function_credentials',
    'project.aws.function_endpoint_url'));
ALTER TABLE project_settings ADD CONSTRAINT project_settings_function_credentials_check
    CHECK (key <> 'project.aws.function_credentials' OR value IN ('role', 'none'));
