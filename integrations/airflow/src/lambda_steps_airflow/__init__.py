"""Apache Airflow provider for lambda-steps: a `lambda_steps` connection, the Invoke and
Custom Code operators, and the trigger their deferrable mode waits in."""

__version__ = "0.1.0"


def get_provider_info() -> dict:
    """What Airflow's ProvidersManager reads through the `apache_airflow_provider` entry point."""
    return {
        "package-name": "airflow-provider-lambda-steps",
        "name": "lambda-steps",
        "description": "Run AWS Lambda steps (invoke, custom code) through a lambda-steps service.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "lambda_steps",
                "hook-class-name": "lambda_steps_airflow.hooks.lambda_steps.LambdaStepsHook",
            }
        ],
        "integrations": [{"integration-name": "lambda-steps", "tags": ["service"]}],
        "hooks": [{"integration-name": "lambda-steps", "python-modules": ["lambda_steps_airflow.hooks.lambda_steps"]}],
        "operators": [
            {"integration-name": "lambda-steps", "python-modules": ["lambda_steps_airflow.operators.lambda_steps"]}
        ],
        "triggers": [
            {"integration-name": "lambda-steps", "python-modules": ["lambda_steps_airflow.triggers.lambda_steps"]}
        ],
    }
