"""The DAG tests/it/clients/airflow.rs kills mid-run (SIGTERM to `airflow tasks test`): the
operator's on_kill must cancel the run."""

import pendulum
from airflow.sdk import DAG
from lambda_steps_airflow.operators.lambda_steps import LambdaStepsCustomCodeOperator

SLOW = """
import time

def lambda_handler(event, context):
    print('started, sleeping', flush=True)
    time.sleep(60)
    return 'woke up'
"""

with DAG("lambda_steps_kill_it", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False):
    LambdaStepsCustomCodeOperator(task_id="slow", runtime="python3.12", code=SLOW, timeout_seconds=90)
