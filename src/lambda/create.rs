//! CreateFunction as real Lambda needs it: a role created seconds ago is not yet assumable
//! ("The role defined for the function cannot be assumed by Lambda"), so CreateFunction is
//! tried again with backoff for about two minutes, saying so once; a new function starts
//! Pending, so it is waited for until Active before anything invokes it. A function named
//! by its run that exists already is an earlier attempt's, used as it is once Active
//! (`create_or_adopt`).

use std::time::Duration;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::client::Waiters;
use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder;
use aws_sdk_lambda::types::State;
use tokio::time::Instant;

use super::aws_error::one_line;
use super::role::is_propagation_error;

/// How long each wait may last.
#[derive(Debug, Clone, Copy)]
pub struct CreateWaits {
    /// For a new role to become assumable.
    pub role_propagation: Duration,
    /// The first pause between CreateFunction attempts; it doubles up to ten times this.
    pub first_backoff: Duration,
    /// For the function to leave Pending.
    pub active: Duration,
}

impl Default for CreateWaits {
    fn default() -> Self {
        Self {
            role_propagation: Duration::from_secs(120),
            first_backoff: Duration::from_secs(1),
            active: Duration::from_secs(300),
        }
    }
}

/// Why a function could not be created and made Active; the run's message.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum CreateError {
    /// CreateFunction failed for a reason other than a role still propagating.
    #[error("CreateFunction failed: {0}")]
    Refused(String),
    #[error(
        "Lambda still cannot assume {role} after {waited_seconds} s: its trust policy may not let lambda.amazonaws.com assume it, or these credentials lack iam:PassRole on it"
    )]
    RoleNotAssumable { role: String, waited_seconds: u64 },
    #[error("the function did not become Active: {0}")]
    NotActive(String),
}

