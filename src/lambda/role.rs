//! The execution role of custom-code functions on AWS or an AWS-like endpoint, when neither
//! the step nor the settings name one: `lambda-steps-execution`, found, or created with
//! Lambda's trust policy and AWSLambdaBasicExecutionRole. A new role takes seconds to become
//! assumable, so CreateFunction waits for it (see lambda/create.rs).

use aws_sdk_iam::error::DisplayErrorContext;

pub const ROLE_NAME: &str = "lambda-steps-execution";
const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const BASIC_EXECUTION: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";

/// Why no role could be had.
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    /// The endpoint serves no IAM at all (a Lambda-only endpoint, which takes any role).
    #[error("IAM did not answer")]
    NoIam,
    /// IAM answered with an error: what was asked and what it said.
    #[error("{0}")]
    Failed(String),
}

/// The role's ARN, and whether this call created it.
pub async fn find_or_create(iam: &aws_sdk_iam::Client) -> Result<(String, bool), RoleError> {
    let failed = |what: &str, e: &dyn std::error::Error| {
        RoleError::Failed(format!("{what} {ROLE_NAME}: {}", DisplayErrorContext(e)))
    };
    match iam.get_role().role_name(ROLE_NAME).send().await {
        Ok(found) => {
            return found
                .role()
                .map(|r| (r.arn().to_string(), false))
                .ok_or_else(|| RoleError::Failed("GetRole answered no role".into()));
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) => {}
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => return Err(RoleError::NoIam),
        Err(e) => return Err(failed("GetRole", &e)),
    }
    let created = iam
        .create_role()
        .role_name(ROLE_NAME)
        .assume_role_policy_document(TRUST_POLICY)
        .description("Execution role of lambda-steps custom-code functions")
        .send()
        .await;
    let arn = match created {
        Ok(created) => created
            .role()
            .map(|r| r.arn().to_string())
            .ok_or_else(|| RoleError::Failed("CreateRole answered no role".into()))?,
        // Another replica created it in between.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_entity_already_exists_exception()) =>
        {
            return Box::pin(find_or_create(iam)).await;
        }
        Err(e) => return Err(failed("CreateRole", &e)),
    };
    iam.attach_role_policy()
        .role_name(ROLE_NAME)
        .policy_arn(BASIC_EXECUTION)
        .send()
        .await
        .map_err(|e| failed("AttachRolePolicy", &e))?;
    Ok((arn, true))
}

/// Lambda's answer while a new role is not yet assumable.
pub fn is_propagation_error(message: &str) -> bool {
    message.contains("cannot be assumed by Lambda") || message.contains("role defined for the function")
}

#[cfg(test)]
mod tests {
    #[test]
    fn recognises_the_role_propagation_message() {
        assert!(super::is_propagation_error(
            "InvalidParameterValueException: The role defined for the function cannot be assumed by Lambda."
        ));
        assert!(!super::is_propagation_error(
            "ResourceConflictException: Function already exist"
        ));
    }
}