/// Creates the function and returns its ARN once it is Active; the error is the run's
/// message.
/// `notice` gets the lines worth showing in the run's log while waiting.
pub async fn create_function(
    control: &Client,
    request: CreateFunctionFluentBuilder,
    waits: CreateWaits,
    notice: &(dyn Fn(String) + Send + Sync),
) -> Result<Option<String>, CreateError> {
    let name = request.get_function_name().clone().unwrap_or_default();
    let role = request.get_role().clone().unwrap_or_default();
    let waiting_since = Instant::now();
    let mut delay = waits.first_backoff;
    let created = loop {
        let error = match request.clone().send().await {
            Ok(created) => break created,
            Err(error) => one_line(&error),
        };
        if !is_propagation_error(&error) {
            return Err(CreateError::Refused(error));
        }
        if waiting_since.elapsed() >= waits.role_propagation {
            return Err(CreateError::RoleNotAssumable {
                role,
                waited_seconds: waiting_since.elapsed().as_secs(),
            });
        }
        if delay == waits.first_backoff {
            notice(format!("waiting for the role {role} to propagate"));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(waits.first_backoff * 10);
    };
    if created.state() != Some(&State::Active) {
        wait_until_active(control, &name, created.state(), waits, notice).await?;
    }
    Ok(created.function_arn().map(str::to_string))
}

/// `create_function` for a function named by its run (`lambda-steps-{run id}`): when the
/// name is taken, an earlier attempt of the same run created it and stopped before its
/// Invoke (killed, or its lease lost), so nothing ran it; it is used as it is once Active.
pub async fn create_or_adopt(
    control: &Client,
    request: CreateFunctionFluentBuilder,
    waits: CreateWaits,
    notice: &(dyn Fn(String) + Send + Sync),
) -> Result<Option<String>, CreateError> {
    let name = request.get_function_name().clone().unwrap_or_default();
    match create_function(control, request, waits, notice).await {
        Err(CreateError::Refused(why)) if why.starts_with("ResourceConflictException") => {
            notice(format!(
                "function {name} exists: an earlier attempt of this run created it"
            ));
            adopt_existing(control, &name, waits, notice).await
        }
        created => created,
    }
}

/// The function of this name that an earlier attempt of the same run created (the name is
/// the run's) and stopped before invoking: used as it is, once Active, as a new one would
/// be. Its ARN. On AWS an attempt killed right after CreateFunction leaves it Pending.
async fn adopt_existing(
    control: &Client,
    name: &str,
    waits: CreateWaits,
    notice: &(dyn Fn(String) + Send + Sync),
) -> Result<Option<String>, CreateError> {
    let found = control
        .get_function()
        .function_name(name)
        .send()
        .await
        .map_err(|e| CreateError::NotActive(one_line(&e)))?;
    let configuration = found.configuration();
    let arn = configuration.and_then(|c| c.function_arn()).map(str::to_string);
    let state = configuration.and_then(|c| c.state());
    if state != Some(&State::Active) {
        wait_until_active(control, name, state, waits, notice).await?;
    }
    Ok(arn)
}

/// Waits for a function seen in `state` to become Active, saying so once.
async fn wait_until_active(
    control: &Client,
    name: &str,
    state: Option<&State>,
    waits: CreateWaits,
    notice: &(dyn Fn(String) + Send + Sync),
) -> Result<(), CreateError> {
    let state = state.map_or("unknown", |s| s.as_str());
    notice(format!("waiting for {name} to become Active (it is {state})"));
    control
        .wait_until_function_active_v2()
        .function_name(name)
        .wait(waits.active)
        .await
        .map_err(|e| CreateError::NotActive(DisplayErrorContext(&e).to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use parking_lot::Mutex;

    use aws_sdk_lambda::Client as Lambda;
    use aws_sdk_lambda::operation::create_function::{CreateFunctionError, CreateFunctionOutput};
    use aws_sdk_lambda::operation::get_function::GetFunctionOutput;
    use aws_sdk_lambda::types::FunctionConfiguration;
    use aws_sdk_lambda::types::error::{InvalidParameterValueException, ResourceConflictException};
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::lambda::mock::clients;

    fn not_assumable() -> CreateFunctionError {
        CreateFunctionError::InvalidParameterValueException(
            InvalidParameterValueException::builder()
                .message("The role defined for the function cannot be assumed by Lambda.")
                .build(),
        )
    }

    fn with_state(state: State) -> GetFunctionOutput {
        GetFunctionOutput::builder()
            .configuration(FunctionConfiguration::builder().function_name("f").state(state).build())
            .build()
    }

    async fn create(control: &Lambda, waits: CreateWaits) -> (Result<Option<String>, CreateError>, Vec<String>) {
        let notices = Mutex::new(Vec::new());
        let notice = |line: String| notices.lock().push(line);
        let request = control
            .create_function()
            .function_name("f")
            .role("arn:aws:iam::123456789012:role/new");
        let created = create_function(control, request, waits, &notice).await;
        (created, notices.into_inner())
    }

    #[tokio::test(start_paused = true)]
    async fn waits_out_role_propagation_then_a_pending_function() {
        let create_rule = mock!(Lambda::create_function)
            .sequence()
            .error(not_assumable)
            .times(2)
            .output(|| {
                CreateFunctionOutput::builder()
                    .function_arn("arn:aws:lambda:us-east-1:123456789012:function:f")
                    .state(State::Pending)
                    .build()
            })
            .build();
        let get_rule = mock!(Lambda::get_function)
            .sequence()
            .output(|| with_state(State::Pending))
            .output(|| with_state(State::Active))
            .build();
        let clients = clients(&[&create_rule, &get_rule]).await;
        let (created, notices) = create(&clients.control, CreateWaits::default()).await;
        assert_eq!(
            created,
            Ok(Some("arn:aws:lambda:us-east-1:123456789012:function:f".to_string()))
        );
        assert_eq!(create_rule.num_calls(), 3, "two refusals while the role propagated");
        assert_eq!(get_rule.num_calls(), 2, "Pending, then Active");
        assert_eq!(
            notices,
            [
                "waiting for the role arn:aws:iam::123456789012:role/new to propagate",
                "waiting for f to become Active (it is Pending)"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_role_that_never_becomes_assumable_names_the_likely_causes() {
        let create_rule = mock!(Lambda::create_function)
            .sequence()
            .error(not_assumable)
            .repeatedly()
            .build();
        let clients = clients(&[&create_rule]).await;
        let (created, notices) = create(&clients.control, CreateWaits::default()).await;
        let error = created.unwrap_err().to_string();
        assert!(
            error.contains("trust policy") && error.contains("iam:PassRole"),
            "{error}"
        );
        assert!(create_rule.num_calls() > 5, "tried for two minutes");
        assert_eq!(notices.len(), 1, "said once: {notices:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_function_that_fails_to_become_active_is_an_error() {
        let create_rule = mock!(Lambda::create_function)
            .then_output(|| CreateFunctionOutput::builder().state(State::Pending).build());
        let get_rule = mock!(Lambda::get_function).then_output(|| with_state(State::Failed));
        let clients = clients(&[&create_rule, &get_rule]).await;
        let (created, _) = create(&clients.control, CreateWaits::default()).await;
        assert!(
            created
                .unwrap_err()
                .to_string()
                .starts_with("the function did not become Active")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_function_an_earlier_attempt_left_pending_is_waited_for_then_used() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:f";
        let pending = move || {
            GetFunctionOutput::builder()
                .configuration(
                    FunctionConfiguration::builder()
                        .function_name("f")
                        .function_arn(arn)
                        .state(State::Pending)
                        .build(),
                )
                .build()
        };
        let create_rule = mock!(Lambda::create_function).then_error(|| {
            CreateFunctionError::ResourceConflictException(
                ResourceConflictException::builder()
                    .message("Function already exist: f")
                    .build(),
            )
        });
        let get_rule = mock!(Lambda::get_function)
            .sequence()
            .output(pending)
            .times(2)
            .output(|| with_state(State::Active))
            .build();
        let clients = clients(&[&create_rule, &get_rule]).await;
        let notices = Mutex::new(Vec::new());
        let notice = |line: String| notices.lock().push(line);
        let request = clients.control.create_function().function_name("f");
        let adopted = create_or_adopt(&clients.control, request, CreateWaits::default(), &notice).await;
        assert_eq!(adopted, Ok(Some(arn.to_string())));
        assert_eq!(get_rule.num_calls(), 3, "found Pending, then Pending, then Active");
        assert_eq!(
            notices.into_inner(),
            [
                "function f exists: an earlier attempt of this run created it",
                "waiting for f to become Active (it is Pending)"
            ]
        );
    }
}
